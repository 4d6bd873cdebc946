"""Every question a platform delivers, written down in Redis before it is acknowledged, answered in the
platform's order across processes, and answered by another process when the one that took it dies.

`take` is the intake: it drops a delivery again of an event already taken (its id is marked seen), adds the
event to its conversation's pending set — scored by the platform's own order (Telegram's update id, Slack's
message ts) — and keeps it in this process's journal (a hash, one field per event) until `process` has
answered it. `process` waits until no earlier question of the conversation is pending, whichever process
took it, then runs the answer, retrying it while Redis is unreachable, and marks it done. Each process keeps
an "alive" key fresh; `run` adopts the journal of a process whose key lapsed (killed, crashed) and answers
what it left. A platform's redelivery of such a question meets its seen mark and is dropped: the journal,
not the platform, makes sure it is answered. A take whose reply was lost with its connection leaves the
question marked as this process's: its next delivery here, or `run`'s sweep of this process's own journal
(what it has not in hand), answers it. A process told to stop (SIGTERM) `drain`s first: its adapters take
nothing new, and what it has in hand is answered and done before its alive key goes.

Keys: the seen mark and the pending set share the conversation's hash tag (one Lua script writes both, also
in a Redis Cluster); journals are one key per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.store import scripts
from bot.store.journal_keys import alive_key, journal_key, journals_key, pending_key, seen_key
from bot.store.redis_keys import RedisClient, as_text
from bot.tasks import Connected, cancel_and_wait, retry_passing, supervised

log = logging.getLogger(__name__)
ALIVE_TTL_S = 5  # a process silent this long is taken for dead and its journal adopted
HEARTBEAT_S = 1.0
# Connected this long before adopting anyone: after an outage every live process says so again within its
# supervised backoff (at most 5 s), and one cut off from Redis is not dead.
ADOPT_AFTER_S = ALIVE_TTL_S + 7.0
# A waiting question looks again 5 ms after it started waiting, then less and less often (up to 0.25 s), unless
# a question of its conversation is done in this process, which wakes it at once. Only the earliest of a
# conversation's questions in this process looks in Redis; the later ones wait for it to be done (looking
# again at least every LOCAL_WAIT_S): hundreds of waiters in a burst must not exhaust the Redis connection
# pool, and a question answered must be marked done at once, not queue for a connection.
TURN_POLL_S = (0.005, 0.25)
LOCAL_WAIT_S = 1.0
ORDER_WAIT_S = 90.0  # a question waits at most this long for an earlier one (lost with a Redis wiped clean)
PENDING_TTL_S = 24 * 3600  # a pending set left by a lost question stops holding its conversation after a day
DRAIN_POLL_S = 0.05
ADOPT_LEASE_MS = 120_000  # one process adopts a dead journal; if it dies too, another takes over after this


@dataclass(frozen=True, slots=True)
class Taken:
    """A question taken in: its conversation, its place in it, and what the adapter needs to answer it again."""

    platform: str
    conversation: str
    event: str  # the platform's delivery id (its field in the journal)
    order: float  # its place in the conversation, by the platform's own order
    journal: str  # the journal (Redis hash) that holds it until answered
    payload: str  # the adapter's own encoding of the event


def platform_order(value: object) -> float:
    """A platform's own order of an event (Telegram's update id, Slack's ts) as a score; 0 for one that is not a
    finite number (never sent by the platform itself: such an event goes first rather than failing)."""
    try:
        order = float(str(value))
    except ValueError:
        return 0.0
    return order if math.isfinite(order) else 0.0


def _pending(taken: Taken) -> str:
    return pending_key(taken.platform, taken.conversation)


def _forget(adopting: dict[str, asyncio.Task[None]], name: str, _: object) -> None:
    adopting.pop(name, None)


class Journal:
    def __init__(self, redis: RedisClient, consumer: str, seen_ttl_s: int) -> None:
        self._redis = redis
        self.consumer = consumer  # unique per process (host and pid)
        self._seen_ttl = seen_ttl_s
        self._take = redis.register_script(scripts.TAKE)
        self._in_hand: set[tuple[str, str]] = set()  # (platform, event) being taken or answered by this process
        self._done_here: dict[tuple[str, str], asyncio.Event] = {}  # per (platform, conversation): set on a finish
        # Per (platform, conversation): the order of each of its questions being processed here (event → order).
        self._processing: dict[tuple[str, str], dict[str, float]] = {}
        self._running: set[str] = set()  # the platforms whose `run` keeps this process's (one) alive key fresh
        self._draining = False  # stopping: no more adopting

    async def take(self, platform: str, conversation: str, event: str, order: float, payload: str) -> Taken | None:
        """The question, journalled and pending; None for a delivery again of an event already taken.
        Raises while Redis is unreachable: nothing is acknowledged to the platform then."""
        if (platform, event) in self._in_hand:
            return None  # a delivery again, while this process takes or answers the first
        self._in_hand.add((platform, event))
        journal = journal_key(platform, self.consumer)
        taken = Taken(platform, conversation, event, order, journal, payload)
        try:
            # Journalled before it is marked: a failure in between leaves an entry never marked, which an
            # adopter marks (or finds taken by someone else) — never a mark whose event nobody keeps.
            await self._redis.hset(journal, event, json.dumps({"conversation": conversation, "order": order,
                                                               "payload": payload}))
            outcome = await self._mark(taken, self.consumer)
            # -1 (marked by this process) and still pending: an earlier try here marked it and then failed
            # (its reply lost with the connection), so it is this delivery's to answer.
            if outcome == 0 or (outcome == -1 and await self._redis.zscore(_pending(taken), event) is None):
                # Another process took it (its journal holds it), or this one has answered it already.
                await self._redis.hdel(journal, event)
                self._in_hand.discard((platform, event))
                return None
        except BaseException:
            self._in_hand.discard((platform, event))
            raise
        return taken

    async def _mark(self, taken: Taken, taker: str) -> int:
        keys = [seen_key(taken.platform, taken.conversation, taken.event), _pending(taken)]
        return int(await self._take(keys=keys, args=[self._seen_ttl, PENDING_TTL_S, taker, repr(taken.order),
                                                     taken.event]))

    async def process(self, taken: Taken, answer: Callable[[], Awaitable[None]]) -> None:
        """Answers the question in its conversation's turn; retried while Redis is unreachable. Done (and out
        of the journal) once `answer` returned or failed for good — not if this process is stopped."""
        conversation = (taken.platform, taken.conversation)
        self._processing.setdefault(conversation, {})[taken.event] = taken.order
        try:
            await retry_passing(lambda: self._wait_turn(taken))
            try:
                await retry_passing(answer)
            except asyncio.CancelledError:
                raise  # stopped: the journal keeps it, and the process that adopts it answers it
            except BaseException:
                await retry_passing(lambda: self._finish(taken))
                raise
            await retry_passing(lambda: self._finish(taken))
        finally:
            self._in_hand.discard((taken.platform, taken.event))
            here = self._processing.get(conversation, {})
            here.pop(taken.event, None)
            if not here:
                self._processing.pop(conversation, None)
            self._wake(conversation)  # the next of its conversation here looks (done, failed or stopped)

    async def _wait_turn(self, taken: Taken) -> None:
        loop = asyncio.get_running_loop()
        give_up, pause = loop.time() + ORDER_WAIT_S, TURN_POLL_S[0]
        conversation = (taken.platform, taken.conversation)
        while True:
            if any(order < taken.order for order in self._processing.get(conversation, {}).values()):
                await self._nap(conversation, LOCAL_WAIT_S)  # an earlier question here looks for both
                continue
            first: Any = await self._redis.zrange(_pending(taken), 0, 0, withscores=True)
            if not first or as_text(first[0][0]) == taken.event or first[0][1] > taken.order:
                return  # nothing earlier pending (or Redis lost the set: nothing left to wait for)
            if loop.time() > give_up:
                log.warning("%s %s: %s answered without waiting longer for %s", taken.platform, taken.conversation,
                            taken.event, as_text(first[0][0]))
                return
            await self._nap(conversation, pause)
            pause = min(pause * 1.5, TURN_POLL_S[1])

    async def _nap(self, conversation: tuple[str, str], seconds: float) -> None:
        """Waits until a question of the conversation is done in this process, or `seconds` (the one before may
        be another process's: looked at again then)."""
        done = self._done_here.setdefault(conversation, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), seconds)

    async def _finish(self, taken: Taken) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:  # one trip: a short window for a crash
            pipe.zrem(_pending(taken), taken.event)
            pipe.hdel(taken.journal, taken.event)
            await pipe.execute()
        self._wake((taken.platform, taken.conversation))

    def _wake(self, conversation: tuple[str, str]) -> None:
        done = self._done_here.pop(conversation, None)
        if done is not None:
            done.set()  # its waiters here look at once

    async def drain(self, platform: str, within_s: float) -> None:
        """Stopping (SIGTERM): waits, at most `within_s`, until the questions of `platform` this process has
        in hand are answered and done — the adapter has stopped taking new ones — so that none is answered again
        by the process that adopts what is left: that one could not tell a reply sent from one never sent."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + within_s
        self._draining = True
        # Polled: questions leave `_in_hand` in several places (done, dropped as taken elsewhere, failed).
        while (left := sum(p == platform for p, _ in self._in_hand)) and loop.time() < give_up:  # noqa: ASYNC110
            await asyncio.sleep(DRAIN_POLL_S)
        if left:
            log.warning("stopping with %d %s question(s) in hand: another process answers them", left, platform)

    async def run(self, platform: str, answer_again: Callable[[Taken], Awaitable[None]]) -> None:
        """Until cancelled: keeps this process marked alive, and adopts the journal of any process that is not."""
        adopting: dict[str, asyncio.Task[None]] = {}

        async def beat_and_adopt(connected: Connected) -> None:
            loop = asyncio.get_running_loop()
            since = loop.time()
            while True:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.set(alive_key(self.consumer), 1, ex=ALIVE_TTL_S)
                    pipe.sadd(journals_key(platform), self.consumer)
                    await pipe.execute()
                connected()
                if self._draining:
                    continue  # stopping: it only says it is alive until its questions in hand are done
                if self.consumer not in adopting:  # what this process took and lost track of (see `take`)
                    adopting[self.consumer] = asyncio.create_task(self._adopt(platform, self.consumer, answer_again))
                    adopting[self.consumer].add_done_callback(partial(_forget, adopting, self.consumer))
                await asyncio.sleep(HEARTBEAT_S)
                if loop.time() - since < ADOPT_AFTER_S:
                    continue  # just (re)connected: the others may not have said they are alive yet
                for other in map(as_text, await self._redis.smembers(journals_key(platform))):
                    if other == self.consumer or other in adopting or await self._redis.exists(alive_key(other)):
                        continue
                    # A task of its own: answering what it left takes a while, and the heartbeat must go on.
                    adopting[other] = asyncio.create_task(self._adopt(platform, other, answer_again))
                    adopting[other].add_done_callback(partial(_forget, adopting, other))

        self._running.add(platform)
        try:
            await supervised(f"journal {platform}", beat_and_adopt)
        finally:
            self._running.discard(platform)
            await cancel_and_wait(*adopting.values())
            if not self._running:  # the last platform stopped: whatever is left here is adopted at once
                with contextlib.suppress(Exception):
                    await self._redis.delete(alive_key(self.consumer))

    async def _adopt(self, platform: str, owner: str, answer_again: Callable[[Taken], Awaitable[None]]) -> None:
        """Answers what a stopped process's journal holds — or this process's own entries it no longer has in
        hand (a take whose reply was lost with its connection, then delivered to another process)."""
        journal, own = journal_key(platform, owner), owner == self.consumer
        try:
            if not own and not await self._redis.set(f"{journal}:adopter", self.consumer, nx=True, px=ADOPT_LEASE_MS):
                return  # another process is at it
            left: Any = await self._redis.hgetall(journal)
            fields = [(as_text(f), as_text(raw)) for f, raw in left.items()]
            taken = [await self._as_taken(platform, journal, owner, field, raw) for field, raw in fields
                     if not own or (platform, field) not in self._in_hand]
            found = sorted((t for t in taken if t is not None), key=lambda t: (t.conversation, t.order))
            if found:
                log.warning("answering %d %s question(s) left unanswered by %s", len(found), platform,
                            "this process" if own else f"stopped process {owner}")
            self._in_hand.update((platform, t.event) for t in found)
            results = await asyncio.gather(*(answer_again(t) for t in found), return_exceptions=True)
            for t, result in zip(found, results, strict=True):
                if isinstance(result, Exception):
                    log.error("adopted %s question %s failed", platform, t.event, exc_info=result)
                if (platform, t.event) in self._in_hand:  # never processed (not a question after all): done
                    self._in_hand.discard((platform, t.event))
                    await self._finish(t)
            if not own and not await self._redis.hlen(journal):
                await self._redis.srem(journals_key(platform), owner)
            if not own:
                await self._redis.delete(f"{journal}:adopter")
        except asyncio.CancelledError:  # stopping: another process may adopt it at once, not after the lease
            with contextlib.suppress(Exception):
                if not own and as_text(await self._redis.get(f"{journal}:adopter") or b"") == self.consumer:
                    await self._redis.delete(f"{journal}:adopter")
            raise
        except Exception:  # Redis went away meanwhile: the lease runs out and the next look adopts it again
            log.exception("adopting the %s journal of %s failed", platform, owner)

    async def _as_taken(self, platform: str, journal: str, dead: str, event: str, raw: str) -> Taken | None:
        """A journal entry as taken by the dead process (marked now if it never was). None (and out of the
        journal) if another process took the same event."""
        try:
            entry = json.loads(raw)
            taken = Taken(platform, str(entry["conversation"]), event, float(entry["order"]), journal,
                          str(entry["payload"]))
        except (ValueError, KeyError, TypeError):
            log.error("journal %s: entry %s unreadable, dropped", journal, event)
            await self._redis.hdel(journal, event)
            return None
        taker = await self._redis.get(seen_key(platform, taken.conversation, event))
        if taker is None:  # never marked: it is the dead process's, unless another one took it meanwhile
            if await self._mark(taken, dead) != 0:
                return taken
        elif as_text(taker) == dead and await self._redis.zscore(_pending(taken), event) is not None:
            return taken
        # Another process's, or answered already (a delivery again rewrote the entry after it was done).
        await self._redis.hdel(journal, event)
        return None
