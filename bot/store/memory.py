"""Conversation state in Redis: memory, dedupe, per-conversation locks, rate limits, erasure.

A message costs two trips: one in (dedupe, lock, rate count, memory read) and one out (memory write, unlock).

Every key is namespaced `storebot:` and expires. Any number of bot processes share one Redis.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import LockError, LockNotOwnedError

from bot.store import scripts as redis_scripts
from bot.store.redis_keys import PREFIX, as_text
from bot.types import Admission, Citation, Focus, Turn

LOCK_TIMEOUT_MS = 60_000  # a crashed process never holds a conversation longer than this
LOCK_WAIT_S = 60.0  # how long a message waits for the one before it before giving up
LOCK_POLL_S = 0.005
RATE_KEY_TTL_S = 120  # a minute's count outlives its minute


def _key(kind: str, platform: str, name: str) -> str:
    return f"{PREFIX}:{kind}:{platform}:{name}"


def _turn_json(turn: Turn) -> str:
    return json.dumps({"role": turn.role, "text": turn.text, "citations": [asdict(c) for c in turn.citations],
                       "mode": turn.mode, "confident": turn.confident, "model": turn.model,
                       "focus": asdict(turn.focus) if turn.focus else None, "user": turn.user})


def _turn(raw: bytes | str) -> Turn:
    data = json.loads(raw)
    citations = tuple(Citation(**c) for c in data.get("citations", ()))
    focus = data.get("focus")
    return Turn(data["role"], data["text"], citations, data.get("mode", ""), data.get("confident", True),
                data.get("model", ""), Focus(tuple(focus["products"]), focus["topic"], focus.get("question", ""),
                                            tuple((n, v) for n, v in focus.get("options", ())))
                if focus else None, data.get("user", ""))


class RedisState:
    def __init__(
        self, redis: Redis, memory_turns: int, memory_ttl_s: int, rate_per_minute: int, dedupe_ttl_s: int
    ) -> None:
        self.redis = redis
        self._turns = memory_turns
        self._ttl = memory_ttl_s
        self._rate = rate_per_minute
        self._dedupe_ttl = dedupe_ttl_s
        self._admit = redis.register_script(redis_scripts.ADMIT)
        self._release = redis.register_script(redis_scripts.RELEASE)
        self._forget = redis.register_script(redis_scripts.FORGET)

    @staticmethod
    def memory_key(platform: str, conversation: str) -> str:
        return f"{PREFIX}:mem:{platform}:{conversation}"

    @staticmethod
    def _user_key(platform: str, user: str) -> str:
        return f"{PREFIX}:user:{platform}:{user}"

    @asynccontextmanager
    async def admit(self, platform: str, conversation: str, user: str, event_id: str | None = None, *,
                    counted: bool = True, peek_key: str | None = None) -> AsyncIterator[Admission]:
        """See ConversationState.admit: one trip in (bot/redis_scripts.py's ADMIT, repeated while another
        message holds the conversation) and one trip out (RELEASE, with the turns remembered)."""
        token = secrets.token_hex(16)
        admission = await self._enter(platform, conversation, user, event_id, counted, peek_key, token)
        try:
            yield admission
        finally:
            if not admission.duplicate:  # a duplicate never held the conversation
                await self._leave(platform, conversation, user, token, admission.pending)

    async def _enter(self, platform: str, conversation: str, user: str, event_id: str | None, counted: bool,
                     peek_key: str | None, token: str) -> Admission:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + LOCK_WAIT_S
        dedupe = _key("dedupe", platform, event_id) if event_id is not None else ""
        while True:
            rate = _key("rate", platform, f"{user}:{int(time.time() // 60)}") if counted else ""
            keys = [_key("lock", platform, conversation), self.memory_key(platform, conversation), dedupe, rate,
                    peek_key or ""]
            reply: Any = await self._admit(keys=keys, args=[token, LOCK_TIMEOUT_MS, self._dedupe_ttl, RATE_KEY_TTL_S])
            status = as_text(reply[0])
            if status == "duplicate":
                return Admission(duplicate=True)
            if status == "admitted":
                _, count, peeked, memory = reply
                return Admission(False, int(count), tuple(_turn(item) for item in memory),
                                 None if peeked is None else as_text(peeked))
            dedupe = ""  # this delivery is marked already: a retry only waits for the lock
            if loop.time() + LOCK_POLL_S > give_up:
                raise LockError("Unable to acquire lock within the time specified")
            await asyncio.sleep(LOCK_POLL_S)

    async def _leave(self, platform: str, conversation: str, user: str, token: str, turns: list[Turn]) -> None:
        keys = [_key("lock", platform, conversation), self.memory_key(platform, conversation),
                self._user_key(platform, user)]
        args: list[str | int] = [token, -2 * self._turns, self._ttl, conversation, *map(_turn_json, turns)]
        if not await self._release(keys=keys, args=args):
            raise LockNotOwnedError("Cannot release a lock that's no longer owned")

    @property
    def rate_limit(self) -> int:
        return self._rate

    async def load(self, platform: str, conversation: str) -> tuple[Turn, ...]:
        raw = await self.redis.lrange(self.memory_key(platform, conversation), 0, -1)
        return tuple(_turn(item) for item in raw)

    async def clear(self, platform: str, conversation: str) -> None:
        await self.redis.delete(self.memory_key(platform, conversation))

    async def forget_user(self, platform: str, user: str) -> int:
        """See ConversationState.forget_user: the turns go from each conversation the user wrote in, in
        one script per conversation (other members may be writing to a group's), then the list of those
        conversations and the user's rate counts."""
        user_key = self._user_key(platform, user)
        removed = 0
        for conversation in await self.redis.smembers(user_key):
            removed += int(await self._forget(keys=[self.memory_key(platform, as_text(conversation))], args=[user]))
        keys = [user_key]
        async for key in self.redis.scan_iter(match=f"{PREFIX}:rate:{platform}:{user}:*"):
            keys.append(key)
        return removed + int(await self.redis.delete(*keys))
