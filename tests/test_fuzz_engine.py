"""Property-based fuzz (hypothesis) of the engine's one door: runs of events of any shape, text that is not valid
Unicode and `/storebot` commands of any shape get a Reply with text, or None, and never raise (generators:
tests/fuzz_engine.py, on real Redis; everything a run writes is removed at its end).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.engine import Engine
from bot.events import Event, OpsCommand
from bot.types import IncomingMessage
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.versions import VersionStore
from tests.fuzz_common import ENGINE_FUZZ, FUZZ, OPS_USER, SURROGATE_TEXTS, TELEGRAM
from tests.fuzz_engine import ENGINE_RUNS, check_reply, clean_up, engine_messages, fuzz_engine, run_events
from tests.fuzz_slack import COMMAND_TEXTS, parse_slash_command, slash_command_event


@dataclass
class FuzzRig:
    engine: Engine
    redis: Redis


@pytest.fixture
async def rig(built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder, redis_url: str,
              tmp_path: Path) -> AsyncIterator[FuzzRig]:
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    engine = fuzz_engine(redis, handle, embedder, built_store, tiny_source, tmp_path, rate_per_minute=4)
    try:
        yield FuzzRig(engine, redis)
    finally:
        await clean_up(redis)
        await redis.aclose()


@ENGINE_FUZZ
@given(ENGINE_RUNS)
@example([OpsCommand(TELEGRAM, OPS_USER, "report", math.inf)])  # `/storebot report 999…` (309+ nines) reads as inf
async def test_the_engine_answers_any_events_without_raising(rig: FuzzRig, events: list[Event]) -> None:
    """Runs of messages (any text: empty, huge, binary, control and bidi characters, markup, every command),
    button presses, staff replies, resolves and ops commands, often in one conversation or from one user (memory,
    dedupe, the rate limit, handoffs): every reply is a Reply with text, or None."""
    await run_events(rig.engine, events, uuid.uuid4().hex[:8])


@ENGINE_FUZZ
@given(st.lists(engine_messages(SURROGATE_TEXTS), min_size=1, max_size=3))
@example([IncomingMessage(TELEGRAM, "c1", "u1", "\ud800 hi")])
async def test_the_engine_answers_text_with_a_lone_surrogate_without_raising(rig: FuzzRig,
                                                                             events: list[Event]) -> None:
    """Text that is not valid Unicode (a lone surrogate) gets a reply like any other."""
    await run_events(rig.engine, events, uuid.uuid4().hex[:8])


@example(text="report " + "9" * 400)  # digits enough to read as inf days
@FUZZ
@given(COMMAND_TEXTS)
async def test_slash_commands_of_any_shape_run_through_the_engine_without_raising(rig: FuzzRig, text: str) -> None:
    """`/storebot` text parsed, then run as `SlashCommands.on_command` runs it (ops commands from the ops user)."""
    command = parse_slash_command(text)
    event = slash_command_event(command, f"{uuid.uuid4().hex[:8]}/staff") if command is not None else None
    if event is not None:
        check_reply(await rig.engine.handle(event))
