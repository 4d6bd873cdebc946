"""The engine for the fuzz, wired as `storebot serve` wires it on Redis, the runs of events sent to it, and the
clean-up of what a run wrote to a shared Redis.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.answerers.facts import FactAnswerer
from bot.answerers.query_engine import FactQueryEngine
from bot.app.metrics import MeteredEngine, Metrics
from bot.engine import Engine, StoreInfo
from bot.events import ButtonPress, Event, OpsCommand, Resolve, StaffReply
from bot.handoff.desk import WAITING, HandoffDesk, HandoffPolicy
from bot.ops.desk import OpsDesk, OpsPolicy
from bot.ops.kb import AUDIT_STREAM, KnowledgeOps
from bot.ops.reports import Reports
from bot.store.activity import ACTIVITY_STREAM, ActivityLog
from bot.store.feedback import FEEDBACK_STREAM, HANDOFF_STREAM, FeedbackStore
from bot.store.memory import RedisState
from bot.store.outbox import Outbox
from bot.store.redis_keys import as_text
from bot.types import IncomingMessage, Reply
from knowledge.index.builder import BuildOptions
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.fuzz_common import ENGINE_TEXTS, OPS_USER, SLACK, TAG, TELEGRAM, texts

HOT_USERS = ["u-hot-1", "u-hot-2", OPS_USER]
USERS = st.one_of(st.sampled_from(HOT_USERS), st.integers(0, 10**9).map(lambda n: f"u{n}"), st.text(max_size=10))
CONVERSATIONS = st.one_of(st.sampled_from(["c1", "c2", "C1:1.5", "D1"]), st.integers(0, 10**9).map(lambda n: f"c{n}"),
                          st.text(max_size=12))
PLATFORMS = st.sampled_from([TELEGRAM, SLACK])
DAYS = st.floats(min_value=0, allow_nan=False)  # what `parse_command` can give: digits read as a float, up to inf


def engine_messages(text: st.SearchStrategy[str] = ENGINE_TEXTS) -> st.SearchStrategy[IncomingMessage]:
    return st.builds(IncomingMessage, platform=PLATFORMS, conversation_id=CONVERSATIONS, user_id=USERS, text=text,
                     event_id=st.none() | st.integers(0, 50).map(str) | st.text(max_size=10),
                     is_direct=st.booleans(), is_staff=st.booleans(), display_name=texts(20, 0))


ENGINE_EVENTS: st.SearchStrategy[Event] = st.one_of(
    engine_messages(), engine_messages(), engine_messages(),
    st.builds(ButtonPress, PLATFORMS, CONVERSATIONS, USERS, st.sampled_from(["up", "down", "human"]), texts(20, 0)),
    st.builds(StaffReply, st.just(SLACK), CONVERSATIONS, USERS, texts(80, 3000), st.text(max_size=10)),
    st.builds(Resolve, PLATFORMS, USERS, st.from_regex(r"H[0-9A-Fa-f]{8}", fullmatch=True) | st.text(max_size=10),
              st.just("") | CONVERSATIONS),
    st.builds(OpsCommand, PLATFORMS, st.text(max_size=6).filter(lambda user: user != OPS_USER),  # refused
              st.sampled_from(["kb status", "kb reload", "kb rollback", "report"]), DAYS),
    st.builds(OpsCommand, PLATFORMS, st.just(OPS_USER), st.sampled_from(["kb status", "report"]), DAYS),
)

ENGINE_RUNS = st.lists(ENGINE_EVENTS, min_size=1, max_size=6)  # a few events, often of one conversation or user


def scoped(event: Event, scope: str) -> Event:
    """The event with its conversation, thread, user and delivery ids in a namespace of its own, so that a run of
    events replays the same way (hypothesis replays each while shrinking); the ops user stays itself."""
    def own(value: str) -> str:
        return f"{scope}/{value}"

    def user(value: str) -> str:
        return value if value == OPS_USER else own(value)

    match event:
        case IncomingMessage():
            return dataclasses.replace(event, conversation_id=own(event.conversation_id), user_id=user(event.user_id),
                                       event_id=None if event.event_id is None else own(event.event_id))
        case ButtonPress():
            return dataclasses.replace(event, conversation_id=own(event.conversation_id), user_id=user(event.user_id))
        case StaffReply():
            return dataclasses.replace(event, thread=own(event.thread), user_id=user(event.user_id),
                                       message_id=own(event.message_id))
        case Resolve():
            thread = own(event.thread) if event.thread else ""
            return dataclasses.replace(event, user_id=user(event.user_id), thread=thread)
        case OpsCommand():
            return dataclasses.replace(event, user_id=user(event.user_id))


class FlatEmbedder:
    """What groups a report's questions in the fuzz: one unit vector for every text (one group), at no cost, so a
    report over a shared Redis's whole activity stream stays cheap however many questions it holds."""

    model_id = "flat"
    dims = 4

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dims), dtype=np.float32)
        vectors[:, 0] = 1.0
        return vectors


def fuzz_engine(redis: Redis, handle: IndexHandle, embedder: SentenceTransformerEmbedder, store: VersionStore,
                source: Path, work: Path, rate_per_minute: int = 30) -> Engine:
    """The engine as `storebot serve` wires it on Redis (metered door, extractive answers, feedback, activity log,
    handoff desk, ops desk), its staff platform `SLACK`; only `OPS_USER` may run ops commands, and reports group
    questions with `FlatEmbedder`."""
    retriever = HybridRetriever(handle, embedder)
    activity = ActivityLog(redis)
    desk = HandoffDesk(redis, Outbox(redis), activity, HandoffPolicy(staff_platform=SLACK, after_declines=2))
    ops = OpsDesk(KnowledgeOps(store, source, lambda: embedder, work / "fuzz-cache.sqlite", BuildOptions(), redis,
                               handle),
                  Reports(redis, activity, FlatEmbedder, retriever), OpsPolicy(frozenset({OPS_USER})))
    state = RedisState(redis, memory_turns=10, memory_ttl_s=600, rate_per_minute=rate_per_minute, dedupe_ttl_s=600)
    answerer = FactQueryEngine(FactAnswerer(retriever, "Fuzz Shop"))
    return MeteredEngine(Metrics(), state, answerer, StoreInfo("Fuzz Shop", "Hello from Fuzz Shop!"),
                         FeedbackStore(redis), desk, activity, ops)


def check_reply(reply: Reply | None) -> None:
    assert reply is None or (isinstance(reply, Reply) and isinstance(reply.text, str) and reply.text.strip())


async def clean_up(redis: Redis, tag: str = TAG) -> int:
    """Removes what a fuzz run wrote: its platforms' keys, its handoffs and its entries in the shared streams."""
    removed = 0
    async for key in redis.scan_iter(match=f"*{tag}*", count=1000):
        removed += int(await redis.delete(key))
    async for key in redis.scan_iter(match="storebot:handoff:H????????", count=1000):
        if tag in as_text(await redis.hget(key, "platform") or b""):
            removed += int(await redis.delete(key))
            await redis.zrem(WAITING, as_text(key).rsplit(":", 1)[1])
    for stream in (ACTIVITY_STREAM, FEEDBACK_STREAM, HANDOFF_STREAM, AUDIT_STREAM):
        start = "-"
        while True:
            entries: Any = await redis.xrange(stream, min=start, count=1000)
            ours = [i for i, fields in entries if tag.encode() in (fields or {}).get(b"platform", b"")]
            if ours:
                removed += int(await redis.xdel(stream, *ours))
            if len(entries) < 1000:
                break
            start = "(" + as_text(entries[-1][0])
    return removed


async def run_events(engine: Engine, events: list[Event], scope: str | None = None) -> None:
    """Each event through the one door, in order (in a namespace of their own when `scope` is given): every reply
    is a Reply with text, or None."""
    for event in events:
        check_reply(await engine.handle(event if scope is None else scoped(event, scope)))
