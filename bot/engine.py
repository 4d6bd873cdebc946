"""The conversation engine: the one door into the core. Every inbound event — a shopper's message, a button,
a staff reply in a handoff thread, an ops command — goes through `Engine.handle`; the reply to send comes back.

For a message: dedupe → per-conversation lock → rate limit → handed to a person? → command? → memory → answer →
memory → hand to a person after repeated declines. The state reads everything up to the memory as the message
is admitted (bot/store/memory.py: two Redis trips), and writes the memory as it releases the conversation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot import messages
from bot.events import ButtonPress, Event, OpsCommand, OpsHandler, Resolve, StaffReply
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
                 activity: ActivityLog | None = None, ops: OpsHandler | None = None) -> None:
        self._state = state
        self._answerer = answerer
        self._store = store
        self._feedback = feedback
        self._desk = desk
        self._activity = activity
        self._ops = ops

    async def handle(self, event: Event) -> Reply | None:
        """The reply to send to whoever sent the event, or None when nothing should be sent (a duplicate
        delivery, a shopper over the rate limit who has been told, a message relayed to a person)."""
        match event:
            case IncomingMessage():
                if await self._resolving_thread(event):
                    return await self._resolve(Resolve(event.platform, event.user_id, thread=event.conversation_id))
                return await self._message(event)
            case ButtonPress():
                return _notice(await self._button(event), "handoff" if event.button == "human" else "command")
            case StaffReply():
                await self._staff_reply(event)
                return None
            case Resolve():
                return await self._resolve(event)
            case OpsCommand():
                return await self._ops.run(event) if self._ops is not None else _notice(messages.OPS_UNAVAILABLE)

    async def _button(self, press: ButtonPress) -> str:
        """Records a button press on the last answer; returns the acknowledgement to show."""
        platform, conversation, user = press.platform, press.conversation_id, press.user_id
        if press.button == "human" and self._desk is not None:
            # Held like a message (one handoff per conversation), but not a message: not counted.
            async with self._state.admit(platform, conversation, user, counted=False) as admission:
                return await self._hand_over(platform, conversation, user, press.display_name, admission,
                                             admission.history, "button")
        history = await self._state.load(platform, conversation)
        if press.button == "human":
            if self._feedback is not None:
                await self._feedback.request_human(platform, conversation, user, history)
            return messages.HUMAN_REQUESTED
        if self._feedback is not None:
            await self._feedback.rate(platform, conversation, user, press.button, history)
        return messages.THANKS

    async def _resolving_thread(self, msg: IncomingMessage) -> bool:
        """"resolve" said to the bot in a handoff's own thread closes it (staff's shortcut for the button)."""
        return (self._desk is not None and msg.platform == self._desk.policy.staff_platform
                and messages.clean(msg.text).lower() == "resolve"
                and await self._desk.by_thread(msg.conversation_id) is not None)

    async def _resolve(self, request: Resolve) -> Reply | None:
        """Closed: the staff thread hears it from the desk, so a "resolve" said in the thread needs no reply."""
        desk = self._desk
        if desk is None:
            return _notice(messages.NO_HANDOFF.format(id=request.handoff_id))
        handoff_id = request.handoff_id.upper()
        if request.thread:
            found = await desk.by_thread(request.thread)
            handoff_id = found.id if found is not None else ""
        if handoff_id and await desk.resolve(handoff_id, request.user_id) is not None:
            return None if request.thread else _notice(messages.HANDOFF_CLOSED.format(id=handoff_id), "command")
        return _notice(messages.NO_HANDOFF.format(id=handoff_id or request.handoff_id))

    async def _staff_reply(self, reply: StaffReply) -> None:
        desk = self._desk
        handoff = await desk.by_thread(reply.thread) if desk is not None else None
        if desk is None or handoff is None or handoff.status != "open":
            return  # an ordinary thread, or a closed handoff: staff talking among themselves
        name = await reply.directory.display_name(reply.user_id) if desk.policy.show_staff_names else ""
        await desk.from_staff(handoff, name, reply.text, reply.message_id)

    async def _message(self, msg: IncomingMessage) -> Reply | None:
        desk = self._desk if not messages.clean(msg.text).startswith("/forget") else None
        pointer = open_key(msg.platform, msg.conversation_id) if desk is not None else None
        # In: dedupe, lock, memory, then rate count and handoff pointer; leaving the block is one trip out.
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
