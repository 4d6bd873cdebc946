"""The faults — Redis killed and started again, a serve process killed — and the wait after a scenario for the
replies still on their way."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from bench.replay.model import Conversation, Process, Scenario, lock_key
from bench.replay.platforms import Replies
from bot.store.journal_keys import journal_key
from bot.store.redis_keys import RedisClient
from tests.redis_server import LocalCluster, RedisServer


class Cluster:
    """The tests' three-master Redis Cluster, as the bench's Redis: an outage stops every node."""

    def __init__(self, directory: Path, append_only: bool) -> None:
        self._cluster = LocalCluster(directory, append_only)
        self.url, self.append_only = self._cluster.url, append_only
        self._created = False

    async def start(self) -> None:
        if not self._created:
            await asyncio.to_thread(self._cluster.start)
            self._created = True
            return
        for port in self._cluster.ports:  # each node keeps its slots (and, append-only, its keys) in its folder
            self._cluster.start_node(port)
        await asyncio.to_thread(self._cluster.wait_ok)

    async def stop(self) -> None:
        await asyncio.to_thread(self._cluster.stop)


async def redis_outage(scenario: Scenario, redis: RedisServer | Cluster, outage_s: float) -> None:
    await scenario.fault_now.wait()
    if scenario.acked >= sum(len(c.questions) for c in scenario.conversations):
        scenario.fault_note = "not run: the scenario ended first"
        return
    stopped = scenario.redis_down = time.perf_counter()
    await redis.stop()
    await asyncio.sleep(outage_s)
    await redis.start()
    scenario.redis_back = time.perf_counter()
    scenario.fault_note = (f"Redis killed at {stopped - scenario.started:.1f} s (after {scenario.acked} questions "
                           f"acknowledged), back after {time.perf_counter() - stopped:.1f} s, "
                           + ("empty" if not redis.append_only else "with its data (append-only file)"))


async def kill_process(scenario: Scenario, process: Process, how: signal.Signals = signal.SIGKILL) -> None:
    """SIGKILL: a crash. SIGTERM: a deploy or a scale-down (`docker stop`), waited for until the process exits."""
    await scenario.fault_now.wait()
    if scenario.acked >= sum(len(c.questions) for c in scenario.conversations):
        scenario.fault_note = "not run: the scenario ended first"
        return
    sent = time.perf_counter()
    process.popen.send_signal(how)
    scenario.fault_note = (f"process {process.number} (pid {process.popen.pid}) sent {how.name} at "
                           f"{sent - scenario.started:.1f} s (after {scenario.acked} questions acknowledged)")
    if how != signal.SIGKILL:
        code = await asyncio.to_thread(process.popen.wait)
        scenario.fault_note += f"; it exited (code {code}) {time.perf_counter() - sent:.1f} s later"


def unanswered(scenario: Scenario) -> list[Conversation]:
    out = []
    for conversation in scenario.conversations:
        got = {k for _, kind, k in conversation.replies if kind == "answer"}
        if not {q.key for q in conversation.questions} <= got:
            out.append(conversation)
    return out


async def settle(scenario: Scenario, replies: Replies, redis: RedisClient, quiet_s: float = 5.0,
                 at_most_s: float = 90.0) -> None:
    """Waits for the replies still on their way: until every question has one, or none came for `quiet_s`, no
    conversation still waiting is locked in Redis, and no journal holds a question (a killed process's are
    adopted after a few seconds)."""
    deadline = time.perf_counter() + at_most_s
    while time.perf_counter() < deadline:
        waiting = unanswered(scenario)
        if not waiting:
            await asyncio.sleep(1.0)  # a duplicate may still be on its way
            return
        if time.perf_counter() - replies.last_reply > quiet_s:
            locked = sum([await redis.exists(lock_key(c)) for c in waiting])  # one slot at a time: also a cluster
            if not locked and not await _journalled(redis):
                return
        await asyncio.sleep(0.2)


async def _journalled(redis: RedisClient) -> int:
    """Questions taken in and not answered yet, by a live process or one that died (until adopted)."""
    left = 0
    async for key in redis.scan_iter(match=f"{journal_key('*', '*')}"):
        if await redis.type(key) == b"hash":
            left += int(await redis.hlen(key))
    return left
