"""The conversation lock on real Redis: renewed while its message is answered, so it can time out quickly
when the process holding it dies."""

from __future__ import annotations

import asyncio
import random

import pytest
from redis.asyncio import Redis

from bot.store import memory
from bot.store.memory import RedisState


async def test_a_slow_answer_keeps_the_conversation_and_a_dead_holder_s_lock_times_out(
    redis_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory, "LOCK_TIMEOUT_MS", 300)
    redis = Redis.from_url(redis_url)
    state, chat = RedisState(redis, 10, 3600, 100, 600), str(random.randrange(10**9))
    lock = RedisState.lock_key("telegram", chat)
    try:
        async with state.admit("telegram", chat, "u1") as admission:
            assert not admission.duplicate
            await asyncio.sleep(1.0)  # three lock timeouts
            assert await redis.exists(lock)  # still held: renewed
            waiting = asyncio.create_task(_admitted(state, chat))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # the next message waits its turn
        await asyncio.wait_for(waiting, 2)
        await redis.set(lock, "a-dead-process", px=300)  # its process died holding it: never renewed
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(_admitted(state, chat), 2)
        assert loop.time() - started < 1
    finally:
        await redis.aclose()


async def _admitted(state: RedisState, chat: str) -> None:
    async with state.admit("telegram", chat, "u2"):
        pass
