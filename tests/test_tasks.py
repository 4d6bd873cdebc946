"""Supervised background loops: started again after each failure with backoff, logged once per outage,
and still stopped at once by a shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Connection
from redis.exceptions import ClusterDownError, RedisClusterException, SlotNotCoveredError
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.handoff.desk import send_reminders
from bot.tasks import Connected, cancel_and_wait, passing, supervised


async def test_a_failing_loop_is_started_again_and_each_outage_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = ["fail", "fail", "fail", "up-then-fail", "fail", "up"]
    runs: list[str] = []
    done = asyncio.Event()

    async def run(connected: Connected) -> None:
        step = script[len(runs)]
        runs.append(step)
        if step.startswith("up"):
            connected()
            if step == "up":
                done.set()
                await asyncio.Event().wait()
            await asyncio.sleep(0.06)  # up for longer than the longest wait: the next failure is a new outage
        raise RedisConnectionError("Connection refused")

    with caplog.at_level(logging.DEBUG, logger="bot.tasks"):
        task = asyncio.create_task(supervised("test loop", run, first_delay_s=0.01, max_delay_s=0.05))
        await asyncio.wait_for(done.wait(), 5)
        await cancel_and_wait(task)
    assert runs == script
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["test loop: Redis unavailable (ConnectionError: Connection refused); retrying until it is "
                        "back"] * 2  # two outages, each logged once
    assert sum("working again" in r.getMessage() for r in caplog.records) == 2
    assert all(r.exc_info is None for r in caplog.records)


async def test_an_unexpected_error_is_logged_with_its_traceback_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = 0
    done = asyncio.Event()

    async def run(connected: Connected) -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise ValueError("a bug")
        done.set()
        await asyncio.Event().wait()

    with caplog.at_level(logging.WARNING, logger="bot.tasks"):
        task = asyncio.create_task(supervised("buggy", run, first_delay_s=0.01))
        await asyncio.wait_for(done.wait(), 5)
        await cancel_and_wait(task)
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None


async def test_a_shutdown_stops_it_at_once_even_while_it_waits(caplog: pytest.LogCaptureFixture) -> None:
    started = asyncio.Event()

    async def run(connected: Connected) -> None:
        started.set()
        raise RedisConnectionError("down")

    task = asyncio.create_task(supervised("waiting", run, first_delay_s=30, max_delay_s=30))
    await started.wait()
    await asyncio.sleep(0)  # now in its backoff
    begun = asyncio.get_running_loop().time()
    await cancel_and_wait(task)
    assert task.cancelled() and asyncio.get_running_loop().time() - begun < 0.5


class _FlakyDesk:
    def __init__(self) -> None:
        self.calls = 0
        self.reminded = asyncio.Event()

    async def remind(self) -> int:
        self.calls += 1
        if self.calls <= 2:
            raise RedisConnectionError("Connection reset by peer")
        self.reminded.set()
        return 0


async def test_handoff_reminders_go_on_after_redis_errors() -> None:
    desk = _FlakyDesk()
    task = asyncio.create_task(send_reminders(desk, 0.01))  # type: ignore[arg-type]  # only remind() is used
    try:
        await asyncio.wait_for(desk.reminded.wait(), 5)
    finally:
        await cancel_and_wait(task)
    assert desk.calls >= 3


async def test_what_counts_as_a_passing_failure() -> None:
    """Worth answering later: Redis unreachable, on one server or a cluster (whose client wraps the connection
    error), a cluster missing slots for now, and redis-py's own lost writer when a reconnect races a command.
    A bug of ours is not."""
    def wrapped(cause: Exception) -> RedisClusterException:
        try:
            raise RedisClusterException("Redis Cluster cannot be connected") from cause
        except RedisClusterException as err:
            return err

    try:
        await Connection()._send_packed_command([b"PING"])  # no connection: redis-py's writer is None
    except AttributeError as err:
        redis_race: AttributeError = err
    assert passing(RedisConnectionError("refused")) and passing(wrapped(RedisConnectionError("refused")))
    assert passing(ClusterDownError("CLUSTERDOWN")) and passing(SlotNotCoveredError("slot 7 not covered"))
    assert passing(redis_race)
    assert not passing(wrapped(ValueError("a bug"))) and not passing(AttributeError("ours"))
    assert not passing(ValueError("a bug")) and not passing(None)
