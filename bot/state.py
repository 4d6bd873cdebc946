"""Conversation state in Redis: memory, dedupe, per-conversation locks, rate limits, erasure.

Every key is namespaced `storebot:` and expires. Any number of bot processes share one Redis.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from redis.asyncio import Redis

from bot.types import Citation, Focus, Turn

PREFIX = "storebot"


def as_text(value: object) -> str:
    """A Redis reply value as text (the client returns bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def as_fields(raw: Any) -> dict[str, str]:
    """A stream entry's or hash's fields as text."""
    return {as_text(k): as_text(v) for k, v in (raw or {}).items()}


async def stream_since(redis: Redis, stream: str, seconds: float) -> list[dict[str, str]]:
    """A stream's entries of the last `seconds`, by the Redis server's clock (which stamps the ids)."""
    start_ms = int((await redis.time())[0] * 1000 - seconds * 1000)
    raw: Any = await redis.xrange(stream, min=f"{max(start_ms, 0)}-0")
    return [as_fields(fields) for _, fields in raw]


def _turn_json(turn: Turn) -> str:
    return json.dumps({"role": turn.role, "text": turn.text, "citations": [asdict(c) for c in turn.citations],
                       "mode": turn.mode, "confident": turn.confident, "model": turn.model,
                       "focus": asdict(turn.focus) if turn.focus else None})


def _turn(raw: bytes | str) -> Turn:
    data = json.loads(raw)
    citations = tuple(Citation(**c) for c in data.get("citations", ()))
    focus = data.get("focus")
    return Turn(data["role"], data["text"], citations, data.get("mode", ""), data.get("confident", True),
                data.get("model", ""), Focus(tuple(focus["products"]), focus["topic"], focus.get("question", ""),
                                            tuple((n, v) for n, v in focus.get("options", ())))
                if focus else None)


class RedisState:
    def __init__(
        self, redis: Redis, memory_turns: int, memory_ttl_s: int, rate_per_minute: int, dedupe_ttl_s: int
    ) -> None:
        self.redis = redis
        self._turns = memory_turns
        self._ttl = memory_ttl_s
        self._rate = rate_per_minute
        self._dedupe_ttl = dedupe_ttl_s

    @staticmethod
    def memory_key(platform: str, conversation: str) -> str:
        return f"{PREFIX}:mem:{platform}:{conversation}"

    @staticmethod
    def _user_key(platform: str, user: str) -> str:
        return f"{PREFIX}:user:{platform}:{user}"

    async def first_delivery(self, platform: str, event_id: str) -> bool:
        """True the first time an event id is seen (SET NX): a redelivery is answered once."""
        return bool(await self.redis.set(f"{PREFIX}:dedupe:{platform}:{event_id}", 1, nx=True, ex=self._dedupe_ttl))

    @asynccontextmanager
    async def conversation_lock(self, platform: str, conversation: str) -> AsyncIterator[None]:
        """One message of a conversation at a time, across processes, in arrival order."""
        lock = self.redis.lock(f"{PREFIX}:lock:{platform}:{conversation}", timeout=60, blocking_timeout=60,
                               sleep=0.005)
        async with lock:
            yield

    async def rate(self, platform: str, user: str) -> int:
        """This user's message count in the current minute (a fixed window)."""
        window = int(time.time() // 60)
        key = f"{PREFIX}:rate:{platform}:{user}:{window}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
        return int(count)

    @property
    def rate_limit(self) -> int:
        return self._rate

    async def load(self, platform: str, conversation: str) -> tuple[Turn, ...]:
        raw = await self.redis.lrange(self.memory_key(platform, conversation), 0, -1)
        return tuple(_turn(item) for item in raw)

    async def append(self, platform: str, conversation: str, user: str, *turns: Turn) -> None:
        """Append, trim to the window and refresh the TTL in one transaction."""
        key = self.memory_key(platform, conversation)
        user_key = self._user_key(platform, user)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *(_turn_json(t) for t in turns))
            pipe.ltrim(key, -2 * self._turns, -1)
            pipe.expire(key, self._ttl)
            pipe.sadd(user_key, conversation)  # which conversations hold this user's words, for /forget
            pipe.expire(user_key, self._ttl)
            await pipe.execute()

    async def clear(self, platform: str, conversation: str) -> None:
        await self.redis.delete(self.memory_key(platform, conversation))

    async def forget_user(self, platform: str, user: str) -> int:
        """Erase everything stored about a user; returns how many keys were deleted."""
        user_key = self._user_key(platform, user)
        conversations = await self.redis.smembers(user_key)
        keys = [self.memory_key(platform, c.decode() if isinstance(c, bytes) else c) for c in conversations]
        keys.append(user_key)
        async for key in self.redis.scan_iter(match=f"{PREFIX}:rate:{platform}:{user}:*"):
            keys.append(key)
        return int(await self.redis.delete(*keys))
