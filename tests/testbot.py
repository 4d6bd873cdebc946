"""A testbot (Errbot's idea): the whole engine on real Redis with a tiny knowledge base.

`whole_bot(settings)` wires the bot exactly as `storebot serve` / `storebot chat` do
(`bot.app.wiring.running_engine`: live index, answerer, Redis state, feedback, activity, handoff desk,
ops desk and the background tasks) and talks to it through the one door, `Engine.handle`:

    await bot.push("how much is the tent?")      # a message from this bot's shopper
    assert "349" in bot.pop().text               # the reply the engine sent back

`TestBot(engine)` still wraps an engine a test assembled by hand (a stand-in answerer, a broken Redis…).
The pytest fixtures `testbot` and `make_testbot(**overrides)` (tests/conftest.py) give whole bots over a tiny
knowledge base built once per session the way `storebot kb build` builds one.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.app.settings import Settings, load_settings
from bot.app.wiring import RunningEngine, make_store, running_engine
from bot.engine import Engine
from bot.events import Button, ButtonPress, Event
from bot.types import ConversationState, IncomingMessage, Reply, Turn
from knowledge.index.live import IndexHandle
from knowledge.index.versions import Manifest

# What the whole bot's settings change from the defaults, besides the knowledge base and Redis.
TEST_SHOP: dict[str, object] = {"store_name": "Test Shop", "store_greeting": "Hello from Test Shop!"}


class TestBot:
    __test__ = False  # not a test class

    def __init__(self, engine: Engine, platform: str = "console") -> None:
        self.engine = engine
        self.platform = platform
        # Fresh ids: no two bots share a conversation's memory, rate count or feedback.
        self.conversation = f"conv-{uuid.uuid4().hex[:8]}"
        self.user = f"user-{uuid.uuid4().hex[:8]}"
        self.replies: deque[Reply | None] = deque()

    async def push(self, text: str, event_id: str | None = None) -> None:
        """A message from this bot's shopper in its conversation; the reply (or None) is queued for `pop`."""
        await self.push_event(IncomingMessage(self.platform, self.conversation, self.user, text, event_id))

    async def push_event(self, event: Event) -> None:
        """Any inbound event (a message, ButtonPress, StaffReply, Resolve, OpsCommand) through `Engine.handle`."""
        self.replies.append(await self.engine.handle(event))

    def pop(self) -> Reply:
        reply = self.replies.popleft()
        assert reply is not None, "expected a reply, got none"
        return reply

    def pop_none(self) -> None:
        """The next reply, which must be none (the bot stayed silent)."""
        reply = self.replies.popleft()
        assert reply is None, f"expected silence, got {reply}"

    async def ask(self, text: str) -> Reply:
        await self.push(text)
        return self.pop()

    async def ask_event(self, event: Event) -> Reply:
        await self.push_event(event)
        return self.pop()

    def button(self, button: Button, name: str = "") -> ButtonPress:
        """This bot's shopper pressing a button under the last answer of its conversation."""
        return ButtonPress(self.platform, self.conversation, self.user, button, name)

    @property
    def state(self) -> ConversationState:
        """The engine's conversation state (RedisState when wired for serving)."""
        return self.engine._state  # the engine keeps it private; tests may look

    async def memory(self, conversation: str | None = None) -> tuple[Turn, ...]:
        """The turns the engine remembers of a conversation (default: this bot's)."""
        return await self.state.load(self.platform, conversation or self.conversation)


class WholeBot(TestBot):
    """A TestBot over the engine `running_engine` wired from settings, as `storebot serve` runs it."""

    def __init__(self, running: RunningEngine, settings: Settings, platform: str = "console") -> None:
        super().__init__(running.engine, platform)
        self.running = running
        self.settings = settings

    @property
    def handle(self) -> IndexHandle:
        """The live index the engine answers from."""
        return self.running.handle


@asynccontextmanager
async def whole_bot(settings: Settings, platform: str = "console",
                    allow_local_state: bool = False) -> AsyncIterator[WholeBot]:
    """The whole bot wired from `settings` through `running_engine` (Redis must be reachable unless
    `allow_local_state`, as `storebot chat` allows); its background tasks stop when the block is left."""
    async with running_engine(settings, allow_local_state=allow_local_state) as running:
        yield WholeBot(running, settings, platform)


def testbot_settings(redis_url: str, **overrides: object) -> Settings:
    """Settings of a whole test bot: the Test Shop on `redis_url`, then `overrides` (any Settings field: the
    knowledge base's kb_source_dir / kb_data_dir, handoff_to="slack", ops_user_ids="UOPS"…)."""
    return load_settings(**({"redis_url": redis_url} | TEST_SHOP | overrides))


def built_settings(source: Path, data_dir: Path, redis_url: str) -> Settings:
    """A store's default settings on the test Redis (no rate limit in the way), its knowledge base built."""
    settings = load_settings(kb_source_dir=source, kb_data_dir=data_dir, redis_url=redis_url,
                             rate_limit_per_minute=1000)
    build_kb(settings)
    return settings


def store_of_files(root: Path, files: dict[str, str], redis_url: str) -> Settings:
    """A made-up store written under `root` as its owner hands it over (path in the store → text), built."""
    for name, text in files.items():
        (root / "store" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "store" / name).write_text(text, encoding="utf-8")
    return built_settings(root / "store", root / "kb", redis_url)


def build_kb(settings: Settings) -> Manifest:
    """KB_SOURCE_DIR built into KB_DATA_DIR and made live, as `storebot kb build` does it."""
    from bot.cli.kb import build_with_progress

    return build_with_progress(settings, settings.kb_source_dir, make_store(settings), quiet=True)


async def press(engine: Engine, platform: str, conversation: str, user: str, button: Button, name: str = "") -> str:
    """A button pressed under the last answer; the acknowledgement shown."""
    reply = await engine.handle(ButtonPress(platform, conversation, user, button, name))
    assert reply is not None
    return reply.text
