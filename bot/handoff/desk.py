"""Human handoff: a shopper's conversation goes to support staff and comes back.

The desk keeps each handoff in Redis and talks to the platforms only through the outbox, so the
shopper's side (e.g. Telegram) and the staff side (Slack) may run in different processes and restart
independently. While a handoff is open the bot stays silent: the shopper's messages go to the staff
thread, the staff's replies go to the shopper.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from bot import messages
from bot.handoff.hours import SupportHours
from bot.outbound import HandoffOpened, Reminder, Resolved, ShopperToStaff, StaffToShopper, TranscriptLine
from bot.store.activity import ActivityLog
from bot.store.outbox import Outbox
from bot.store.redis_keys import PREFIX, RedisClient, as_fields, as_text
from bot.tasks import Connected, supervised
from bot.types import Turn

WAITING = f"{PREFIX}:handoff:waiting"  # handoffs no person has answered yet, scored by opening time
TRANSCRIPT_TURNS = 10
log = logging.getLogger(__name__)


def _record_key(handoff_id: str) -> str:
    return f"{PREFIX}:handoff:{handoff_id}"


def open_key(platform: str, conversation: str) -> str:
    """The conversation's pointer to its open handoff (the engine reads it in the same trip as the lock)."""
    return f"{PREFIX}:handoff:open:{platform}:{conversation}"


def _thread_key(thread: str) -> str:
    return f"{PREFIX}:handoff:thread:{thread}"


@dataclass(frozen=True, slots=True)
class Handoff:
    id: str
    platform: str  # the shopper's platform
    conversation: str
    user: str
    name: str
    reason: str  # "button" | "asked" | "declined"
    question: str  # the shopper's last question before the handoff
    declined: bool  # the bot had declined that question
    opened_at: float
    status: str = "open"  # "open" | "closed"
    thread: str = ""  # where staff discuss it (Slack: "channel:ts")
    staff_answer: str = ""  # staff replies, in order, for the FAQ-candidate export
    closed_by: str = ""


@dataclass(frozen=True, slots=True)
class HandoffPolicy:
    staff_platform: str = "slack"
    hours: SupportHours | None = None
    remind_after_s: float = 15 * 60
    show_staff_names: bool = True
    after_declines: int = 2  # open a handoff after this many declined answers in a row (0: never)
    keep_s: int = 90 * 24 * 3600


class HandoffDesk:
    def __init__(self, redis: RedisClient, outbox: Outbox, activity: ActivityLog, policy: HandoffPolicy) -> None:
        self._redis = redis
        self._outbox = outbox
        self._activity = activity
        self.policy = policy

    async def open(self, platform: str, conversation: str, user: str, name: str, history: tuple[Turn, ...],
                   reason: str) -> tuple[Handoff, bool]:
        """The conversation's open handoff, opening one if there is none; True if it was opened now."""
        handoff_id = "H" + secrets.token_hex(4).upper()
        last_bot = next((t for t in reversed(history) if t.role == "bot" and t.mode != "handoff"), None)
        question = next((t.text for t in reversed(history) if t.role == "shopper"), "")
        handoff = Handoff(handoff_id, platform, conversation, user, name or user, reason, question,
                          last_bot is not None and not last_bot.confident, time.time())
        await self._save(handoff)  # before it is findable, so whoever finds it can read it
        key = open_key(platform, conversation)
        if not await self._redis.set(key, handoff_id, nx=True, ex=self.policy.keep_s):
            existing = await self.find(platform, conversation)
            if existing is not None:
                await self._redis.delete(_record_key(handoff_id))
                return existing, False
            await self._redis.set(key, handoff_id, ex=self.policy.keep_s)  # the old pointer was stale
        await self._redis.zadd(WAITING, {handoff_id: handoff.opened_at})
        transcript = tuple(TranscriptLine(t.role, t.text) for t in history[-TRANSCRIPT_TURNS:])
        await self._outbox.put(self.policy.staff_platform, HandoffOpened(
            handoff_id, platform, handoff.name, reason, transcript, last_bot.text if last_bot else "",
            last_bot.citations if last_bot else ()))
        await self._activity.record("handoff", platform, conversation, user, handoff=handoff_id, reason=reason,
                                    question=question)
        return handoff, True

    def opened_notice(self, now: datetime | None = None) -> str:
        hours = self.policy.hours
        if hours is not None and not hours.is_open(now or datetime.now(UTC)):
            return messages.HANDOFF_OPENED + " " + messages.outside_hours(hours.describe())
        return messages.HANDOFF_OPENED

    async def find(self, platform: str, conversation: str) -> Handoff | None:
        """The conversation's open handoff; a pointer left to a closed or expired one is removed."""
        return await self.pointed_to(platform, conversation, await self._redis.get(open_key(platform, conversation)))

    async def pointed_to(self, platform: str, conversation: str, handoff_id: bytes | str | None) -> Handoff | None:
        """`find`, given the value of the conversation's `open_key` read already: no trip at all when it is empty."""
        if not handoff_id:
            return None
        handoff = await self.get(as_text(handoff_id))
        if handoff is None or handoff.status != "open":
            await self._redis.delete(open_key(platform, conversation))
            return None
        return handoff

    async def get(self, handoff_id: str) -> Handoff | None:
        data = as_fields(await self._redis.hgetall(_record_key(handoff_id)))
        if not data:
            return None
        return Handoff(data["id"], data["platform"], data["conversation"], data["user"], data["name"], data["reason"],
                       data["question"], data["declined"] == "1", float(data["opened_at"]), data["status"],
                       data.get("thread", ""), data.get("staff_answer", ""), data.get("closed_by", ""))

    async def by_thread(self, thread: str) -> Handoff | None:
        handoff_id = await self._redis.get(_thread_key(thread))
        return await self.get(as_text(handoff_id)) if handoff_id else None

    async def thread_of(self, handoff_id: str) -> str:
        """The handoff's staff thread; empty while its opening is not posted (or the handoff is unknown)."""
        return as_text(await self._redis.hget(_record_key(handoff_id), "thread") or "")

    async def attach_thread(self, handoff_id: str, thread: str) -> None:
        await self._redis.hset(_record_key(handoff_id), "thread", thread)
        await self._redis.set(_thread_key(thread), handoff_id, ex=self.policy.keep_s)

    async def from_shopper(self, handoff: Handoff, text: str) -> None:
        await self._outbox.put(self.policy.staff_platform, ShopperToStaff(handoff.id, handoff.name, text))

    async def from_staff(self, handoff: Handoff, staff: str, text: str, message_id: str = "") -> bool:
        """Relays a staff reply to the shopper once (`message_id` dedupes redeliveries); False when the
        handoff is closed or the reply was relayed already."""
        current = await self.get(handoff.id)
        if current is None or current.status != "open":
            return False
        seen = f"{_record_key(handoff.id)}:relayed:{message_id}"
        if message_id and not await self._redis.set(seen, 1, nx=True, ex=self.policy.keep_s):
            return False
        shown = staff if self.policy.show_staff_names else ""
        await self._outbox.put(current.platform, StaffToShopper(current.conversation, text, shown))
        answer = f"{current.staff_answer}\n\n{text}".strip()
        await self._redis.hset(_record_key(handoff.id), "staff_answer", answer)
        await self._redis.zrem(WAITING, handoff.id)
        return True

    async def resolve(self, handoff_id: str, by: str) -> Handoff | None:
        """Closes the handoff and gives the conversation back to the bot; None if it was not open."""
        handoff = await self.get(handoff_id)
        if handoff is None or handoff.status != "open":
            return None
        if not await self._redis.set(f"{_record_key(handoff_id)}:closing", by, nx=True, ex=self.policy.keep_s):
            return None  # someone else is closing it at this moment
        await self._redis.hset(_record_key(handoff_id), mapping={"status": "closed", "closed_by": by})
        await self._redis.zrem(WAITING, handoff_id)
        key = open_key(handoff.platform, handoff.conversation)
        if await self._redis.get(key) == handoff_id.encode():
            await self._redis.delete(key)
        resolved = Resolved(handoff_id, handoff.conversation, handoff.name, by)
        await self._outbox.put(handoff.platform, resolved)
        await self._outbox.put(self.policy.staff_platform, resolved)
        await self._activity.record("resolved", handoff.platform, handoff.conversation, handoff.user,
                                    handoff=handoff_id, question=handoff.question, declined=str(int(handoff.declined)),
                                    staff_answer=(await self.get(handoff_id) or handoff).staff_answer, by=by)
        return handoff

    async def remind(self, now: float | None = None) -> int:
        """Reminds staff of handoffs nobody answered in time, and tells those shoppers honestly; each once."""
        cutoff = (now or time.time()) - self.policy.remind_after_s
        reminded = 0
        due: Any = await self._redis.zrangebyscore(WAITING, "-inf", cutoff)
        for raw in due:
            handoff_id = as_text(raw)
            if not await self._redis.zrem(WAITING, handoff_id):
                continue  # another process reminded it
            handoff = await self.get(handoff_id)
            if handoff is None or handoff.status != "open":
                continue
            minutes = max(1, round(self.policy.remind_after_s / 60))
            reminder = Reminder(handoff_id, handoff.conversation, handoff.name, minutes)
            await self._outbox.put(self.policy.staff_platform, reminder)
            await self._outbox.put(handoff.platform, reminder)
            reminded += 1
        return reminded

    async def _save(self, handoff: Handoff) -> None:
        fields = {k: (str(int(v)) if isinstance(v, bool) else str(v)) for k, v in asdict(handoff).items()}
        key = _record_key(handoff.id)
        await self._redis.hset(key, mapping=fields)  # type: ignore[arg-type]  # redis-py's mapping type is invariant
        await self._redis.expire(key, self.policy.keep_s)


async def send_reminders(desk: HandoffDesk, every_s: float) -> None:
    """Runs until cancelled; every serving process runs it, and each reminder is sent once. A Redis
    outage pauses it."""

    async def run(connected: Connected) -> None:
        while True:
            await asyncio.sleep(every_s)
            await desk.remind()
            connected()

    await supervised("handoff reminders", run)
