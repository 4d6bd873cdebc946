"""The conversation engine: one neutral message in, one reply out.

dedupe → per-conversation lock → rate limit → command? → memory → answer → memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from bot import messages
from bot.condense import condense
from bot.feedback import FeedbackStore
from bot.types import Answerer, ConversationState, IncomingMessage, Reply, Turn

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoreInfo:
    name: str
    greeting: str


class Engine:
    def __init__(self, state: ConversationState, answerer: Answerer, store: StoreInfo,
                 feedback: FeedbackStore | None = None) -> None:
        self._state = state
        self._answerer = answerer
        self._store = store
        self._feedback = feedback

    async def feedback(self, platform: str, conversation: str, user: str, kind: Literal["up", "down", "human"]) -> str:
        """Records a button press on the last answer; returns the acknowledgement to show."""
        history = await self._state.load(platform, conversation)
        if self._feedback is not None:
            if kind == "human":
                await self._feedback.request_human(platform, conversation, user, history)
            else:
                await self._feedback.rate(platform, conversation, user, kind, history)
        return messages.HUMAN_REQUESTED if kind == "human" else messages.THANKS

    async def handle(self, msg: IncomingMessage) -> Reply | None:
        """The reply to send, or None when nothing should be sent (a duplicate delivery, or a
        shopper over the rate limit who has already been told)."""
        if msg.event_id is not None and not await self._state.first_delivery(msg.platform, msg.event_id):
            log.info("duplicate delivery %s:%s dropped", msg.platform, msg.event_id)
            return None
        async with self._state.conversation_lock(msg.platform, msg.conversation_id):
            count = await self._state.rate(msg.platform, msg.user_id)
            if count > self._state.rate_limit:
                return _notice(messages.RATE_LIMITED) if count == self._state.rate_limit + 1 else None
            return await self._respond(msg)

    async def _respond(self, msg: IncomingMessage) -> Reply:
        text = messages.clean(msg.text)
        if text.startswith("/"):
            return await self._command(msg, text)
        if not text:
            return _notice(messages.EMPTY)
        if len(text) > messages.MAX_QUESTION_CHARS:
            return _notice(messages.TOO_LONG)
        if not messages.has_words(text):
            return _notice(messages.NO_WORDS)
        history = await self._state.load(msg.platform, msg.conversation_id)
        reply = await self._answerer.answer(condense(text, history), history)
        await self._state.append(
            msg.platform, msg.conversation_id, msg.user_id,
            Turn("shopper", text), Turn("bot", reply.text, reply.citations, reply.mode),
        )
        return reply

    async def _command(self, msg: IncomingMessage, text: str) -> Reply:
        # "/help@storebot extra words" → "help"
        name = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else ""
        if name in ("start", "help"):
            return _notice(messages.help_text(self._store.name, self._store.greeting), "command")
        if name == "reset":
            await self._state.clear(msg.platform, msg.conversation_id)
            return _notice(messages.RESET, "command")
        if name == "forget":
            await self._state.forget_user(msg.platform, msg.user_id)
            if self._feedback is not None:
                await self._feedback.forget_user(msg.platform, msg.user_id)
            return _notice(messages.FORGOTTEN, "command")
        if name == "sources":
            return await self._sources(msg)
        return _notice(messages.UNKNOWN_COMMAND, "command")

    async def _sources(self, msg: IncomingMessage) -> Reply:
        history = await self._state.load(msg.platform, msg.conversation_id)
        last = next((t for t in reversed(history) if t.role == "bot" and t.citations), None)
        if last is None:
            return _notice(messages.NO_SOURCES, "command")
        lines = [f"{i}. {c.title} ({c.url or c.source})" for i, c in enumerate(last.citations, start=1)]
        return Reply("Sources of my last answer:\n" + "\n".join(lines), last.citations, mode="command")


def _notice(text: str, mode: str = "notice") -> Reply:
    return Reply(text, mode=mode)
