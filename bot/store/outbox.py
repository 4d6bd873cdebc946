"""Messages between platforms through Redis: one stream per platform, read with a consumer group.

One consumer per platform delivers at a time (it holds a lease in Redis), so a conversation's messages
go out in the order they were queued, whichever process queued them. A delivery is acknowledged only
after the adapter has sent it: when the delivering process stops mid-way, its lease runs out and the
next process takes over, first delivering every entry read but never acknowledged — in stream order —
and only then new ones. A delivery that keeps failing is moved to a dead-letter stream after
`max_attempts`, logged, and no longer blocks the ones behind it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from bot.outbound import Outbound, ReplyTo, decode, encode
from bot.store.redis_keys import PREFIX, RedisClient, as_fields, as_text, same_slot
from bot.tasks import Connected, supervised
from bot.types import Reply

GROUP = "storebot"
DEAD_LETTERS = f"{PREFIX}:outbox:dead"
QUEUED_TTL_S = 24 * 3600  # a count left by a lost entry stops holding the conversation back after a day
log = logging.getLogger(__name__)


def consumer_name(platform: str) -> str:
    """Unique per process: the lease says which process delivers, the name whose entries are pending."""
    return f"{platform}-{socket.gethostname()}-{os.getpid()}"


def outbox_stream(platform: str) -> str:
    return f"{PREFIX}:outbox:{platform}"


def _queued_key(stream: str, conversation: str) -> str:
    """How many of the conversation's answers wait in the stream: in the stream's cluster slot, so that the
    count and the entry are written in one transaction."""
    return same_slot(stream, f"queued:{conversation}")


def _legacy_queued_key(stream: str, conversation: str) -> str:
    """The count's name before clusters: entries queued then are counted here until delivered (at most a day,
    QUEUED_TTL_S; then this name can go)."""
    return f"{stream}:queued:{conversation}"


class Undeliverable(Exception):
    """Raised by a deliver function when retrying cannot help (the chat is gone, the bot was blocked):
    the entry goes straight to the dead letters instead of holding up the ones behind it."""


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    event: Outbound


Deliver = Callable[[Delivery], Awaitable[None]]


class Outbox:
    def __init__(self, redis: RedisClient, lease_ms: int = 10_000, block_ms: int = 1000, max_attempts: int = 16,
                 retention: int = 100_000) -> None:
        self._redis = redis
        self._lease_ms = lease_ms  # how long a stopped deliverer holds up the others, at most
        self._block_ms = block_ms
        self._max_attempts = max_attempts
        self._retention = retention

    async def put(self, to: str, event: Outbound) -> str:
        """Queues an event for the adapters of platform `to`."""
        entry: dict[Any, Any] = encode(event)
        return as_text(await self._redis.xadd(outbox_stream(to), entry, maxlen=self._retention, approximate=True))

    async def queue_reply(self, platform: str, conversation: str, reply: Reply, sent_parts: int = 0) -> str:
        """An answer the platform would not take now: sent by the outbox's deliverer when it does. Until then
        the conversation's later answers queue behind it (`has_queued`), so the shopper reads them in order."""
        stream = outbox_stream(platform)
        queued = _queued_key(stream, conversation)
        entry: dict[Any, Any] = encode(ReplyTo(conversation, reply, sent_parts))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(queued)
            pipe.expire(queued, QUEUED_TTL_S)
            pipe.xadd(stream, entry, maxlen=self._retention, approximate=True)
            *_, entry_id = await pipe.execute()
        return as_text(entry_id)

    async def has_queued(self, platform: str, conversation: str) -> bool:
        stream = outbox_stream(platform)
        async with self._redis.pipeline(transaction=False) as pipe:  # two slots in a cluster
            pipe.get(_queued_key(stream, conversation))
            pipe.get(_legacy_queued_key(stream, conversation))
            counts = await pipe.execute()
        return any(int(count or 0) > 0 for count in counts)

    async def consume(self, platform: str, consumer: str, deliver: Deliver,
                      ready: asyncio.Event | None = None) -> None:
        """Runs until cancelled, handing each entry for `platform` to `deliver` in order. Redis being
        unreachable for a while (or restarted empty) pauses delivery; it never ends it."""
        stream = outbox_stream(platform)
        await self._ensure_group(stream)  # an error at start-up is the caller's (see start_consuming)
        attempts: dict[str, int] = {}
        if ready is not None:
            ready.set()

        async def run(connected: Connected) -> None:
            await self._ensure_group(stream)  # a Redis restarted without data lost the group
            connected()
            leading = False
            while True:
                if not await self._lead(stream, consumer):
                    leading = False
                    await asyncio.sleep(self._lease_ms / 5000)  # standby: another process delivers
                    continue
                if not leading:  # newly in charge: what the previous deliverer left comes first
                    await self._take_over(stream, consumer)
                    leading = True
                await self._deliver_some(stream, consumer, deliver, attempts)

        await supervised(f"outbox consumer {platform}", run)

    async def _ensure_group(self, stream: str) -> None:
        try:
            await self._redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise

    async def _lead(self, stream: str, consumer: str) -> bool:
        """Takes or renews this consumer's lease on the stream; False while another consumer holds it."""
        return bool(await self._redis.eval(_LEASE, 1, f"{stream}:deliverer", consumer, self._lease_ms))

    async def _deliver_some(self, stream: str, consumer: str, deliver: Deliver, attempts: dict[str, int]) -> None:
        entries = await self._read(stream, consumer, "0")  # mine, read before but not acknowledged
        if not entries:
            entries = await self._read(stream, consumer, ">", block=True)
        for delivery in entries:
            try:
                await deliver(delivery)
            except asyncio.CancelledError:
                raise
            except Undeliverable as err:
                log.warning("delivery %s on %s is undeliverable: %s", delivery.id, stream, err)
                await self._dead_letter(stream, delivery.id, encode(delivery.event))
            except Exception:
                attempts[delivery.id] = attempts.get(delivery.id, 0) + 1
                log.exception("delivery %s on %s failed (attempt %d)", delivery.id, stream, attempts[delivery.id])
                if attempts[delivery.id] < self._max_attempts:
                    # 0.2 s doubling to 30 s: 16 attempts outlast a platform outage of about five minutes
                    await asyncio.sleep(min(2 ** attempts[delivery.id] * 0.1, 30))
                    return  # keep the order: retry this one before the ones behind it
                await self._dead_letter(stream, delivery.id, encode(delivery.event))
                log.error("delivery %s on %s given up after %d attempts", delivery.id, stream, self._max_attempts)
            attempts.pop(delivery.id, None)
            await self._redis.xack(stream, GROUP, delivery.id)
            if isinstance(delivery.event, ReplyTo):  # sent (or set aside): the conversation's next answers go direct
                await self._unqueue(stream, delivery.event.conversation)
            if not await self._lead(stream, consumer):
                return  # the lease ran out during a slow delivery: let whoever holds it now go on

    async def _unqueue(self, stream: str, conversation: str) -> None:
        """One answer fewer waiting, never fewer than none. Entries queued before the count was renamed are
        older than any counted under the new name, so they are delivered (and uncounted) first."""
        for key in (_legacy_queued_key(stream, conversation), _queued_key(stream, conversation)):
            if int(await self._redis.eval(_UNQUEUE, 1, key)):
                return

    async def _dead_letter(self, stream: str, entry_id: str, entry: dict[str, str]) -> None:
        dead: dict[Any, Any] = {"stream": stream, "entry": entry_id, **entry}
        await self._redis.xadd(DEAD_LETTERS, dead, maxlen=self._retention, approximate=True)

    async def _read(self, stream: str, consumer: str, position: str, block: bool = False) -> list[Delivery]:
        found: Any = await self._redis.xreadgroup(GROUP, consumer, {stream: position}, count=5,
                                                  block=self._block_ms if block else None)
        deliveries = []
        for _, entries in found or []:
            for raw_id, raw in entries:
                entry_id, entry = as_text(raw_id), as_fields(raw)
                if not entry:
                    continue  # trimmed away while pending
                try:
                    deliveries.append(Delivery(entry_id, decode(entry)))
                except ValueError as err:  # written by another version, or damaged: no sender could use it
                    log.error("outbox entry %s on %s dropped: %s", entry_id, stream, err)
                    await self._dead_letter(stream, entry_id, entry)
                    await self._redis.xack(stream, GROUP, entry_id)
        return deliveries

    async def _take_over(self, stream: str, consumer: str) -> None:
        """Makes every entry other consumers read and never acknowledged this consumer's own, so that they are
        delivered — in stream order, with its own pending ones — before anything new."""
        start = "0-0"
        while True:
            reply: Any = await self._redis.xautoclaim(stream, GROUP, consumer, 0, start, count=100)
            start = as_text(reply[0])
            if start == "0-0":
                return


_UNQUEUE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  redis.call('DECR', KEYS[1])
  return 1
end
return 0
"""

_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


async def start_consuming(outbox: Outbox, platform: str, deliver: Deliver) -> asyncio.Task[None]:
    """The running consumer task, once its group exists; a start-up error is raised here, not lost."""
    ready = asyncio.Event()
    task = asyncio.create_task(outbox.consume(platform, consumer_name(platform), deliver, ready))
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if task.done():
        task.result()  # raises what stopped it
    return task
