"""Slack questions through the journal: acknowledged at once and never lost — not to a Redis outage, not to
a delivery again, not to the process that took them stopping.

Real Bolt over HTTP with signed requests, the Web API stand-in, the real engine on a redis-server of the
test's own (stopped and started again) or the shared one.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from redis.asyncio import Redis

from adapters.slack.adapter import SlackAdapter
from adapters.slack.errors import FAILED
from adapters.slack.settings import SlackSettings
from bot.answerers.facts import FactAnswerer
from bot.app.services import Services
from bot.app.settings import STOP_GRACE_S
from bot.engine import Engine, StoreInfo
from bot.store import journal as journal_module
from bot.store.journal import Journal
from bot.store.journal_keys import alive_key, journal_key, seen_key
from bot.store.memory import RedisState
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.delayed_answerer import DelayedAnswerer
from tests.redis_server import RedisServer
from tests.slack_standin import SIGNING_SECRET, SignedPoster, SlackApiStandIn, direct_message


@dataclass
class Process:
    adapter: SlackAdapter
    post: SignedPoster
    answerer: DelayedAnswerer


Start = Callable[..., Awaitable[Process]]  # (redis_url, name, stop_grace_s=STOP_GRACE_S)


@pytest.fixture
async def api() -> AsyncIterator[SlackApiStandIn]:
    stand_in = SlackApiStandIn()
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


@pytest.fixture
async def start(api: SlackApiStandIn, built_store: VersionStore,
                embedder: SentenceTransformerEmbedder) -> AsyncIterator[Start]:
    """`await start(redis_url, name)`: a serving "process" (adapter, engine, journal named `name`) on Redis."""
    running: list[tuple[Process, Redis]] = []

    async def start_one(redis_url: str, name: str, stop_grace_s: float = STOP_GRACE_S) -> Process:
        redis = Redis.from_url(redis_url, socket_connect_timeout=0.5)
        handle = IndexHandle(built_store)
        handle.refresh()
        answerer = DelayedAnswerer(FactAnswerer(HybridRetriever(handle, embedder)), delay=0)
        engine = Engine(RedisState(redis, 10, 3600, 100, 600), answerer, StoreInfo("Test Shop", "Hello!"))
        adapter = SlackAdapter(SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                                             api_base_url=api.api_url, http_port=0, placeholder_after_s=5),
                               stop_grace_s)
        await adapter.start(Services(engine, journal=Journal(redis, name, 600)))
        process = Process(adapter, SignedPoster(f"http://127.0.0.1:{adapter.port}/slack/events"), answerer)
        running.append((process, redis))
        return process

    yield start_one
    for process, redis in running:
        await process.post.close()
        await process.adapter.stop()
        await redis.aclose()


def _ts() -> str:
    return f"{time.time():.0f}.{random.randrange(10**5, 10**6)}"


def _answers(api: SlackApiStandIn, channel: str) -> list[str]:
    return [str(p["text"]) for p in api.called("chat.postMessage", lambda p: p["channel"] == channel)]


async def test_a_question_asked_while_redis_is_down_is_answered_once_it_is_back(
    own_redis: RedisServer, start: Start, api: SlackApiStandIn,
) -> None:
    process = await start(own_redis.url, "outage")
    channel, ts = f"D{random.randrange(10**8)}", _ts()
    await own_redis.stop()
    status, _, seconds = await process.post.event(direct_message(channel, "UBOB", "how much does delivery cost?", ts))
    assert status == 200 and seconds < 2  # acknowledged: Slack's few retries would all meet the outage
    await asyncio.sleep(1)
    assert not _answers(api, channel)  # no apology: it is not lost
    await own_redis.start()
    await api.wait_for("chat.postMessage", lambda p: p["channel"] == channel, within=15)
    status, _, _ = await process.post.event(direct_message(channel, "UBOB", "how much does delivery cost?", ts),
                                            extra_headers={"X-Slack-Retry-Num": "1"})
    await asyncio.sleep(0.5)
    [answer] = _answers(api, channel)  # the delivery again is dropped
    assert status == 200 and answer.startswith("Shipping is free") and answer != FAILED


async def test_questions_to_two_processes_are_answered_in_the_order_asked(
    redis_url: str, start: Start, api: SlackApiStandIn,
) -> None:
    """Slack acknowledges at once, so a shopper's next question can reach the other process while the first
    is still being answered: it waits its turn instead of overtaking."""
    one = await start(redis_url, f"one{random.randrange(10**6)}")
    two = await start(redis_url, f"two{random.randrange(10**6)}")
    one.answerer.delay = 0.5
    channel = f"D{random.randrange(10**8)}"
    redis = Redis.from_url(redis_url)
    try:
        for process, question in ((one, "how much does delivery cost?"), (two, "can I pay with paypal?")):
            ts = _ts()
            status, _, _ = await process.post.event(direct_message(channel, "UBOB", question, ts))
            assert status == 200
            assert await redis.exists(seen_key("slack", channel, f"{channel}:{ts}"))  # taken before acknowledged
    finally:
        await redis.aclose()
    await api.wait_for("chat.postMessage", lambda p: p["channel"] == channel, count=2, within=10)
    first, second = _answers(api, channel)
    assert first.startswith("Shipping is free") and "PayPal" in second


async def test_a_stopped_process_s_question_is_answered_by_the_other(
    redis_url: str, start: Start, api: SlackApiStandIn, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first process takes the question and stops before answering it (its answer never comes); the other
    one adopts its journal and answers — once."""
    platform_journal = f"stopping{random.randrange(10**6)}"
    one = await start(redis_url, platform_journal, stop_grace_s=0)  # stopped before its answer: no grace given
    _two = await start(redis_url, f"other{random.randrange(10**6)}")
    one.answerer.delay = 60
    monkeypatch.setattr(journal_module, "ADOPT_AFTER_S", 0.0)  # no grace after connecting: adopt at once
    channel = f"D{random.randrange(10**8)}"
    status, _, _ = await one.post.event(direct_message(channel, "UBOB", "how much does delivery cost?", _ts()))
    assert status == 200
    await asyncio.sleep(0.3)  # taken, and being answered
    await one.adapter.stop()  # the process goes, and its answering with it; the question stays in its journal
    for task in asyncio.all_tasks():
        if task.get_coro().__qualname__ == "Engine.handle":  # type: ignore[union-attr]
            task.cancel()
    [answer] = await api.wait_for("chat.postMessage", lambda p: p["channel"] == channel, within=15)
    await asyncio.sleep(0.5)
    assert str(answer["text"]).startswith("Shipping is free") and len(_answers(api, channel)) == 1


async def test_a_process_stopping_answers_what_it_has_in_hand_before_it_leaves(
    redis_url: str, start: Start, api: SlackApiStandIn,
) -> None:
    """SIGTERM (a deploy): the process takes no new event, answers the question it is answering and marks it
    done, and only then stops saying it is alive — so no other process adopts and answers it again."""
    name = f"leaving{random.randrange(10**6)}"
    one = await start(redis_url, name)
    one.answerer.delay = 1.0
    channel = f"D{random.randrange(10**8)}"
    status, _, _ = await one.post.event(direct_message(channel, "UBOB", "how much does delivery cost?", _ts()))
    assert status == 200
    await asyncio.sleep(0.2)  # taken, and being answered
    stopping = asyncio.create_task(one.adapter.stop())
    redis = Redis.from_url(redis_url)
    try:
        await asyncio.sleep(0.3)
        with pytest.raises(aiohttp.ClientConnectionError):  # the port is closed: Slack retries the other process
            await one.post.event(direct_message(channel, "UBOB", "can I pay with paypal?", _ts()))
        assert await redis.exists(alive_key(name)) and not _answers(api, channel)  # still answering, still alive
        await asyncio.wait_for(stopping, 10)
        [answer] = _answers(api, channel)
        assert answer.startswith("Shipping is free")
        assert not await redis.exists(journal_key("slack", name), alive_key(name))  # done, and gone
    finally:
        await redis.aclose()


async def test_an_event_whose_ts_is_not_a_number_is_still_answered(
    redis_url: str, start: Start, api: SlackApiStandIn,
) -> None:
    """Slack never sends one, but a validly signed body may: it is taken in (first in its conversation's order)
    and answered, not a 500."""
    process = await start(redis_url, f"odd{random.randrange(10**6)}")
    channel = f"D{random.randrange(10**8)}"
    for ts in ("not-a-ts", "nan"):
        status, _, _ = await process.post.event(direct_message(channel, "UBOB", "how much does delivery cost?", ts))
        assert status == 200
    await api.wait_for("chat.postMessage", lambda p: p["channel"] == channel, count=2, within=10)
