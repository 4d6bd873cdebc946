"""Operations: /healthz and Prometheus /metrics of a serving process (real Redis, real HTTP), and JSON logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.app.metrics import MeteredEngine, Metrics, OpsEndpoints, health_and_metrics, ops_server
from bot.app.settings import Settings, load_settings
from bot.app.wiring import running_engine
from bot.cli.main import MAX_LOG_MESSAGE, JsonFormatter
from bot.engine import StoreInfo
from bot.events import ButtonPress
from bot.outbound import StaffToShopper
from bot.store.memory import RedisState
from bot.store.outbox import DEAD_LETTERS, GROUP, Outbox, outbox_stream
from bot.types import IncomingMessage, Reply, Turn
from knowledge.index.versions import VersionStore
from tests.chat_standin import FINE_TUNED, serve_chat

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = "redis://127.0.0.1:1/0"


def value(exposition: str, name: str, default: float = 0.0, **labels: str) -> float:
    """One sample of a /metrics page (`default` when absent, as a labelled counter never incremented is)."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return default


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def kb_settings(redis_url: str, store: VersionStore, **overrides: object) -> Settings:
    return load_settings(**({"redis_url": redis_url, "kb_data_dir": store.root, "metrics_port": 0} | overrides))


@pytest.fixture
def platform() -> str:
    """A platform of the test's own: its counters and its outbox stream start from nothing."""
    return f"metrics-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def own_stream(redis: Redis, platform: str) -> AsyncIterator[str]:
    yield outbox_stream(platform)
    await redis.delete(outbox_stream(platform))


async def test_counters_histogram_and_health_of_a_serving_engine(
    redis_url: str, built_store: VersionStore, platform: str, own_stream: str, redis: Redis
) -> None:
    settings = kb_settings(redis_url, built_store)
    async with running_engine(settings) as running, \
            health_and_metrics(settings, running.metrics, [platform]) as url:
        assert url is not None and not url.endswith(":0")
        status, body = await get(f"{url}/healthz")
        assert status == 200
        assert json.loads(body) == {"status": "ok", "kb_version": running.handle.version, "redis": "ok"}

        user = f"u-{uuid.uuid4().hex[:8]}"
        answer = await running.engine.handle(IncomingMessage(platform, user, user, "how much does delivery cost?"))
        decline = await running.engine.handle(IncomingMessage(platform, user, user, "what is the capital of mongolia?"))
        help_ = await running.engine.handle(IncomingMessage(platform, user, user, "/help"))
        handoff = await running.engine.handle(ButtonPress(platform, user, user, "human"))  # no desk: recorded
        assert answer is not None and answer.confident and decline is not None and not decline.confident
        assert help_ is not None and handoff is not None and handoff.mode == "handoff"

        status, page = await get(f"{url}/metrics")
    assert status == 200
    assert value(page, "storebot_messages_total", platform=platform) == 3  # the button is not a message
    assert value(page, "storebot_answers_total", platform=platform, mode=answer.mode) == 2  # answer and decline
    assert value(page, "storebot_answers_total", platform=platform, mode=help_.mode) == 1
    assert value(page, "storebot_declines_total", platform=platform) == 1
    assert value(page, "storebot_handoffs_total", platform=platform) == 1
    assert value(page, "storebot_errors_total", platform=platform) == 0
    assert value(page, "storebot_answer_seconds_count", platform=platform) == 3
    assert value(page, "storebot_answer_seconds_sum", platform=platform) > 0
    assert value(page, "storebot_answer_seconds_bucket", platform=platform, le="+Inf") == 3
    assert value(page, "storebot_kb_version_info", version=str(running.handle.version)) == 1
    assert value(page, "storebot_outbox_backlog", default=math.nan, platform=platform) == 0  # nothing queued
    assert value(page, "storebot_outbox_dead_letters", default=math.nan) <= await redis.xlen(DEAD_LETTERS)
    # Extractive mode: the LLM figures are there, at 0.
    assert value(page, "storebot_llm_fallbacks_total", default=math.nan) == 0
    assert value(page, "storebot_llm_unsupported_answers_total", default=math.nan) == 0


async def test_outbox_backlog_counts_entries_not_yet_acknowledged(
    redis: Redis, redis_url: str, platform: str, own_stream: str
) -> None:
    endpoints = OpsEndpoints(Metrics(lambda: "v1"), redis, [platform])
    outbox = Outbox(redis)
    async with ops_server(endpoints, "127.0.0.1", 0) as url:
        async def backlog() -> float:
            status, page = await get(f"{url}/metrics")
            assert status == 200
            return value(page, "storebot_outbox_backlog", default=math.nan, platform=platform)

        assert await backlog() == 0  # no stream yet
        for n in range(3):
            await outbox.put(platform, StaffToShopper(f"conv-{n}", f"reply {n}"))
        assert await backlog() == 3  # no consumer group yet: every entry waits
        await redis.xgroup_create(own_stream, GROUP, id="0")
        [(_, [(first, _)])] = await redis.xreadgroup(GROUP, "test-consumer", {own_stream: ">"}, count=1)
        assert await backlog() == 3  # 2 not delivered + 1 delivered, not acknowledged
        await redis.xack(own_stream, GROUP, first)
        assert await backlog() == 2


async def test_healthz_is_503_when_redis_does_not_answer_or_no_version_is_live(redis: Redis, platform: str) -> None:
    unreachable = Redis.from_url(UNREACHABLE)
    try:
        async with ops_server(OpsEndpoints(Metrics(lambda: "v7"), unreachable, [platform]), "127.0.0.1", 0) as url:
            status, body = await get(f"{url}/healthz")
            assert status == 503
            health = json.loads(body)
            assert health["status"] == "unavailable" and health["kb_version"] == "v7"
            assert health["redis"] != "ok" and health["reason"].startswith("redis: ")
            status, page = await get(f"{url}/metrics")  # still served; the Redis figures are NaN
            assert status == 200 and math.isnan(value(page, "storebot_outbox_dead_letters"))
            assert math.isnan(value(page, "storebot_outbox_backlog", platform=platform))
    finally:
        await unreachable.aclose()
    async with ops_server(OpsEndpoints(Metrics(), redis, []), "127.0.0.1", 0) as url:  # Redis fine, no KB version
        status, body = await get(f"{url}/healthz")
        assert status == 503
        assert json.loads(body) == {"status": "unavailable", "kb_version": None, "redis": "ok",
                                    "reason": "no knowledge-base version is live"}


async def test_a_taken_port_is_logged_and_the_bot_serves_on(redis: Redis, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with ops_server(OpsEndpoints(Metrics(), redis, []), "127.0.0.1", port) as url:
            assert url is None
    assert any(r.levelno == logging.ERROR and f":{port}" in r.getMessage() for r in caplog.records)


async def test_metrics_port_minus_one_starts_no_server(redis_url: str) -> None:
    async with health_and_metrics(load_settings(redis_url=redis_url, metrics_port=-1), Metrics(), ["x"]) as url:
        assert url is None


class _Answers:
    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        return Reply("an answer")


async def test_a_raising_handle_counts_an_error_and_still_raises(platform: str) -> None:
    metrics = Metrics()
    broken = Redis.from_url(UNREACHABLE)
    engine = MeteredEngine(metrics, RedisState(broken, 10, 3600, 20, 600), _Answers(), StoreInfo("Shop", "Hi"))
    try:
        with pytest.raises(RedisError):
            await engine.handle(IncomingMessage(platform, "c1", "u1", "hello?"))
    finally:
        await broken.aclose()
    labels = {"platform": platform}
    assert metrics.registry.get_sample_value("storebot_errors_total", labels) == 1
    assert metrics.registry.get_sample_value("storebot_messages_total", labels) == 1
    assert metrics.registry.get_sample_value("storebot_answer_seconds_count", labels) == 1
    assert metrics.registry.get_sample_value("storebot_answers_total", labels | {"mode": "extractive"}) is None


async def test_llm_fallbacks_and_unsupported_answers_are_counted(
    redis_url: str, built_store: VersionStore, platform: str
) -> None:
    async with serve_chat() as served:
        settings = kb_settings(redis_url, built_store, answer_mode="llm", llm_model=FINE_TUNED, openai_api_key="test",
                               openai_base_url=str(served.client.base_url))
        async with running_engine(settings) as running:
            metrics = running.metrics

            async def ask(text: str) -> Reply:
                user = f"u-{uuid.uuid4().hex[:8]}"  # fresh conversations: no follow-up condensing
                reply = await running.engine.handle(IncomingMessage(platform, user, user, text))
                assert reply is not None
                return reply

            assert (await ask("delivery cost?")).mode == "llm"
            served.stand_in.content = "Shipping costs €9.99 [1]."  # a figure no passage holds
            assert (await ask("delivery cost?")).mode == "extractive"
            served.stand_in.mode = "error"
            assert (await ask("delivery cost?")).mode == "extractive"
    sample = metrics.registry.get_sample_value
    assert sample("storebot_llm_unsupported_answers_total") == 1
    assert sample("storebot_llm_fallbacks_total") == 2
    assert sample("storebot_answers_total", {"platform": platform, "mode": "llm"}) == 1
    assert sample("storebot_answers_total", {"platform": platform, "mode": "extractive"}) == 2


def test_json_log_lines_carry_the_fields_and_cap_the_message() -> None:
    formatter = JsonFormatter()
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("bot.engine", logging.ERROR, __file__, 1, "answer %s failed", ("e1",),
                                   sys.exc_info())
    long = logging.LogRecord("adapters.slack", logging.INFO, __file__, 2, "x" * 5000 + "\nend", None, None)
    first, second = (json.loads(formatter.format(r)) for r in (failed, long))
    assert first["level"] == "ERROR" and first["logger"] == "bot.engine" and first["message"] == "answer e1 failed"
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert first["exc_info"].startswith("Traceback") and "ValueError: boom" in first["exc_info"]
    assert "exc_info" not in second and len(second["message"]) < MAX_LOG_MESSAGE + 40
    assert second["message"].startswith("x" * MAX_LOG_MESSAGE) and "more characters" in second["message"]
    assert "\n" not in formatter.format(long)


async def test_serve_answers_healthz_and_metrics_and_logs_json(redis_url: str, built_store: VersionStore) -> None:
    """`storebot serve console` as a process: LOG_FORMAT=json on stderr, the server on a free port."""
    env = os.environ | {"REDIS_URL": redis_url, "KB_DATA_DIR": str(built_store.root), "METRICS_PORT": "0",
                        "LOG_FORMAT": "json", "HF_HUB_OFFLINE": "1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.main", "serve", "console", cwd=ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    logged: list[str] = []
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def read_log() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            logged.append(line := raw.decode().rstrip("\n"))
            if '"health and metrics on ' in line and not listening.done():
                listening.set_result(json.loads(line)["message"].split()[4].removesuffix("/healthz"))

    reader = asyncio.create_task(read_log())
    try:
        url = await asyncio.wait_for(listening, 120)
        assert (await get(f"{url}/healthz"))[0] == 200
        process.stdin.write(f"how much does delivery cost? {uuid.uuid4().hex[:4]}\n".encode())
        await process.stdin.drain()
        while b"bot>" not in await asyncio.wait_for(process.stdout.readline(), 60):
            pass
        status, page = await get(f"{url}/metrics")
        assert status == 200 and value(page, "storebot_messages_total", platform="console") == 1
        assert value(page, "storebot_answer_seconds_count", platform="console") == 1
        process.stdin.close()
        assert await asyncio.wait_for(process.wait(), 60) == 0
        await asyncio.wait_for(reader, 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    entries = [json.loads(line) for line in logged if line.strip()]  # every line of the log is one JSON object
    assert entries and all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any(e["logger"] == "bot.app.metrics" and e["level"] == "INFO" for e in entries)
