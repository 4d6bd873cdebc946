"""Every inbound event goes through `Engine.handle`: ops policy and handoff-thread rules are the core's, and
each adapter only converts (Telegram's staff allowlist, the console's apology when the core fails)."""

from __future__ import annotations

import asyncio
import builtins
import io
import logging
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis
from rich.console import Console

from adapters.console import SORRY as CONSOLE_SORRY
from adapters.console import ConsoleAdapter
from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.settings import TelegramSettings
from bot import messages
from bot.answerers.facts import FactAnswerer
from bot.app.services import Services
from bot.app.settings import load_settings
from bot.engine import Engine, StoreInfo
from bot.events import OpsCommand, Resolve, StaffReply
from bot.handoff.desk import HandoffDesk, HandoffPolicy
from bot.ops.desk import OpsDesk, OpsPolicy
from bot.ops.kb import AUDIT_STREAM, KnowledgeOps, audit_entries
from bot.outbound import StaffToShopper, decode
from bot.store.activity import ActivityLog
from bot.store.feedback import FeedbackStore
from bot.store.memory import RedisState
from bot.store.outbox import Outbox, outbox_stream
from bot.store.redis_keys import as_fields
from bot.types import IncomingMessage
from knowledge.index.builder import BuildOptions
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.telegram_standin import BotApiStandIn, text_update


class Directory:
    """A platform's people, as an adapter would look them up."""

    def __init__(self, groups: dict[str, frozenset[str]]) -> None:
        self.groups = groups
        self.asked: list[str] = []

    async def members(self, group: str) -> frozenset[str]:
        self.asked.append(group)
        return self.groups.get(group, frozenset())

    async def display_name(self, user: str) -> str:
        return {"UJANE": "Jane"}.get(user, user)


@dataclass
class Core:
    engine: Engine
    desk: HandoffDesk
    redis: Redis
    platform: str


@pytest.fixture
async def core(redis_url: str, built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder,
               tmp_path: Path) -> AsyncIterator[Core]:
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    platform = f"shop{random.randrange(10**8)}"  # the shopper side; staff are on "slack"
    activity = ActivityLog(redis)
    desk = HandoffDesk(redis, Outbox(redis), activity, HandoffPolicy("slack", after_declines=0))
    kb = KnowledgeOps(built_store, tiny_source, lambda: embedder, tmp_path / "cache.sqlite", BuildOptions(), redis,
                      handle)
    ops = OpsDesk(kb, None, OpsPolicy.parse("UOPS, UBOSS", "SOPS"))
    engine = Engine(RedisState(redis, 10, 3600, 100, 600), FactAnswerer(HybridRetriever(handle, embedder)),
                    StoreInfo("Test Shop", "Hello!"), FeedbackStore(redis), desk, activity, ops)
    yield Core(engine, desk, redis, platform)
    await redis.aclose()


async def test_ops_commands_are_decided_and_audited_by_the_core(core: Core) -> None:
    people = Directory({"SOPS": frozenset({"UGROUP"})})
    refused = await core.engine.handle(OpsCommand("slack", "UEVE", "kb rollback", directory=people))
    assert refused is not None and refused.text == messages.OPS_REFUSED and not refused.confident
    stages: list[str] = []

    async def progress(stage: str) -> None:
        stages.append(stage)

    by_group = await core.engine.handle(OpsCommand("slack", "UGROUP", "kb rollback", directory=people,
                                                   progress=progress))
    assert by_group is not None and "Rollback refused" in by_group.text  # allowed; one version only
    assert stages == ["starting"]  # accepted before the work: the platform may say so at once
    status = await core.engine.handle(OpsCommand("slack", "UEVE", "kb status"))  # open to all, not audited
    assert status is not None and "Live version" in status.text
    *_, eve, member = audit_entries(await core.redis.xrange(AUDIT_STREAM))
    assert (eve["user"], eve["action"], eve["allowed"]) == ("UEVE", "kb rollback", "0")
    assert (member["user"], member["allowed"]) == ("UGROUP", "1")
    assert people.asked == ["SOPS", "SOPS"]  # looked up on each attempt not allowed by id


async def test_a_staff_reply_outside_a_handoff_thread_is_ignored_and_resolve_there_is_a_question(core: Core) -> None:
    thread = f"CSUPPORT:{random.random():.6f}"
    assert await core.engine.handle(StaffReply("slack", thread, "UJANE", "just chatting")) is None
    reply = await core.engine.handle(IncomingMessage("slack", thread, "UJANE", "resolve", f"e{random.random()}"))
    assert reply is not None and reply.mode not in ("command", "handoff")  # not a handoff's thread: answered
    missing = await core.engine.handle(Resolve("slack", "UJANE", handoff_id="HNOPE"))
    assert missing is not None and "HNOPE" in missing.text and "already closed" in missing.text


async def test_staff_replies_and_resolve_in_the_thread_go_through_the_one_door(core: Core) -> None:
    chat = str(random.randrange(10**8))
    opened = await core.engine.handle(IncomingMessage(core.platform, chat, chat, "/human", f"e{random.random()}"))
    assert opened is not None and opened.mode == "handoff"
    handoff = await core.desk.find(core.platform, chat)
    assert handoff is not None
    thread = f"CSUPPORT:{random.random():.6f}"
    await core.desk.attach_thread(handoff.id, thread)
    people = Directory({})
    assert await core.engine.handle(StaffReply("slack", thread, "UJANE", "Hi, Jane here", "CSUPPORT:1",
                                               people)) is None
    relayed = [decode(as_fields(f)) for _, f in await core.redis.xrange(outbox_stream(core.platform))]
    assert StaffToShopper(chat, "Hi, Jane here", "Jane") in relayed
    # "resolve" said in the handoff's own thread closes it, with nothing more to say there.
    assert await core.engine.handle(IncomingMessage("slack", thread, "UJANE", " Resolve ", "e-resolve")) is None
    assert await core.desk.find(core.platform, chat) is None


async def test_telegram_staff_listed_in_settings_are_never_handed_over(core: Core) -> None:
    stand_in = BotApiStandIn()
    await stand_in.start()
    staff_chat, shopper_chat = random.randrange(10**6, 10**7), random.randrange(10**7, 10**8)
    adapter = TelegramAdapter(TelegramSettings(bot_token="123:TEST", api_base_url=stand_in.base_url,
                                               staff_user_ids=f"{staff_chat}, 99"))
    await adapter.start(core.engine)
    try:
        first = random.randrange(10**8, 10**9)  # the second update's id follows, as Telegram numbers them
        stand_in.push_update(text_update(first, staff_chat, "can I talk to a human?"))
        staff_reply = await asyncio.wait_for(stand_in.sent.get(), 10)
        stand_in.push_update(text_update(first + 1, shopper_chat, "can I talk to a human?"))
        shopper_reply = await asyncio.wait_for(stand_in.sent.get(), 10)
    finally:
        await adapter.stop()
        await stand_in.stop()
    assert messages.HANDOFF_OPENED not in str(staff_reply["text"])
    assert await core.desk.find("telegram", str(staff_chat)) is None
    assert str(shopper_reply["text"]).startswith(messages.HANDOFF_OPENED)


@pytest.fixture
def typed_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the person types into the console, line by line; then Ctrl-D."""
    lines: list[str] = []

    def fake_input(prompt: str = "") -> str:
        if not lines:
            raise EOFError
        return lines.pop(0)

    monkeypatch.setattr(builtins, "input", fake_input)
    yield lines


@pytest.mark.parametrize("broken", ["redis", "index"])
async def test_the_console_apologises_and_logs_when_the_core_fails(
    broken: str, typed_lines: list[str], redis_url: str, built_store: VersionStore,
    embedder: SentenceTransformerEmbedder, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5) if broken == "redis" \
        else Redis.from_url(redis_url)
    handle = IndexHandle(built_store if broken == "redis" else VersionStore(tmp_path / "empty"))
    handle.refresh()
    engine = Engine(RedisState(redis, 10, 3600, 100, 600), FactAnswerer(HybridRetriever(handle, embedder)),
                    StoreInfo("Test Shop", "Hello!"))
    out = io.StringIO()
    typed_lines.extend(["how much does delivery cost?", "and returns?"])
    with caplog.at_level(logging.ERROR, logger="adapters.console"):
        await ConsoleAdapter(load_settings(), Console(file=out, width=200)).run(Services(engine))
    await redis.aclose()
    assert out.getvalue().count("bot> " + CONSOLE_SORRY) == 2  # both questions, and the chat went on
    failed = [r.getMessage() for r in caplog.records if r.name == "adapters.console"]
    assert len(failed) == 2 and all(r.startswith("console message console-") for r in failed)
