"""Background tasks: kept running through Redis outages, and stopped reliably."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from redis.exceptions import ClusterDownError, RedisClusterException, RedisError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
T = TypeVar("T")
Connected = Callable[[], None]


class _Outage:
    """When a supervised loop last failed or came back, and how long to wait before its next try."""

    def __init__(self, name: str, first_delay_s: float, max_delay_s: float) -> None:
        self.name = name
        self._first = first_delay_s
        self._max = max_delay_s
        self._delay = first_delay_s
        self._down_since: float | None = None
        self._up_since: float | None = None

    def connected(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._down_since is not None:
            log.info("%s: working again after %.1f s", self.name, now - self._down_since)
            self._down_since = None
        if self._up_since is None:
            self._up_since = now

    def failed(self, err: BaseException | None) -> float:
        """Logs the first failure of an outage (later ones only at debug); returns the time to wait."""
        now = asyncio.get_running_loop().time()
        if self._up_since is not None and now - self._up_since >= self._max:
            self._delay = self._first  # it had been working a while: a new outage starts from the shortest wait
        self._up_since = None
        if self._down_since is not None:
            log.debug("%s: still failing (%r)", self.name, err)
        elif err is None:
            log.warning("%s ended unexpectedly; starting it again", self.name)
        elif isinstance(err, RedisError | OSError) or passing(err):
            log.warning("%s: Redis unavailable (%s: %s); retrying until it is back", self.name,
                        type(err).__name__, err)
        else:
            log.error("%s failed; starting it again", self.name, exc_info=err)
        if self._down_since is None:
            self._down_since = now
        # Jitter: processes that lost Redis together do not all come back in the same instant.
        wait = self._delay * random.uniform(0.5, 1.0)
        self._delay = min(self._delay * 2, self._max)
        return wait


async def supervised(name: str, run: Callable[[Connected], Awaitable[None]], *, first_delay_s: float = 0.1,
                     max_delay_s: float = 5.0) -> None:
    """Runs `run(connected)` until cancelled, and again whenever it fails or ends (Redis unreachable or
    restarted, or a bug): the failure is logged once per outage, then it waits with capped exponential
    backoff and jitter. `run` starts from scratch each time (connect, subscribe, recreate its group)
    and calls `connected()` once it works, which ends the outage."""
    outage = _Outage(name, first_delay_s, max_delay_s)
    while True:
        err: Exception | None = None
        try:
            await run(outage.connected)
        except Exception as caught:  # cancellation (shutdown) is not an Exception: it ends the loop
            err = caught
        await asyncio.sleep(outage.failed(err))


async def cancel_and_wait(*tasks: asyncio.Task[object]) -> None:
    """Cancels the tasks and waits for them to end. A cancellation can be lost when it races with a
    Redis reply arriving inside redis-py's timeout handling (Python 3.11), and the task would keep
    running, so it is repeated until each task is done."""
    for task in tasks:
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1)


class InOrder:
    """One at a time per key, in the order they asked (asyncio.Lock wakes its waiters first come, first served):
    a conversation's messages are answered and sent in the order they arrived at this process."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, waiting = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiting = self._locks[key]
            if waiting == 1:
                del self._locks[key]  # nobody else: no lock kept for a conversation that went quiet
            else:
                self._locks[key] = (lock, waiting - 1)

    def __len__(self) -> int:
        return len(self._locks)


def passing(err: BaseException | None) -> bool:
    """A failure worth trying again later as it is: Redis unreachable or timing out, or a cluster without all of
    its slots for now (not a bug, not bad input)."""
    if isinstance(err, RedisClusterException) and not isinstance(err, SlotNotCoveredError):
        # What a cluster client says when it reaches none of the nodes: passing if what caused it is.
        return passing(err.__cause__ or err.__context__)
    if isinstance(err, AttributeError) and _raised_in(err, "redis/asyncio/connection.py"):
        # redis-py (8.1) loses a connection's writer when a reconnect races with a command in flight (seen with
        # the cluster client as its nodes come back): a dropped connection, not a bug to apologise for.
        return True
    return isinstance(err, (RedisConnectionError, RedisTimeoutError, ConnectionRefusedError, ClusterDownError,
                            TryAgainError, SlotNotCoveredError))


def _raised_in(err: BaseException, module_path: str) -> bool:
    frame = err.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return frame is not None and frame.tb_frame.f_code.co_filename.replace("\\", "/").endswith(module_path)


GIVE_UP_AFTER_S = 600.0  # a question kept through a Redis outage this long is apologised for instead


async def retry_passing(work: Callable[[], Awaitable[T]], *, give_up_after_s: float = GIVE_UP_AFTER_S,
                           first_delay_s: float = 0.1, max_delay_s: float = 2.0) -> T:
    """`work()`, tried again with capped backoff while it fails for a passing reason (Redis unreachable): a
    question taken in is answered once Redis is back, not lost. Other failures, and the last one, are raised."""
    loop = asyncio.get_running_loop()
    deadline, delay, warned = loop.time() + give_up_after_s, first_delay_s, False
    while True:
        try:
            return await work()
        except Exception as err:
            if not passing(err) or loop.time() + delay > deadline:
                raise
            if not warned:
                log.warning("Redis unavailable (%s); trying again until it is back", type(err).__name__)
                warned = True
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        delay = min(delay * 2, max_delay_s)
