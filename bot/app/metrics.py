"""Operations of a serving process: its Prometheus metrics (in a registry of its own, never prometheus_client's
global one), the measured door (`MeteredEngine`), and the `/healthz` and `/metrics` server `storebot serve`
starts. Redis figures (the outbox backlog, dead letters) are read when scraped, not kept up to date."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import ResponseError

from bot.app.settings import Settings
from bot.engine import Engine
from bot.events import Event
from bot.store.connect import connect
from bot.store.outbox import DEAD_LETTERS, GROUP, outbox_stream
from bot.store.redis_keys import REDIS_ERRORS, RedisClient, as_text
from bot.types import Answerer, IncomingMessage, Reply, Turn

log = logging.getLogger(__name__)

REDIS_TIMEOUT_S = 1.0  # /healthz: Redis must answer PING within this
SCRAPE_TIMEOUT_S = 2.0  # /metrics: the Redis figures, all of them


class _Read(Collector):
    """One figure read from the process when scraped (a counter kept elsewhere, the live KB version)."""

    def __init__(self, make: Callable[[], Metric]) -> None:
        self._make = make

    def collect(self) -> Iterable[Metric]:
        return [self._make()]


class Metrics:
    """One process's metrics. `registry` is what `/metrics` exposes; nothing is registered globally."""

    def __init__(self, kb_version: Callable[[], str | None] = lambda: None) -> None:
        self.registry = r = CollectorRegistry()
        self.messages = Counter("storebot_messages_total", "Messages through Engine.handle.", ["platform"], registry=r)
        self.answers = Counter("storebot_answers_total", "Replies to messages, by the mode that produced them.",
                               ["platform", "mode"], registry=r)
        self.declines = Counter("storebot_declines_total", "Replies to messages that declined (not confident).",
                                ["platform"], registry=r)
        self.handoffs = Counter("storebot_handoffs_total", "Replies handing the conversation to a person "
                                "(asked for, after declines, or the button).", ["platform"], registry=r)
        self.answer_seconds = Histogram("storebot_answer_seconds", "Time Engine.handle took for a message.",
                                        ["platform"], registry=r)
        self.errors = Counter("storebot_errors_total", "Events whose Engine.handle raised.", ["platform"], registry=r)
        self.llm_fallbacks = Counter("storebot_llm_fallbacks_total", "LLM-mode questions the fact engine answered "
                                     "instead of the model (small talk, no confident passage, LLM error, timeout or "
                                     "empty answer, unsupported figure).", registry=r)
        self.outbox_backlog = Gauge("storebot_outbox_backlog", "Outbox entries not yet delivered or not yet "
                                    "acknowledged (read when scraped; NaN: Redis did not answer).", ["platform"],
                                    registry=r)
        self.dead_letters = Gauge("storebot_outbox_dead_letters", "Entries in the outbox's dead-letter stream "
                                  "(read when scraped; NaN: Redis did not answer).", registry=r)
        self._kb_version = kb_version
        self._unsupported: Callable[[], int] = lambda: 0
        r.register(_Read(self._version_metric))
        r.register(_Read(lambda: CounterMetricFamily(
            "storebot_llm_unsupported_answers", "LLM answers replaced by the fact answer because they stated a figure "
            "no record holds.", value=self._unsupported())))

    @property
    def kb_version(self) -> str | None:
        return self._kb_version()

    def _version_metric(self) -> Metric:
        info = GaugeMetricFamily("storebot_kb_version_info", "The live knowledge-base version (1).", labels=["version"])
        if (version := self._kb_version()) is not None:
            info.add_metric([version], 1)
        return info

    def count_unsupported(self, read: Callable[[], int]) -> None:
        """Where `storebot_llm_unsupported_answers_total` is read from (the LLM engine's own count)."""
        self._unsupported = read

    def counted_fallback(self, fallback: Answerer) -> Answerer:
        """The LLM mode's fallback answerer, each of its answers counted in `storebot_llm_fallbacks_total`."""
        return _CountedFallback(fallback, self.llm_fallbacks)

    def record(self, event: Event, reply: Reply | None) -> None:
        """What a reply says: an answer to a message (and a decline), a handoff."""
        if reply is None:
            return
        platform = event.platform
        if isinstance(event, IncomingMessage):
            self.answers.labels(platform, reply.mode).inc()
            if not reply.confident:
                self.declines.labels(platform).inc()
        if reply.mode == "handoff":
            self.handoffs.labels(platform).inc()

    async def sample_redis(self, redis: RedisClient, platforms: Sequence[str]) -> None:
        """Sets the Redis figures (NaN, logged, when Redis does not answer in time)."""
        try:
            async with asyncio.timeout(SCRAPE_TIMEOUT_S):
                backlog = {platform: await outbox_backlog(redis, platform) for platform in platforms}
                dead = float(await redis.xlen(DEAD_LETTERS))
        except (*REDIS_ERRORS, TimeoutError) as err:
            log.warning("metrics: cannot read the outbox from Redis (%s)", err or type(err).__name__)
            backlog, dead = dict.fromkeys(platforms, math.nan), math.nan
        for platform, count in backlog.items():
            self.outbox_backlog.labels(platform).set(count)
        self.dead_letters.set(dead)


class _CountedFallback:
    def __init__(self, inner: Answerer, counter: Counter) -> None:
        self._inner = inner
        self._counter = counter

    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        self._counter.inc()
        return await self._inner.answer(question, history)


async def outbox_backlog(redis: RedisClient, platform: str) -> float:
    """Entries of a platform's outbox not yet delivered to the consumer group (`lag`) plus those delivered but
    not acknowledged (`pending`): one XINFO GROUPS. An unknown lag (Redis cannot tell after XDEL) counts 0."""
    stream = outbox_stream(platform)
    try:
        groups: list[dict[str, Any]] = await redis.xinfo_groups(stream)
    except ResponseError as err:
        if "no such key" in str(err).lower():
            return 0.0  # nothing was ever queued for it
        raise
    for group in groups:
        if as_text(group["name"]) == GROUP:
            return float(int(group["pending"]) + int(group.get("lag") or 0))
    return float(await redis.xlen(stream))  # no consumer has started yet: every entry waits


class MeteredEngine(Engine):
    """The Engine with its door measured: `handle(event)` unchanged, counted and timed per platform.

    A subclass, not a wrapper around an Engine, because `Services.engine` and the adapters take an `Engine`
    (and tests look at its state); it is built with the Engine's own arguments after `metrics`."""

    def __init__(self, metrics: Metrics, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    async def handle(self, event: Event) -> Reply | None:
        metrics, platform = self.metrics, event.platform
        message = isinstance(event, IncomingMessage)
        if message:
            metrics.messages.labels(platform).inc()
        started = time.perf_counter()
        try:
            reply = await super().handle(event)
        except Exception:
            metrics.errors.labels(platform).inc()
            raise
        finally:
            if message:
                metrics.answer_seconds.labels(platform).observe(time.perf_counter() - started)
        metrics.record(event, reply)
        return reply


class OpsEndpoints:
    """`GET /healthz` (200, or 503 with the reason) and `GET /metrics` (Prometheus text format)."""

    def __init__(self, metrics: Metrics, redis: RedisClient, platforms: Sequence[str],
                 timeout_s: float = REDIS_TIMEOUT_S) -> None:
        self._metrics = metrics
        self._redis = redis
        self._platforms = tuple(dict.fromkeys(platforms))
        self._timeout_s = timeout_s

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        return app

    async def healthz(self, request: web.Request) -> web.Response:
        version, redis = self._metrics.kb_version, await self._ping()
        problems = ([] if redis == "ok" else [f"redis: {redis}"]) + (
            [] if version is not None else ["no knowledge-base version is live"])
        body: dict[str, object] = {"status": "unavailable" if problems else "ok", "kb_version": version,
                                   "redis": redis}
        if problems:
            body["reason"] = "; ".join(problems)
        return web.json_response(body, status=503 if problems else 200)

    async def metrics(self, request: web.Request) -> web.Response:
        await self._metrics.sample_redis(self._redis, self._platforms)
        return web.Response(body=generate_latest(self._metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _ping(self) -> str:
        try:
            await asyncio.wait_for(self._redis.ping(), self._timeout_s)
        except TimeoutError:
            return f"no answer to PING within {self._timeout_s:g} s"
        except REDIS_ERRORS as err:
            return f"{type(err).__name__}: {err}"
        return "ok"


@asynccontextmanager
async def health_and_metrics(settings: Settings, metrics: Metrics,
                             platforms: Sequence[str]) -> AsyncIterator[str | None]:
    """`storebot serve`'s server on METRICS_HOST:METRICS_PORT (-1: none) with a Redis client of its own, so a
    probe never waits behind the bot's commands; the outbox backlog is read for `platforms` and HANDOFF_TO."""
    if settings.metrics_port < 0:
        yield None
        return
    redis = connect(settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=SCRAPE_TIMEOUT_S)
    outboxes = [*platforms, *([settings.handoff_to] if settings.handoff_to else [])]
    try:
        async with ops_server(OpsEndpoints(metrics, redis, outboxes), settings.metrics_host,
                              settings.metrics_port) as url:
            yield url
    finally:
        await redis.aclose()


@asynccontextmanager
async def ops_server(endpoints: OpsEndpoints, host: str, port: int) -> AsyncIterator[str | None]:
    """Serves the endpoints on host:port (0: a free port) for the block; yields the base URL, or None when the
    port cannot be opened (logged: the bot keeps serving shoppers without them)."""
    runner = web.AppRunner(endpoints.app(), access_log=None)  # scrapes every few seconds: no access log
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as err:
            log.error("cannot serve /healthz and /metrics on %s:%d (%s); serving without them", host, port, err)
            url = None
        else:
            bound = runner.addresses[0][1]
            url = f"http://{f'[{host}]' if ':' in host else host}:{bound}"
            log.info("health and metrics on %s/healthz and %s/metrics", url, url)
        yield url
    finally:
        await runner.cleanup()
