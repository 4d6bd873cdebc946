"""A testbot (Errbot's idea): the whole engine on real Redis with a tiny knowledge base."""

from __future__ import annotations

import uuid
from collections import deque

from bot.engine import Engine
from bot.events import Button, ButtonPress
from bot.types import IncomingMessage, Reply


class TestBot:
    __test__ = False  # not a test class

    def __init__(self, engine: Engine, platform: str = "console") -> None:
        self.engine = engine
        self.platform = platform
        self.conversation = f"conv-{uuid.uuid4().hex[:8]}"
        self.user = f"user-{uuid.uuid4().hex[:8]}"
        self.replies: deque[Reply | None] = deque()

    async def push(self, text: str, event_id: str | None = None) -> None:
        msg = IncomingMessage(self.platform, self.conversation, self.user, text, event_id)
        self.replies.append(await self.engine.handle(msg))

    def pop(self) -> Reply:
        reply = self.replies.popleft()
        assert reply is not None, "expected a reply, got none"
        return reply

    async def ask(self, text: str) -> Reply:
        await self.push(text)
        return self.pop()

    def pop_none(self) -> None:
        """The next reply, which must be none (the bot stayed silent)."""
        reply = self.replies.popleft()
        assert reply is None, f"expected silence, got {reply}"


async def press(engine: Engine, platform: str, conversation: str, user: str, button: Button, name: str = "") -> str:
    """A button pressed under the last answer; the acknowledgement shown."""
    reply = await engine.handle(ButtonPress(platform, conversation, user, button, name))
    assert reply is not None
    return reply.text
