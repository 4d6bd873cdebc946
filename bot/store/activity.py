"""What the bot did, for ops reports: every answer (confident or declined), handoff and resolution,
kept in a capped Redis stream. 👍/👎 live in the feedback stream (bot/feedback.py)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

from bot.store.redis_keys import PREFIX, RedisClient, as_fields, stream_since
from bot.types import Reply

ACTIVITY_STREAM = f"{PREFIX}:activity"


class ActivityLog:
    def __init__(self, redis: RedisClient, retention: int = 200_000) -> None:
        self._redis = redis
        self._retention = retention

    async def answered(self, platform: str, conversation: str, user: str, question: str, reply: Reply) -> None:
        await self.record("answered" if reply.confident else "declined", platform, conversation, user,
                          question=question, answer=reply.text, mode=reply.mode, model=reply.model,
                          sources=json.dumps([asdict(c) for c in reply.citations]))

    async def record(self, kind: str, platform: str, conversation: str, user: str, **fields: str) -> None:
        entry: dict[Any, Any] = {"kind": kind, "platform": platform, "conversation": conversation, "user": user,
                 "at": f"{time.time():.3f}", **fields}
        await self._redis.xadd(ACTIVITY_STREAM, entry, maxlen=self._retention, approximate=True)

    async def since(self, seconds: float) -> list[dict[str, str]]:
        return await stream_since(self._redis, ACTIVITY_STREAM, seconds)

    async def forget_user(self, platform: str, user: str) -> int:
        entries: Any = await self._redis.xrange(ACTIVITY_STREAM) or []
        ids = [entry_id for entry_id, fields in entries
               if as_fields(fields).get("platform") == platform and as_fields(fields).get("user") == user]
        return int(await self._redis.xdel(ACTIVITY_STREAM, *ids)) if ids else 0
