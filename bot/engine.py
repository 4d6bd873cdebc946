"""The conversation engine: one neutral message in, one reply out.

dedupe → per-conversation lock → rate limit → handed to a person? → command? → memory → answer →
memory → hand to a person after repeated declines. The state reads everything up to the memory in one
Redis trip as the message is admitted, and writes the memory as it releases the conversation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from bot import messages
from bot.handoff.desk import HandoffDesk, open_key
from bot.store.activity import ActivityLog
from bot.store.feedback import FeedbackStore
from bot.types import Admission, Answerer, ConversationState, IncomingMessage, Reply, Turn

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoreInfo:
    name: str
    greeting: str


class Engine:
    def __init__(self, state: ConversationState, answerer: Answerer, store: StoreInfo,
                 feedback: FeedbackStore | None = None, desk: HandoffDesk | None = None,
                 activity: ActivityLog | None = None) -> None:
        self._state = state
        self._answerer = answerer
        self._store = store
        self._feedback = feedback
        self._desk = desk
        self._activity = activity

    async def feedback(self, platform: str, conversation: str, user: str, kind: Literal["up", "down", "human"],
                       name: str = "") -> str:
        """Records a button press on the last answer; returns the acknowledgement to show."""
        if kind == "human" and self._desk is not None:
            # Held like a message (one handoff per conversation), but not a message: not counted.
            async with self._state.admit(platform, conversation, user, counted=False) as admission:
                return await self._hand_over(platform, conversation, user, name, admission, admission.history,
                                             "button")
        history = await self._state.load(platform, conversation)
        if kind == "human":
            if self._feedback is not None:
                await self._feedback.request_human(platform, conversation, user, history)
            return messages.HUMAN_REQUESTED
        if self._feedback is not None:
            await self._feedback.rate(platform, conversation, user, kind, history)
        return messages.THANKS

    async def handle(self, msg: IncomingMessage) -> Reply | None:
        """The reply to send, or None when nothing should be sent (a duplicate delivery, or a
        shopper over the rate limit who has already been told)."""
        desk = self._desk if not messages.clean(msg.text).startswith("/forget") else None
        pointer = open_key(msg.platform, msg.conversation_id) if desk is not None else None
        # One trip in (dedupe, lock, rate count, memory, handoff pointer); leaving the block is one trip out.
        async with self._state.admit(msg.platform, msg.conversation_id, msg.user_id, msg.event_id,
                                     peek_key=pointer) as admission:
            if admission.duplicate:
                log.info("duplicate delivery %s:%s dropped", msg.platform, msg.event_id)
                return None
            count = admission.rate_count
            if count > self._state.rate_limit:
                return _notice(messages.RATE_LIMITED) if count == self._state.rate_limit + 1 else None
            if desk is not None:
                handoff = await desk.pointed_to(msg.platform, msg.conversation_id, admission.peeked)
                if handoff is not None:  # a person has this conversation: relay, and stay silent
                    await desk.from_shopper(handoff, messages.clean(msg.text))
                    return None
            return await self._respond(msg, admission)

    async def _respond(self, msg: IncomingMessage, admission: Admission) -> Reply:
        text = messages.clean(msg.text)
        if text.startswith("/"):
            return await self._command(msg, text, admission)
        if not text:
            return _notice(messages.EMPTY)
        if len(text) > messages.MAX_QUESTION_CHARS:
            return _notice(messages.TOO_LONG)
        if not messages.has_words(text):
            return _notice(messages.NO_WORDS)
        history = admission.history
        if self._desk is not None and not msg.is_staff and messages.asks_for_human(text):
            history += (Turn("shopper", text, user=msg.user_id),)
            admission.remember(history[-1])
            return _notice(await self._hand_over_msg(msg, admission, history, "asked"), "handoff")
        reply = await self._answerer.answer(text, history)
        turns = (Turn("shopper", text, user=msg.user_id),
                 Turn("bot", reply.text, reply.citations, reply.mode, reply.confident, reply.model, reply.focus,
                      msg.user_id))
        admission.remember(*turns)
        if self._activity is not None:
            await self._activity.answered(msg.platform, msg.conversation_id, msg.user_id, text, reply)
        if not reply.confident and self._desk is not None and not msg.is_staff:
            after = self._desk.policy.after_declines  # 0: never hand over on declines alone
            if after and _declines_in_a_row(history + turns) >= after:
                return _notice(await self._hand_over_msg(msg, admission, history + turns, "declined"), "handoff")
        return reply

    async def _hand_over_msg(self, msg: IncomingMessage, admission: Admission, history: tuple[Turn, ...],
                             reason: str) -> str:
        return await self._hand_over(msg.platform, msg.conversation_id, msg.user_id, msg.display_name, admission,
                                     history, reason)

    async def _hand_over(self, platform: str, conversation: str, user: str, name: str, admission: Admission,
                         history: tuple[Turn, ...], reason: str) -> str:
        assert self._desk is not None
        _, opened = await self._desk.open(platform, conversation, user, name, history, reason)
        notice = self._desk.opened_notice() if opened else messages.HANDOFF_ALREADY
        # Remembered, so declines before the handoff never count towards the next one.
        admission.remember(Turn("bot", notice, mode="handoff", user=user))
        return notice

    async def _command(self, msg: IncomingMessage, text: str, admission: Admission) -> Reply:
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
            if self._activity is not None:
                await self._activity.forget_user(msg.platform, msg.user_id)
            return _notice(messages.FORGOTTEN, "command")
        if name == "sources":
            return _sources(admission.history)
        if name == "human" and self._desk is not None and not msg.is_staff:
            return _notice(await self._hand_over_msg(msg, admission, admission.history, "asked"), "handoff")
        return _notice(messages.UNKNOWN_COMMAND, "command")


def _sources(history: tuple[Turn, ...]) -> Reply:
    last = next((t for t in reversed(history) if t.role == "bot" and t.citations), None)
    if last is None:
        return _notice(messages.NO_SOURCES, "command")
    lines = [f"{i}. {c.title} ({c.url or c.source})" for i, c in enumerate(last.citations, start=1)]
    return Reply("Sources of my last answer:\n" + "\n".join(lines), last.citations, mode="command")


def _declines_in_a_row(history: tuple[Turn, ...]) -> int:
    count = 0
    for turn in reversed([t for t in history if t.role == "bot" and t.mode not in ("command", "notice")]):
        if turn.confident or turn.mode == "handoff":
            break
        count += 1
    return count


def _notice(text: str, mode: str = "notice") -> Reply:
    return Reply(text, mode=mode)
