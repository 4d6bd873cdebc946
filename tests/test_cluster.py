"""Redis Cluster (and REDIS_URL's other forms): a conversation's keys share one slot, so its scripts and
transactions run on a cluster; what spans conversations is kept beside them. The cluster is real: three masters
(REDIS_CLUSTER_URL from scripts/test.sh, or one the session starts)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import ClusterCrossSlotError, RedisClusterException

from bot import messages
from bot.app.settings import SettingsError, load_settings
from bot.engine import Engine, StoreInfo
from bot.events import Resolve
from bot.handoff.desk import open_key
from bot.ops.kb import KnowledgeOps
from bot.ops.reload import RELOAD_CHANNEL, follow_reloads
from bot.outbound import ReplyTo
from bot.store import scripts
from bot.store.connect import connect, parse_redis_url, without_password
from bot.store.memory import RedisState
from bot.store.outbox import Delivery, Outbox, outbox_stream
from bot.store.redis_keys import RedisClient
from bot.tasks import cancel_and_wait
from bot.types import Reply
from knowledge.index.builder import BuildOptions
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.versions import VersionStore
from tests.conftest import MakeTestBot, write_tree
from tests.redis_server import LocalCluster, on_redis
from tests.test_reload import GIFT_CARDS
from tests.test_state_trips import EchoAnswerer, _msg


def _slot(key: str) -> int:
    return int(key_slot(key.encode()))


@pytest.mark.parametrize("conversation", ["42", "C0123:1700000000.000100", "a{x}b", "a}b", "{", "}{", "a{}b}"])
def test_every_key_of_a_script_is_in_the_conversations_slot(conversation: str) -> None:
    memory = RedisState.memory_key("telegram", conversation)
    assert memory == f"storebot:mem:telegram:{conversation}" or "}" in conversation  # unchanged for real ids
    for key in (RedisState.lock_key("telegram", conversation), RedisState.dedupe_key("telegram", conversation, "9")):
        assert _slot(key) == _slot(memory)
    stream = outbox_stream("telegram")
    assert _slot(f"{{{stream}}}:queued:{conversation}") == _slot(stream)


def test_redis_url_forms_and_a_clear_error_naming_the_setting() -> None:
    cluster = parse_redis_url("redis+cluster://10.0.0.1:7000,10.0.0.2:7001")
    assert cluster.kind == "cluster" and cluster.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    sentinel = parse_redis_url("rediss+sentinel://:s3cret@sentinel-a:26379,sentinel-b:26379/shop/2")
    assert (sentinel.kind, sentinel.service, sentinel.db, sentinel.password, sentinel.tls) == (
        "sentinel", "shop", 2, "s3cret", True)
    assert parse_redis_url("unix:///run/redis.sock?db=1").kind == "single"
    for bad in ("redis+cluster://10.0.0.1", "redis+sentinel://:s3cret@a:1", "redis+cluster://a:1/3", "http://a"):
        with pytest.raises(SettingsError, match="REDIS_URL") as raised:
            load_settings(redis_url=bad)
        assert "s3cret" not in str(raised.value)


def test_a_redis_url_is_shown_without_its_password() -> None:
    assert without_password("redis://shop:s3cret@db:6379/0") == "redis://shop:***@db:6379/0"
    assert without_password("redis+cluster://:s3cret@a:7000,b:7001") == "redis+cluster://:***@a:7000,b:7001"
    assert without_password("redis://db:6379/0") == "redis://db:6379/0"


@on_redis("cluster")
async def test_the_previous_key_layout_would_be_refused_by_the_cluster(redis: RedisClient) -> None:
    """Why the keys moved: the lock under its old name is in another slot than the memory."""
    old_lock, memory = "storebot:lock:telegram:42", RedisState.memory_key("telegram", "42")
    assert _slot(old_lock) != _slot(memory)
    with pytest.raises((RedisClusterException, ClusterCrossSlotError), match=r"same (key )?slot"):
        await redis.eval(scripts.ADMIT, 2, old_lock, memory, "token", 1000, 60)


@on_redis("cluster")
async def test_a_whole_conversation_on_the_cluster(redis: RedisClient, make_testbot: MakeTestBot) -> None:
    assert isinstance(redis, RedisCluster)
    bot = await make_testbot(handoff_to="slack")
    first = f"update-{uuid.uuid4().hex[:8]}"
    await bot.push("how much does shipping cost?", first)  # dedupe, lock, memory; beside: rate, handoff pointer
    await bot.push("how much does shipping cost?", first)  # delivered again
    assert bot.pop().text.startswith("Shipping is free") and bot.replies.popleft() is None
    assert (await bot.ask("/human")).text.startswith(messages.HANDOFF_OPENED)
    handoff = await redis.get(open_key(bot.platform, bot.conversation))
    assert handoff is not None
    await bot.push("are you there?")  # relayed to staff under the lock, no reply
    bot.pop_none()
    closed = await bot.engine.handle(Resolve("slack", "USTAFF", handoff.decode()))
    assert closed is not None and not await redis.exists(open_key(bot.platform, bot.conversation))

    outbox = bot.running.services.outbox
    assert outbox is not None
    await outbox.queue_reply(bot.platform, bot.conversation, Reply("sent later"))  # MULTI: count and entry
    assert await outbox.has_queued(bot.platform, bot.conversation)
    got: list[Delivery] = []

    async def deliver(delivery: Delivery) -> None:
        got.append(delivery)

    consumer = asyncio.create_task(Outbox(redis, block_ms=50).consume(bot.platform, "test", deliver))
    try:
        for _ in range(200):
            if not await outbox.has_queued(bot.platform, bot.conversation):
                break
            await asyncio.sleep(0.02)
    finally:
        await cancel_and_wait(consumer)
    assert ReplyTo(bot.conversation, Reply("sent later")) in [d.event for d in got]
    assert not await outbox.has_queued(bot.platform, bot.conversation)

    forgetting = await make_testbot(rate_limit_per_minute=100)
    forgetting.conversation, forgetting.user = bot.conversation, bot.user
    assert (await forgetting.ask("/forget")).text == messages.FORGOTTEN
    assert await forgetting.memory() == ()
    assert [k async for k in redis.scan_iter(match=f"*{bot.user}*")] == []  # rate counts deleted by name


@on_redis("cluster")
async def test_scripts_are_loaded_again_on_every_node_after_script_flush(redis: RedisClient) -> None:
    engine = Engine(RedisState(redis, 10, 600, 100, 600), EchoAnswerer(), StoreInfo("Shop", "Hi"))
    conversations = [uuid.uuid4().hex[:8] for _ in range(12)]  # spread over the three masters
    for conversation in conversations:
        assert await engine.handle(_msg(conversation, "hello")) is not None
    await redis.script_flush()  # every primary
    for conversation in conversations:
        reply = await engine.handle(_msg(conversation, "still there?"))
        assert reply is not None and reply.text == "answer to still there?"


@on_redis("cluster")
async def test_a_crashed_holder_blocks_only_until_its_lock_times_out(redis: RedisClient) -> None:
    engine = Engine(RedisState(redis, 10, 600, 100, 600), EchoAnswerer(), StoreInfo("Shop", "Hi"))
    conversation = uuid.uuid4().hex[:8]
    await redis.set(RedisState.lock_key("trips", conversation), "a crashed process", px=300)
    started = time.monotonic()
    assert await engine.handle(_msg(conversation, "anyone?")) is not None
    assert 0.2 < time.monotonic() - started < 5


async def test_a_count_queued_before_the_upgrade_is_still_honoured(redis: RedisClient) -> None:
    """An answer queued by the previous version counted under the count's old name: later answers still wait
    behind it, and delivering it brings that count down, not the new one below zero."""
    platform, conversation = f"test-{uuid.uuid4().hex[:8]}", "42"
    stream = outbox_stream(platform)
    outbox = Outbox(redis, block_ms=50)
    await redis.set(f"{stream}:queued:{conversation}", 1, ex=3600)  # as the previous version left it
    await outbox.put(platform, ReplyTo(conversation, Reply("queued before")))
    assert await outbox.has_queued(platform, conversation)
    await outbox.queue_reply(platform, conversation, Reply("queued after"))
    got: list[str] = []

    async def deliver(delivery: Delivery) -> None:
        assert isinstance(delivery.event, ReplyTo)
        got.append(delivery.event.reply.text)

    consumer = asyncio.create_task(outbox.consume(platform, "test", deliver))
    try:
        for _ in range(200):
            if len(got) == 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await cancel_and_wait(consumer)
    assert got == ["queued before", "queued after"] and not await outbox.has_queued(platform, conversation)
    assert int(await redis.get(f"{{{stream}}}:queued:{conversation}") or 0) == 0


async def test_after_a_cluster_node_restart_a_reload_still_reaches_the_process(
    built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder, tmp_path: Path,
) -> None:
    cluster = LocalCluster(tmp_path / "cluster")
    url = cluster.start()
    handle, ready = IndexHandle(VersionStore(built_store.root)), asyncio.Event()
    listening, shell = connect(url), connect(url)
    listener = asyncio.create_task(follow_reloads(listening, handle, ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        assert isinstance(shell, RedisCluster)
        await shell.initialize()
        channel_node = shell.get_node_from_key(RELOAD_CHANNEL)
        assert channel_node is not None
        cluster.stop_node(channel_node.port)  # the node the listener is subscribed at
        await asyncio.sleep(0.5)
        cluster.start_node(channel_node.port)  # same port and cluster identity, empty
        await asyncio.to_thread(cluster.wait_ok)
        async with Redis(port=channel_node.port) as node:  # subscribed again (the listener started over)
            for _ in range(300):
                if (await node.pubsub_numsub(RELOAD_CHANNEL))[0][1]:
                    break
                await asyncio.sleep(0.05)
        write_tree(tiny_source, {"faq/gift.csv": GIFT_CARDS})
        ops = KnowledgeOps(built_store, tiny_source, lambda: embedder, tmp_path / "cache.sqlite",
                           BuildOptions(faq_threshold=0.5), shell)
        result = await ops.reload()  # what `storebot kb reload` does
        assert result.ok and result.processes_told == 1
        for _ in range(200):
            if handle.version == result.version:
                break
            await asyncio.sleep(0.05)
        assert handle.version == result.version and not listener.done()
    finally:
        await cancel_and_wait(listener)
        for client in (listening, shell):
            await client.aclose()
        cluster.stop()

