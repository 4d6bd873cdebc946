"""A reload announced over Redis reaches every running process; each swaps its live index."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.ops.kb import KnowledgeOps
from bot.ops.reload import CURRENT_KEY, RELOAD_CHANNEL, announce, follow_reloads
from bot.store.connect import connect
from bot.tasks import cancel_and_wait
from knowledge.index.builder import BuildOptions, build_version
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.conftest import write_tree
from tests.redis_server import RedisServer, on_redis

GIFT_CARDS = "id,question,answer\ngift_cards,Do you sell gift cards?,Yes: digital gift cards from €10 to €500.\n"


@on_redis("single", "cluster", "sentinel")
async def test_every_process_swaps_to_the_announced_version(
    built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder,
    embedding_cache: EmbeddingCache, redis_url: str,
) -> None:
    redis = connect(redis_url)
    handles = [IndexHandle(VersionStore(built_store.root)) for _ in range(2)]  # e.g. Telegram and Slack processes
    ready = [asyncio.Event() for _ in handles]
    clients = [connect(redis_url) for _ in handles]
    listeners = [asyncio.create_task(follow_reloads(c, h, r)) for c, h, r in zip(clients, handles, ready, strict=True)]
    try:
        await asyncio.gather(*(r.wait() for r in ready))
        old = built_store.current()
        assert all(h.version == old for h in handles)
        in_flight = handles[0].live
        write_tree(tiny_source, {"faq/gift.csv": "id,question,answer\ngift_cards,Do you sell gift cards?,"
                                                 "Yes: digital gift cards from €10 to €500.\n"})
        new = (await asyncio.to_thread(build_version, tiny_source, built_store, embedder, embedding_cache)).version
        assert await announce(redis, new) >= 2
        for _ in range(100):
            if all(h.version == new for h in handles):
                break
            await asyncio.sleep(0.05)
        assert all(h.version == new for h in handles)
        assert await redis.get(CURRENT_KEY) == new.encode()
        assert in_flight.manifest.version == old  # a question in flight keeps its version
        top = (await HybridRetriever(handles[1], embedder).asearch("can I buy a gift card?", 1))[0]
        assert top.metadata["faq_id"] == "gift_cards"
    finally:
        await cancel_and_wait(*listeners)
        for client in [redis, *clients]:
            await client.aclose()


async def _until(condition: Callable[[], bool], within: float = 8) -> None:
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met")


async def _listeners(redis: Redis) -> int:
    counts = await redis.pubsub_numsub(RELOAD_CHANNEL)
    return int(counts[0][1]) if counts else 0


async def test_after_a_redis_restart_a_reload_still_reaches_the_process(
    own_redis: RedisServer, built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    handle = IndexHandle(VersionStore(built_store.root))
    ready = asyncio.Event()
    listening, shell = Redis.from_url(own_redis.url), Redis.from_url(own_redis.url)
    listener = asyncio.create_task(follow_reloads(listening, handle, ready))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        await own_redis.stop()
        await asyncio.sleep(0.5)
        await own_redis.start()  # same port, empty
        for _ in range(200):  # subscribed again (by redis-py itself, or by starting the listener over)
            if await _listeners(shell):
                break
            await asyncio.sleep(0.05)
        write_tree(tiny_source, {"faq/gift.csv": GIFT_CARDS})
        ops = KnowledgeOps(built_store, tiny_source, lambda: embedder, tmp_path / "cache.sqlite",
                           BuildOptions(faq_threshold=0.5), shell)
        result = await ops.reload()  # what `storebot kb reload` does
        assert result.ok and result.processes_told == 1
        await _until(lambda: handle.version == result.version)
        assert not listener.done()
    finally:
        await cancel_and_wait(listener)
        for client in (listening, shell):
            await client.aclose()


async def test_a_reload_made_while_redis_was_down_is_picked_up_once_it_is_back(
    own_redis: RedisServer, built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder,
    embedding_cache: EmbeddingCache, caplog: pytest.LogCaptureFixture,
) -> None:
    handle = IndexHandle(VersionStore(built_store.root))
    ready = asyncio.Event()
    # No retries inside redis-py: the outage reaches the listener at once, as a long one does after its retries.
    listening = Redis.from_url(own_redis.url, retry=Retry(NoBackoff(), 0))
    listener = asyncio.create_task(follow_reloads(listening, handle, ready))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        old = handle.version
        with caplog.at_level(logging.DEBUG, logger="bot.tasks"):
            await own_redis.stop()
            write_tree(tiny_source, {"faq/gift.csv": GIFT_CARDS})
            # Built and made current on the shared disk; its announcement cannot reach anyone now.
            new = (await asyncio.to_thread(build_version, tiny_source, built_store, embedder, embedding_cache)).version
            await _until(lambda: sum("still failing" in r.getMessage() for r in caplog.records) >= 2)
            assert handle.version == old
            await own_redis.start()
            await _until(lambda: handle.version == new)
            await _until(lambda: any("working again" in r.getMessage() for r in caplog.records))
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "Redis unavailable" in warnings[0].getMessage()  # once per outage
        assert warnings[0].exc_info is None  # the error, not a traceback
        assert not listener.done()
    finally:
        await cancel_and_wait(listener)
        await listening.aclose()
