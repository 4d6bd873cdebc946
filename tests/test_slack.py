"""slack-bolt's AsyncApp over HTTP with signed requests, a local Web API stand-in, the engine on real Redis."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis.asyncio import Redis

from adapters.slack.adapter import SlackAdapter
from adapters.slack.questions import THINKING
from adapters.slack.settings import SlackSettings
from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.settings import TelegramSettings
from bot.answerers.facts import FactAnswerer
from bot.app.services import Services
from bot.engine import Engine, StoreInfo
from bot.messages import OPS_REFUSED as REFUSED
from bot.ops.desk import OpsDesk, OpsPolicy
from bot.ops.kb import AUDIT_STREAM, KnowledgeOps, audit_entries
from bot.ops.reload import follow_reloads
from bot.store.feedback import FEEDBACK_STREAM, FeedbackStore
from bot.store.journal import Journal
from bot.store.memory import RedisState
from bot.tasks import cancel_and_wait
from bot.types import Answerer
from knowledge.index.builder import BuildOptions
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.conftest import write_tree
from tests.delayed_answerer import DelayedAnswerer
from tests.slack_standin import (
    SIGNING_SECRET,
    SignedPoster,
    SlackApiStandIn,
    action_body,
    command_body,
    direct_message,
    event_body,
    mention,
    signed_headers,
)
from tests.telegram_standin import BotApiStandIn, text_update

GIFT_CARDS = "id,question,answer\ngift_cards,Do you sell gift cards?,Yes: digital gift cards from €10 to €500.\n"


@dataclass
class Rig:
    api: SlackApiStandIn
    post: SignedPoster
    answerer: DelayedAnswerer
    state: RedisState
    redis: Redis
    store: VersionStore
    source: Path
    handle: IndexHandle
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def _following(redis_url: str, handle: IndexHandle) -> asyncio.Task[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(follow_reloads(Redis.from_url(redis_url), handle, ready))
    await ready.wait()
    return task


OPS = OpsPolicy(frozenset({"UOPS"}))


def _engine(redis: Redis, handle: IndexHandle, embedder: SentenceTransformerEmbedder,
            answerer: Answerer | None = None, ops: KnowledgeOps | None = None,
            policy: OpsPolicy = OPS) -> Engine:
    answerer = answerer or FactAnswerer(HybridRetriever(handle, embedder))
    return Engine(RedisState(redis, 10, 3600, 100, 600), answerer, StoreInfo("Test Shop", "Hello!"),
                  FeedbackStore(redis), ops=OpsDesk(ops, None, policy) if ops is not None else None)


@pytest.fixture
async def slack(built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder, redis_url: str,
                tmp_path: Path) -> AsyncIterator[Rig]:
    api = SlackApiStandIn()
    await api.start()
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    answerer = DelayedAnswerer(FactAnswerer(HybridRetriever(handle, embedder)))
    ops = KnowledgeOps(built_store, tiny_source, lambda: embedder, tmp_path / "cache.sqlite",
                       BuildOptions(faq_threshold=0.5), redis, handle, progress_every_s=0.05)
    engine = _engine(redis, handle, embedder, answerer, ops)
    follower = await _following(redis_url, handle)
    adapter = SlackAdapter(SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                                         api_base_url=api.api_url, http_port=0, placeholder_after_s=0.3))
    await adapter.start(Services(engine, journal=Journal(redis, f"test-{random.randrange(10**9)}", 600)))
    rig = Rig(api, SignedPoster(f"http://127.0.0.1:{adapter.port}/slack/events"), answerer,
              RedisState(redis, 10, 3600, 100, 600), redis, built_store, tiny_source, handle, [follower])
    try:
        yield rig
    finally:
        await adapter.stop()
        await cancel_and_wait(*rig.tasks)
        await rig.post.close()
        await api.stop()
        await redis.aclose()


def _fresh(prefix: str) -> str:
    """Channel ids and message timestamps unique per run: deliveries are deduplicated in Redis for minutes."""
    return f"{prefix}{random.randrange(10**8, 10**9)}"


def _ts() -> str:
    return f"{time.time():.0f}.{random.randrange(10**5, 10**6)}"


def _answer_text(params: dict[str, object]) -> str:
    blocks = params["blocks"]
    assert isinstance(blocks, list)
    return " ".join(b["text"]["text"] for b in blocks if b["type"] == "section")


async def test_mention_is_answered_in_its_thread_with_sources_and_buttons(slack: Rig) -> None:
    channel, ts = _fresh("C"), _ts()
    status, _, _ = await slack.post.event(mention(channel, "UALICE", "how much does delivery cost?", ts))
    assert status == 200
    [posted] = await slack.api.wait_for("chat.postMessage", lambda p: p["channel"] == channel)
    assert posted["thread_ts"] == ts
    assert _answer_text(posted).startswith("Shipping is free over €60")
    kinds = [b["type"] for b in posted["blocks"]]
    assert kinds[-2:] == ["context", "actions"]
    assert "Sources:" in posted["blocks"][-2]["elements"][0]["text"]
    history = await slack.state.load("slack", f"{channel}:{ts}")
    assert [t.role for t in history] == ["shopper", "bot"] and history[0].text == "how much does delivery cost?"


async def test_direct_message_is_answered_in_the_dm(slack: Rig) -> None:
    channel = _fresh("D")
    await slack.post.event(direct_message(channel, "UBOB", "can I pay with paypal?", _ts()))
    [posted] = await slack.api.wait_for("chat.postMessage", lambda p: p["channel"] == channel)
    assert posted.get("thread_ts") is None
    assert "PayPal" in _answer_text(posted)


async def test_a_follow_up_in_the_thread_uses_its_memory(slack: Rig) -> None:
    channel, ts = _fresh("C"), _ts()
    await slack.post.event(mention(channel, "UALICE", "can I return an item?", ts))
    await slack.api.wait_for("chat.postMessage", lambda p: p["channel"] == channel)
    await slack.post.event(mention(channel, "UALICE", "/sources", _ts(), thread_ts=ts))
    [_, sources] = await slack.api.wait_for("chat.postMessage", lambda p: p["channel"] == channel, count=2)
    assert sources["thread_ts"] == ts
    assert "Sources of my last answer" in _answer_text(sources) and "return" in _answer_text(sources).lower()
    # A mention elsewhere in the channel is another conversation, with no memory of the first.
    await slack.post.event(mention(channel, "UALICE", "/sources", _ts()))
    [*_, other] = await slack.api.wait_for("chat.postMessage", lambda p: p["channel"] == channel, count=3)
    assert "Sources of my last answer" not in _answer_text(other)


@pytest.mark.parametrize("headers", [
    pytest.param(lambda body: {"Content-Type": "application/json"}, id="unsigned"),
    pytest.param(lambda body: signed_headers(body, secret="not-the-secret"), id="forged"),
    pytest.param(lambda body: signed_headers(body, timestamp=int(time.time()) - 6 * 60), id="stale"),
])
async def test_unsigned_forged_or_stale_requests_are_refused(slack: Rig, headers: object) -> None:
    channel, ts = _fresh("C"), _ts()
    body = event_body(mention(channel, "UMALLORY", "how much does delivery cost?", ts))
    status, _, _ = await slack.post.post(body, headers(body))  # type: ignore[operator]
    assert status == 401
    await asyncio.sleep(0.5)
    assert not slack.api.called("chat.postMessage", lambda p: p["channel"] == channel)
    assert await slack.state.load("slack", f"{channel}:{ts}") == ()  # never reached the engine


async def test_retries_and_duplicate_event_ids_are_answered_once(slack: Rig) -> None:
    channel, ts = _fresh("C"), _ts()
    event = mention(channel, "UALICE", "which payment methods do you accept?", ts)
    first = await slack.post.event(event, event_id="EvSAME")
    retry = await slack.post.event(event, event_id="EvSAME", extra_headers={"X-Slack-Retry-Num": "1",
                                                                            "X-Slack-Retry-Reason": "http_timeout"})
    duplicate = await slack.post.event(event, event_id="EvSAME")
    assert [first[0], retry[0], duplicate[0]] == [200, 200, 200]
    await slack.api.wait_for("chat.postMessage", lambda p: p["channel"] == channel)
    await asyncio.sleep(0.8)
    assert len(slack.api.called("chat.postMessage", lambda p: p["channel"] == channel)) == 1
    assert len(await slack.state.load("slack", f"{channel}:{ts}")) == 2


async def test_ack_comes_at_once_and_a_slow_answer_replaces_its_placeholder(slack: Rig) -> None:
    slack.answerer.delay = 1.5
    channel, ts = _fresh("C"), _ts()
    status, _, seconds = await slack.post.event(mention(channel, "UALICE", "how much does delivery cost?", ts))
    assert status == 200 and seconds < 0.5  # acknowledged long before the answer exists
    assert not slack.api.called("chat.postMessage", lambda p: p["channel"] == channel)
    [placeholder] = await slack.api.wait_for("chat.postMessage", lambda p: p["channel"] == channel)
    assert placeholder["text"] == THINKING and placeholder["thread_ts"] == ts
    [update] = await slack.api.wait_for("chat.update", lambda p: p["channel"] == channel)
    assert _answer_text(update).startswith("Shipping is free over €60")
    assert len(slack.api.called("chat.postMessage", lambda p: p["channel"] == channel)) == 1  # updated in place


async def test_feedback_buttons_are_stored_like_telegrams(slack: Rig) -> None:
    channel, ts = _fresh("C"), _ts()
    await slack.post.event(mention(channel, "UALICE", "can I return an item?", ts))
    [posted] = await slack.api.wait_for("chat.postMessage", lambda p: p["channel"] == channel)
    up = posted["blocks"][-1]["elements"][0]
    before = await slack.redis.xlen(FEEDBACK_STREAM)
    url = slack.api.response_url()
    status, _, _ = await slack.post.form(action_body(up["action_id"], up["value"], "UALICE", channel, url))
    assert status == 200
    reply = await slack.api.wait_for_response(lambda r: r.get("response_type") == "ephemeral" and "Thank" in r["text"])
    assert reply["replace_original"] is False
    [(_, entry)] = await slack.redis.xrevrange(FEEDBACK_STREAM, count=1)
    assert await slack.redis.xlen(FEEDBACK_STREAM) == before + 1
    assert entry[b"platform"] == b"slack" and entry[b"rating"] == b"up"
    assert entry[b"question"] == b"can I return an item?" and entry[b"conversation"] == f"{channel}:{ts}".encode()


async def test_slash_ask_answers_privately_and_status_shows_the_live_version(slack: Rig) -> None:
    url = slack.api.response_url()
    status, ack, _ = await slack.post.form(command_body("ask do u take apple pay?", "UBOB", _fresh("C"), url))
    assert status == 200 and "Looking up" in ack
    answer = await slack.api.wait_for_response(lambda r: "blocks" in r and "PayPal" in str(r["blocks"]))
    assert answer["response_type"] == "ephemeral"
    _, status_text, _ = await slack.post.form(command_body("kb status", "UBOB", _fresh("C"), slack.api.response_url()))
    assert f"Live version {slack.store.current()}" in status_text
    _, usage, _ = await slack.post.form(command_body("dance", "UBOB", _fresh("C"), slack.api.response_url()))
    assert "Usage:" in usage and "kb reload" in usage


async def test_reload_is_refused_to_non_ops_and_logged(slack: Rig) -> None:
    before = slack.store.current()
    status, text, _ = await slack.post.form(command_body("kb reload", "UEVE", _fresh("C"), slack.api.response_url()))
    assert status == 200 and REFUSED in text
    _, rollback, _ = await slack.post.form(command_body("kb rollback", "UEVE", _fresh("C"), slack.api.response_url()))
    assert REFUSED in rollback
    assert slack.store.current() == before
    [*_, reload_attempt, rollback_attempt] = audit_entries(await slack.redis.xrange(AUDIT_STREAM))
    assert reload_attempt | {"at": ""} == {"at": "", "platform": "slack", "user": "UEVE", "action": "kb reload",
                                           "allowed": "0"}
    assert rollback_attempt["action"] == "kb rollback" and rollback_attempt["allowed"] == "0"


async def test_ops_reload_reports_progress_and_result_and_every_process_switches(
    slack: Rig, embedder: SentenceTransformerEmbedder, redis_url: str,
) -> None:
    # A Telegram-side process: its own engine and index handle, following reloads through Redis.
    telegram_api = BotApiStandIn()
    await telegram_api.start()
    telegram_handle = IndexHandle(VersionStore(slack.store.root))
    telegram_handle.refresh()
    slack.tasks.append(await _following(redis_url, telegram_handle))
    telegram = TelegramAdapter(TelegramSettings(bot_token="123:TEST", api_base_url=telegram_api.base_url))
    await telegram.start(_engine(slack.redis, telegram_handle, embedder))
    try:
        old = slack.store.current()
        write_tree(slack.source, {"faq/gift.csv": GIFT_CARDS})
        channel = _fresh("C")
        status, ack, _ = await slack.post.form(command_body("kb reload", "UOPS", channel, slack.api.response_url()))
        assert status == 200 and "Reload started" in ack
        [result] = await slack.api.wait_for("chat.update", lambda p: p["channel"] == channel
                                            and "Reloaded in" in _answer_text(p))
        new = slack.store.current()
        assert new != old and f"version {new} is live" in _answer_text(result)
        assert "added faq/gift.csv" in _answer_text(result)
        [started] = slack.api.called("chat.postMessage", lambda p: p["channel"] == channel)
        assert "starting" in _answer_text(started) and "<@UOPS>" in str(started["blocks"][0])
        assert audit_entries(await slack.redis.xrange(AUDIT_STREAM))[-1]["allowed"] == "1"
        for _ in range(100):
            if slack.handle.version == new and telegram_handle.version == new:
                break
            await asyncio.sleep(0.05)
        assert slack.handle.version == new and telegram_handle.version == new
        chat = random.randrange(10**6, 10**7)
        telegram_api.push_update(text_update(random.randrange(10**6, 10**9), chat, "do you sell gift cards?"))
        sent = await asyncio.wait_for(telegram_api.sent.get(), 10)
        assert str(sent["text"]).startswith("Yes: digital gift cards")
    finally:
        await telegram.stop()
        await telegram_api.stop()


async def test_reload_with_a_corrupt_faq_names_file_and_line_and_the_old_version_keeps_serving(slack: Rig) -> None:
    old = slack.store.current()
    write_tree(slack.source, {"faq/broken.csv": "id,question,answer\nok_row,Is this fine?,Yes.\nbad_row,,\n"})
    channel = _fresh("C")
    await slack.post.form(command_body("kb reload", "UOPS", channel, slack.api.response_url()))
    [result] = await slack.api.wait_for("chat.update", lambda p: p["channel"] == channel
                                        and "Reload failed" in _answer_text(p))
    text = _answer_text(result)
    assert "faq/broken.csv:3" in text and f"The old version keeps serving: {old}" in text
    assert slack.store.current() == old and slack.handle.version == old
    dm = _fresh("D")
    await slack.post.event(direct_message(dm, "UBOB", "how much does delivery cost?", _ts()))
    [posted] = await slack.api.wait_for("chat.postMessage", lambda p: p["channel"] == dm)
    assert _answer_text(posted).startswith("Shipping is free over €60")


async def test_reload_progress_falls_back_to_the_response_url_outside_the_bots_channels(slack: Rig) -> None:
    slack.api.fail["chat.postMessage"] = "not_in_channel"
    url = slack.api.response_url()
    await slack.post.form(command_body("kb reload", "UOPS", _fresh("C"), url))
    result = await slack.api.wait_for_response(lambda r: "Reloaded in" in str(r.get("text")))
    assert result["response_type"] == "in_channel"


async def test_ops_can_roll_back_and_processes_follow(slack: Rig, tiny_source: Path) -> None:
    first = slack.store.current()
    write_tree(tiny_source, {"faq/gift.csv": GIFT_CARDS})
    channel = _fresh("C")
    await slack.post.form(command_body("kb reload", "UOPS", channel, slack.api.response_url()))
    await slack.api.wait_for("chat.update", lambda p: p["channel"] == channel and "Reloaded in" in _answer_text(p))
    url = slack.api.response_url()
    await slack.post.form(command_body("kb rollback", "UOPS", channel, url))
    result = await slack.api.wait_for_response(lambda r: "Rolled back" in str(r.get("text")))
    assert f"version {first} is live" in result["text"]
    for _ in range(100):
        if slack.handle.version == first:
            break
        await asyncio.sleep(0.05)
    assert slack.handle.version == first


async def test_socket_mode_receives_events_and_acks_them(
    built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder, redis_url: str,
    tmp_path: Path,
) -> None:
    api = SlackApiStandIn()
    await api.start()
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    ops = KnowledgeOps(built_store, tiny_source, lambda: embedder, tmp_path / "cache.sqlite", BuildOptions(), redis,
                       handle)
    adapter = SlackAdapter(SlackSettings(bot_token="xoxb-test", app_token="xapp-test", api_base_url=api.api_url))
    await adapter.start(Services(_engine(redis, handle, embedder, ops=ops)))
    try:
        assert api.called("apps.connections.open")
        channel, ts = _fresh("C"), _ts()
        payload = json.loads(event_body(mention(channel, "UALICE", "how much does delivery cost?", ts)))
        envelope = await api.send_envelope("events_api", payload)
        [posted] = await api.wait_for("chat.postMessage", lambda p: p["channel"] == channel)
        assert posted["thread_ts"] == ts and _answer_text(posted).startswith("Shipping is free over €60")
        assert envelope in api.socket_acks
    finally:
        await adapter.stop()
        await api.stop()
        await redis.aclose()


async def test_members_of_the_ops_user_group_may_roll_back(slack: Rig, embedder: SentenceTransformerEmbedder,
                                                           tmp_path: Path) -> None:
    slack.api.usergroups["SOPS"] = ["UGROUPMEMBER"]
    adapter = SlackAdapter(SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                                         api_base_url=slack.api.api_url, http_port=0))
    ops = KnowledgeOps(slack.store, slack.source, lambda: embedder, tmp_path / "cache.sqlite", BuildOptions(),
                       slack.redis, slack.handle)
    await adapter.start(Services(_engine(slack.redis, slack.handle, embedder, ops=ops,
                                         policy=OpsPolicy(usergroup="SOPS"))))
    post = SignedPoster(f"http://127.0.0.1:{adapter.port}/slack/events")
    try:
        _, refused, _ = await post.form(command_body("kb rollback", "UOUTSIDER", _fresh("C"), slack.api.response_url()))
        assert REFUSED in refused
        _, allowed, _ = await post.form(command_body("kb rollback", "UGROUPMEMBER", _fresh("C"),
                                                     slack.api.response_url()))
        assert "Rolling back" in allowed  # a member of the group: allowed (one version only, so it is refused)
        result = await slack.api.wait_for_response(lambda r: "Rollback refused" in str(r.get("text")))
        assert result["response_type"] == "in_channel"
        assert slack.api.called("usergroups.users.list", lambda p: p.get("usergroup") == "SOPS")
    finally:
        await post.close()
        await adapter.stop()
