"""A failure in any Slack listener never leaves the person in silence: Redis down, or no index yet.

Real Bolt over HTTP with signed requests, the Web API stand-in, the real engine. Bolt's global error
handler logs the failure once with the request's id and apologizes; Slack always gets a 200.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from adapters.slack.adapter import SlackAdapter
from adapters.slack.errors import FAILED
from adapters.slack.settings import SlackSettings
from bot.answerers.facts import FactAnswerer
from bot.app.services import Services
from bot.engine import Engine, StoreInfo
from bot.ops.desk import OpsDesk, OpsPolicy
from bot.ops.kb import KnowledgeOps
from bot.store.feedback import FeedbackStore
from bot.store.memory import RedisState
from knowledge.index.builder import BuildOptions
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
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

LOGGER = "adapters.slack.errors"


@dataclass
class Broken:
    api: SlackApiStandIn
    post: SignedPoster


Serve = Callable[[str], Awaitable[Broken]]


@pytest.fixture
async def redis_down() -> AsyncIterator[Redis]:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)  # nothing listens there
    yield client
    await client.aclose()


@pytest.fixture
async def serve(redis_down: Redis, redis_url: str, built_store: VersionStore, tiny_source: Path,
                embedder: SentenceTransformerEmbedder, tmp_path: Path) -> AsyncIterator[Serve]:
    """`await serve("redis")`: Redis unreachable; `await serve("index")`: real Redis, an empty KB_DATA_DIR."""
    started: list[tuple[SlackAdapter, SlackApiStandIn, SignedPoster, Redis]] = []

    async def start(broken: str) -> Broken:
        redis = redis_down if broken == "redis" else Redis.from_url(redis_url)
        store = built_store if broken == "redis" else VersionStore(tmp_path / "empty")
        handle = IndexHandle(store)
        handle.refresh()  # the empty store has no version: answering raises NoIndexError
        ops = KnowledgeOps(store, tiny_source, lambda: embedder, tmp_path / "cache.sqlite", BuildOptions(), redis,
                           handle)
        engine = Engine(RedisState(redis, 10, 3600, 100, 600), FactAnswerer(HybridRetriever(handle, embedder)),
                        StoreInfo("Test Shop", "Hello!"), FeedbackStore(redis), ops=OpsDesk(ops, None, OpsPolicy()))
        api = SlackApiStandIn()
        await api.start()
        adapter = SlackAdapter(SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                                             api_base_url=api.api_url, http_port=0, placeholder_after_s=0.3))
        await adapter.start(Services(engine))
        post = SignedPoster(f"http://127.0.0.1:{adapter.port}/slack/events")
        started.append((adapter, api, post, redis))
        return Broken(api, post)

    yield start
    for adapter, api, post, redis in started:
        await post.close()
        await adapter.stop()
        await api.stop()
        if redis is not redis_down:
            await redis.aclose()


def _fresh(prefix: str) -> str:
    return f"{prefix}{random.randrange(10**8, 10**9)}"


def _ts() -> str:
    return f"{time.time():.0f}.{random.randrange(10**5, 10**6)}"


def _logged(caplog: pytest.LogCaptureFixture, *parts: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR
            and all(part in r.getMessage() for part in parts)]


@pytest.mark.parametrize("broken", ["redis", "index"])
async def test_a_dm_gets_an_apology_and_the_error_is_logged_with_the_event_id(
    broken: str, serve: Serve, caplog: pytest.LogCaptureFixture,
) -> None:
    slack = await serve(broken)
    channel, event_id = _fresh("D"), f"Ev{random.randrange(10**9, 10**10)}"
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        status, _, seconds = await slack.post.event(direct_message(channel, "UBOB", "how much does delivery cost?",
                                                                   _ts()), event_id=event_id)
        assert status == 200 and seconds < 1  # acknowledged before the failure: Slack does not redeliver
        [apology] = await slack.api.wait_for("chat.postMessage", lambda p: p["channel"] == channel, within=4)
        await asyncio.sleep(0.2)
    assert apology["text"] == FAILED and apology.get("thread_ts") is None
    assert not slack.api.called("chat.update", lambda p: p["channel"] == channel)
    [record] = _logged(caplog, event_id)  # once
    assert "UBOB" in record.getMessage() and record.exc_info is not None


async def test_a_slow_failure_replaces_the_placeholder_in_the_mentions_thread(
    serve: Serve, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack = await serve("index")

    async def slow_failure(*_: object) -> None:
        await asyncio.sleep(0.6)  # past placeholder_after_s: "Thinking…" is shown first
        raise RuntimeError("the index went away")

    monkeypatch.setattr(Engine, "handle", slow_failure)
    channel, ts, event_id = _fresh("C"), _ts(), f"Ev{random.randrange(10**9, 10**10)}"
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        await slack.post.event(mention(channel, "UALICE", "how much does delivery cost?", ts), event_id=event_id)
        [update] = await slack.api.wait_for("chat.update", lambda p: p["channel"] == channel, within=4)
        await asyncio.sleep(0.2)
    assert update["text"] == FAILED
    [placeholder] = slack.api.called("chat.postMessage", lambda p: p["channel"] == channel)  # no second apology
    assert placeholder["thread_ts"] == ts and update["ts"] == placeholder["posted_ts"]
    assert len(_logged(caplog, event_id)) == 1


async def test_a_button_press_while_redis_is_down_is_acknowledged_and_apologized_for(
    serve: Serve, caplog: pytest.LogCaptureFixture,
) -> None:
    slack = await serve("redis")
    channel = _fresh("C")
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        status, _, seconds = await slack.post.form(action_body("storebot_up", f"{channel}:{_ts()}", "UALICE",
                                                               channel, slack.api.response_url()))
        assert status == 200 and seconds < 1  # not Bolt's 3 s wait and 404 when a listener fails right after ack
        reply = await slack.api.wait_for_response(lambda r: r.get("text") == FAILED, within=4)
        await asyncio.sleep(0.2)
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    [record] = _logged(caplog, "action storebot_up by UALICE")
    assert record.exc_info is not None


async def test_a_command_failing_before_its_ack_gets_a_200_with_the_apology(
    serve: Serve, caplog: pytest.LogCaptureFixture,
) -> None:
    slack = await serve("redis")  # `/storebot kb reload` audits in Redis before acknowledging
    channel = _fresh("C")
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        status, text, _ = await slack.post.form(command_body("kb reload", "UOPS", channel, slack.api.response_url()))
    assert status == 200 and FAILED in text and "ephemeral" in text
    assert len(_logged(caplog, "command /storebot 'kb' by UOPS")) == 1
    # After the ack: `ask` is answered through the response URL.
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        status, text, _ = await slack.post.form(command_body("ask do u take apple pay?", "UBOB", channel,
                                                             slack.api.response_url()))
        assert status == 200 and "Looking up" in text
        reply = await slack.api.wait_for_response(lambda r: r.get("text") == FAILED, within=4)
    assert reply["response_type"] == "ephemeral"
    assert len(_logged(caplog, "command /storebot 'ask' by UBOB")) == 1


async def test_a_forged_request_is_still_refused_and_nothing_is_sent(
    serve: Serve, caplog: pytest.LogCaptureFixture,
) -> None:
    slack = await serve("redis")
    channel = _fresh("D")
    body = event_body(direct_message(channel, "UMALLORY", "how much does delivery cost?", _ts()))
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        status, _, _ = await slack.post.post(body, signed_headers(body, secret="not-the-secret"))
        await asyncio.sleep(0.3)
    assert status == 401
    assert not [c for c in slack.api.calls if c[0] != "auth.test"]
    assert not slack.api.responses and not _logged(caplog)
