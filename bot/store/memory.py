"""Conversation state in Redis: memory, dedupe, per-conversation locks, rate limits, erasure.

A message costs three trips: the script in (dedupe, lock, memory read), then beside it, while the conversation
is held, the user's keys (rate count, the user's conversations for /forget) and the handoff pointer, and the
script out (memory write, unlock). The scripts' keys share the conversation's Redis Cluster slot; the user's
keys span conversations, so they cannot be in it.

Every key is namespaced `storebot:` and expires. Any number of bot processes share one Redis (or cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from redis.exceptions import LockError, RedisError

from bot.store import scripts as redis_scripts
from bot.store.redis_keys import PREFIX, RedisClient, as_text, same_slot, slot_base
from bot.tasks import cancel_and_wait
from bot.types import Admission, Citation, Focus, Turn

log = logging.getLogger(__name__)
LOCK_TIMEOUT_MS = 5_000  # a crashed process never holds a conversation longer than this (renewed while in use)
LOCK_WAIT_S = 60.0  # how long a message waits for the one before it before giving up
LOCK_POLL_S = 0.005
RATE_KEY_TTL_S = 120  # a minute's count outlives its minute


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
                                            tuple((n, v) for n, v in focus.get("options", ())),
                                            bool(focus.get("alike", False)), str(focus.get("kind", "")))
                if focus else None, data.get("user", ""))


class RedisState:
    def __init__(
        self, redis: RedisClient, memory_turns: int, memory_ttl_s: int, rate_per_minute: int, dedupe_ttl_s: int
    ) -> None:
        self.redis = redis
        self._turns = memory_turns
        self._ttl = memory_ttl_s
        self._rate = rate_per_minute
        self._dedupe_ttl = dedupe_ttl_s
        self._admit = redis.register_script(redis_scripts.ADMIT)
        self._release = redis.register_script(redis_scripts.RELEASE)
        self._forget = redis.register_script(redis_scripts.FORGET)
        self._renew = redis.register_script(redis_scripts.RENEW)

    @staticmethod
    def memory_key(platform: str, conversation: str) -> str:
        """The conversation's memory; its other keys are in the same cluster slot (`same_slot`)."""
        return slot_base(f"{PREFIX}:mem:{platform}:{conversation}")

    @classmethod
    def lock_key(cls, platform: str, conversation: str) -> str:
        return same_slot(cls.memory_key(platform, conversation), "lock")

    @classmethod
    def dedupe_key(cls, platform: str, conversation: str, event_id: str) -> str:
        return same_slot(cls.memory_key(platform, conversation), f"dedupe:{event_id}")

    @staticmethod
    def _user_key(platform: str, user: str) -> str:
        return f"{PREFIX}:user:{platform}:{user}"

    @staticmethod
    def _rate_key(platform: str, user: str, minute: int) -> str:
        return f"{PREFIX}:rate:{platform}:{user}:{minute}"

    @asynccontextmanager
    async def admit(self, platform: str, conversation: str, user: str, event_id: str | None = None, *,
                    counted: bool = True, peek_key: str | None = None) -> AsyncIterator[Admission]:
        """See ConversationState.admit: the trip in (bot/store/scripts.py's ADMIT, repeated while another
        message holds the conversation), the one beside it, and the trip out (RELEASE, with the turns)."""
        token = secrets.token_hex(16)
        admission = await self._enter(platform, conversation, user, event_id, counted, peek_key, token)
        if admission.duplicate:  # a duplicate never held the conversation
            yield admission
            return
        keeping = asyncio.create_task(self._keep_held(self.lock_key(platform, conversation), token))
        try:
            yield admission
        finally:
            await cancel_and_wait(keeping)
            await self._leave(platform, conversation, user, token, admission.pending)

    async def _keep_held(self, lock: str, token: str) -> None:
        """Renews the lock while its message is being answered (a slow LLM answer outlasts LOCK_TIMEOUT_MS):
        the lock can then time out quickly when its process dies, and the conversation goes on."""
        while True:
            await asyncio.sleep(LOCK_TIMEOUT_MS / 3000)
            with contextlib.suppress(RedisError):  # a passing outage: the answer itself will fail or go on
                if not await self._renew(keys=[lock], args=[token, LOCK_TIMEOUT_MS]):
                    return  # no longer ours

    async def _enter(self, platform: str, conversation: str, user: str, event_id: str | None, counted: bool,
                     peek_key: str | None, token: str) -> Admission:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + LOCK_WAIT_S
        keys = [self.lock_key(platform, conversation), self.memory_key(platform, conversation)]
        dedupe = [self.dedupe_key(platform, conversation, event_id)] if event_id is not None else []
        while True:
            reply: Any = await self._admit(keys=keys + dedupe, args=[token, LOCK_TIMEOUT_MS, self._dedupe_ttl])
            status = as_text(reply[0])
            if status == "duplicate":
                return Admission(duplicate=True)
            if status == "admitted":
                history = tuple(_turn(item) for item in reply[1])
                try:
                    count, peeked = await self._beside(platform, conversation, user, counted, peek_key)
                except Exception:
                    with contextlib.suppress(Exception):  # not held for LOCK_TIMEOUT_MS for nothing
                        await self._leave(platform, conversation, user, token, [])
                    raise
                return Admission(False, count, history, peeked)
            dedupe = []  # this delivery is marked already: a retry only waits for the lock
            if loop.time() + LOCK_POLL_S > give_up:
                raise LockError("Unable to acquire lock within the time specified")
            await asyncio.sleep(LOCK_POLL_S)

    async def _beside(self, platform: str, conversation: str, user: str, counted: bool,
                      peek_key: str | None) -> tuple[int, str | None]:
        """While the conversation is held: the user's rate count (once per admitted message), the user's list
        of conversations for /forget, and the key the caller wants read under the lock. One pipeline, not a
        transaction: in a cluster these keys are in other slots than the conversation's, and each other's."""
        user_key = self._user_key(platform, user)
        rate = self._rate_key(platform, user, int(time.time() // 60))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(user_key, conversation)
            pipe.expire(user_key, self._ttl)
            if counted:
                pipe.incr(rate)
                pipe.expire(rate, RATE_KEY_TTL_S)
            if peek_key:
                pipe.get(peek_key)
            results = await pipe.execute()
        count = int(results[2]) if counted else 0
        peeked = results[-1] if peek_key else None
        return count, None if peeked is None else as_text(peeked)

    async def _leave(self, platform: str, conversation: str, user: str, token: str, turns: list[Turn]) -> None:
        keys = [self.lock_key(platform, conversation), self.memory_key(platform, conversation)]
        args: list[str | int] = [token, -2 * self._turns, self._ttl, *map(_turn_json, turns)]
        if not await self._release(keys=keys, args=args):
            # Its renewals failed for a while (Redis unreachable): the turns are written all the same, and the
            # answer still goes out — losing it would be worse than another message having overlapped it.
            log.warning("%s %s: conversation lock expired while answering (renewals failed)", platform, conversation)

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
        conversations and the user's rate counts — by name, as a cluster cannot be searched as a whole: the
        counts still kept (RATE_KEY_TTL_S), and a minute either side for clocks of processes a little apart."""
        user_key = self._user_key(platform, user)
        removed = 0
        for conversation in await self.redis.smembers(user_key):
            removed += int(await self._forget(keys=[self.memory_key(platform, as_text(conversation))], args=[user]))
        minute = int(time.time() // 60)
        rates = [self._rate_key(platform, user, minute + step) for step in range(-RATE_KEY_TTL_S // 60 - 1, 2)]
        return removed + int(await self.redis.delete(user_key, *rates))
