"""Builds what a process needs from its settings: knowledge components and the wired engine."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.answerers.facts import FactAnswerer
from bot.answerers.query_engine import (
    DEFAULT_CONTEXT_WINDOW,
    OPENAI_LIKE,
    AnswerQueryEngine,
    FactQueryEngine,
    load_llm_class,
)
from bot.app.metrics import MeteredEngine, Metrics
from bot.app.services import Services
from bot.app.settings import Settings
from bot.engine import Engine, StoreInfo
from bot.handoff.desk import HandoffDesk, HandoffPolicy, send_reminders
from bot.handoff.hours import SupportHours
from bot.ops.desk import OpsDesk, OpsPolicy
from bot.ops.kb import KnowledgeOps
from bot.ops.reload import follow_reloads
from bot.ops.reports import Reports
from bot.store.activity import ActivityLog
from bot.store.connect import connect, without_password
from bot.store.feedback import FeedbackStore
from bot.store.journal import Journal
from bot.store.local import LocalState
from bot.store.memory import RedisState
from bot.store.outbox import Outbox
from bot.store.redis_keys import REDIS_ERRORS, RedisClient
from bot.tasks import cancel_and_wait
from bot.types import Answerer
from knowledge.index.builder import BuildOptions
from knowledge.index.embedding import (
    BUNDLED_MODEL,
    Embedder,
    EmbeddingCache,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
)
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from knowledge.sources.loader import LoadOptions
from knowledge.sources.product_loader import CatalogFields

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

HEALTH_CHECK_S = 2


def redis_client(url: str) -> RedisClient:
    """The serving processes' client of REDIS_URL (one server, a cluster or a Sentinel's master: see
    bot/store/connect.py). After a Redis restart every pooled connection is dead: one idle for a while is
    pinged before reuse, and a command that meets a dropped connection is sent once more on a fresh one —
    otherwise the first command on each stale connection fails and costs that message."""
    return connect(url, health_check_interval=HEALTH_CHECK_S, retry=Retry(NoBackoff(), 1),
                   retry_on_error=[RedisConnectionError])


def make_embedder(settings: Settings) -> Embedder:
    if settings.embed_model.startswith("openai:"):
        return OpenAIEmbedder(
            settings.embed_model.removeprefix("openai:"), settings.openai_api_key, settings.openai_base_url
        )
    return local_embedder(settings, BUNDLED_MODEL if settings.embed_model == "bundled" else settings.embed_model)


def local_embedder(settings: Settings, model: str) -> SentenceTransformerEmbedder:
    """A local model (bundled or fine-tuned) on the configured backend, its ONNX export cached once."""
    return SentenceTransformerEmbedder(model, backend=settings.embed_backend, variant=settings.embed_onnx_variant,
                                       onnx_cache=settings.embed_onnx_dir or settings.kb_data_dir / "onnx")


def make_store(settings: Settings, data_dir: Path | None = None) -> VersionStore:
    return VersionStore(data_dir or settings.kb_data_dir, keep=settings.kb_keep_versions)


def make_cache_path(settings: Settings) -> Path:
    return settings.kb_data_dir / "embeddings.sqlite"


def make_cache(settings: Settings) -> EmbeddingCache:
    return EmbeddingCache(make_cache_path(settings))


def make_ops(settings: Settings, redis: RedisClient | None, embedder: Embedder | None = None,
             handle: IndexHandle | None = None) -> KnowledgeOps:
    """Knowledge-base operations; the shell's `kb reload` passes no embedder and loads one only to build."""
    return KnowledgeOps(make_store(settings), settings.kb_source_dir, lambda: embedder or make_embedder(settings),
                        make_cache_path(settings), build_options(settings), redis, handle)


def build_options(settings: Settings, strict: bool = False) -> BuildOptions:
    text_fields = tuple(f.strip() for f in settings.kb_catalog_text_fields.split(",") if f.strip())
    return BuildOptions(
        load=LoadOptions(
            max_file_bytes=int(settings.kb_max_file_mb * 1024 * 1024),
            catalog_fields=CatalogFields(text=text_fields),
            currency=settings.store_currency.strip().upper(),
            strict=strict,
        ),
        decline_share=settings.kb_decline_share,
        faq_threshold=settings.kb_faq_threshold,
        product_threshold=settings.kb_product_threshold,
    )


def make_answerer(settings: Settings, retriever: HybridRetriever,
                  metrics: Metrics | None = None) -> AnswerQueryEngine:
    """The answer path as a LlamaIndex query engine: the fact answerer (extractive), or the LLM engine over
    the hybrid retriever and the confidence thresholds, with the fact engine as its fallback (counted in
    `metrics`, with the LLM answers it replaced, when given)."""
    facts = FactQueryEngine(FactAnswerer(retriever, settings.store_name))
    if settings.answer_mode != "llm":
        return facts
    from bot.answerers.llm import TEMPERATURE, LLMQueryEngine
    from knowledge.index.postprocess import ConfidencePostprocessor

    fallback = facts if metrics is None else metrics.counted_fallback(facts)
    engine = LLMQueryEngine(
        llm_from_settings(settings, TEMPERATURE), retriever, fallback, settings.llm_timeout_s, settings.store_name,
        postprocessors=[ConfidencePostprocessor(thresholds=lambda: retriever.live.manifest.thresholds)],
        products=lambda pid: retriever.live.catalog.get(pid),
    )
    if metrics is not None:
        metrics.count_unsupported(lambda: engine.unsupported_answers)
    return engine


@dataclass(frozen=True, slots=True)
class RunningEngine:
    services: Services
    handle: IndexHandle
    notice: str | None  # shown to the person running it (e.g. memory is in-process only)
    metrics: Metrics  # the process's own registry; `serve` exposes it on /metrics

    @property
    def engine(self) -> Engine:
        return self.services.engine


def _services_on_redis(settings: Settings, redis: RedisClient, answerer: Answerer, store: StoreInfo, embedder: Embedder,
                       handle: IndexHandle, retriever: HybridRetriever, metrics: Metrics) -> Services:
    state = RedisState(redis, settings.memory_turns, settings.memory_ttl_s, settings.rate_limit_per_minute,
                       settings.dedupe_ttl_s)
    outbox = Outbox(redis, retention=settings.feedback_keep_entries)
    activity = ActivityLog(redis, settings.feedback_keep_entries)
    desk = None
    if settings.handoff_to:  # handoffs need someone to hand to
        policy = HandoffPolicy(settings.handoff_to,
                               SupportHours.parse(settings.support_hours, settings.support_timezone),
                               settings.handoff_remind_after_min * 60, settings.handoff_show_staff_names,
                               settings.handoff_after_declines)
        desk = HandoffDesk(redis, outbox, activity, policy)
    ops = OpsDesk(make_ops(settings, redis, embedder, handle), Reports(redis, activity, lambda: embedder, retriever),
                  OpsPolicy.parse(settings.ops_user_ids, settings.ops_usergroup))
    engine = MeteredEngine(metrics, state, answerer, store, FeedbackStore(redis, settings.feedback_keep_entries), desk,
                           activity, ops)
    journal = Journal(redis, f"{socket.gethostname()}-{os.getpid()}", settings.dedupe_ttl_s)
    return Services(engine, outbox, desk, desk, journal)


@asynccontextmanager
async def running_engine(settings: Settings, allow_local_state: bool = False) -> AsyncIterator[RunningEngine]:
    """The engine wired from settings: live index, answerer, Redis state (or, for the demo only,
    in-process state with a notice when Redis cannot be reached)."""
    embedder = await asyncio.to_thread(make_embedder, settings)
    handle = IndexHandle(make_store(settings), embedder.model_id)
    await asyncio.to_thread(handle.refresh)
    retriever = HybridRetriever(handle, embedder)
    metrics = Metrics(kb_version=lambda: handle.version)
    answerer: Answerer = make_answerer(settings, retriever, metrics)
    redis = redis_client(settings.redis_url)
    notice = None
    try:
        await redis.ping()
    except REDIS_ERRORS as err:
        if not allow_local_state:
            await redis.aclose()
            raise
        notice = (f"Redis at {without_password(settings.redis_url)} is not reachable ({err}); memory is kept in "
                  "this process only.")
    store = StoreInfo(settings.store_name, settings.store_greeting)
    background: list[asyncio.Task[None]] = []
    try:
        if notice is None:
            services = _services_on_redis(settings, redis, answerer, store, embedder, handle, retriever, metrics)
            # Every serving process follows `kb reload` announcements and sends due handoff reminders.
            background.append(asyncio.create_task(follow_reloads(redis, handle)))
            if services.desk is not None:
                every = min(60.0, settings.handoff_remind_after_min * 15)
                background.append(asyncio.create_task(send_reminders(services.desk, every)))
        else:
            state = LocalState(settings.memory_turns, settings.rate_limit_per_minute)
            ops = OpsDesk(make_ops(settings, None, embedder, handle), None,
                          OpsPolicy.parse(settings.ops_user_ids, settings.ops_usergroup))
            services = Services(MeteredEngine(metrics, state, answerer, store, ops=ops))
        yield RunningEngine(services, handle, notice, metrics)
    finally:
        await cancel_and_wait(*background)
        await redis.aclose()


def llm_from_settings(settings: Settings, temperature: float) -> LLM:
    """The LlamaIndex LLM of the LLM mode, passed explicitly to the engine (LlamaIndex's global
    `Settings.llm` is never set nor read).

    Default: `OpenAILike` on OPENAI_BASE_URL (any OpenAI-compatible server; `is_chat_model=True` so any
    model id, fine-tuned `ft:…` ones included, is sent as is, with no model-name table). LLM_CLASS=
    `module:Class` picks any LlamaIndex LLM integration instead; it is built with `model=LLM_MODEL`,
    `temperature` and LLM_KWARGS (a JSON object, which may override both)."""
    kwargs: dict[str, Any] = {"model": settings.llm_model, "temperature": temperature}
    if not settings.llm_class:
        kwargs |= {"api_base": settings.openai_base_url, "api_key": settings.openai_api_key or "unset",
                   "is_chat_model": True, "context_window": DEFAULT_CONTEXT_WINDOW,
                   "timeout": settings.llm_timeout_s, "max_retries": 1}
    return load_llm_class(settings.llm_class or OPENAI_LIKE)(**(kwargs | settings.llm_kwargs))
