"""👍/👎 on answers and "talk to a person" requests, kept in Redis streams for reports and
fine-tuning data. Each entry carries the question, the answer, its sources and the answer mode."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Literal

from bot.store.redis_keys import PREFIX, RedisClient
from bot.types import Turn

FEEDBACK_STREAM = f"{PREFIX}:feedback"
HANDOFF_STREAM = f"{PREFIX}:handoff:requests"
Rating = Literal["up", "down"]


class FeedbackStore:
    def __init__(self, redis: RedisClient, retention: int = 100_000) -> None:
        self._redis = redis
        self._retention = retention

    async def rate(self, platform: str, conversation: str, user: str, rating: Rating,
                   history: tuple[Turn, ...]) -> None:
        await self._add(FEEDBACK_STREAM, platform, conversation, user, history, rating=rating)

    async def request_human(self, platform: str, conversation: str, user: str, history: tuple[Turn, ...]) -> None:
        await self._add(HANDOFF_STREAM, platform, conversation, user, history)

    async def forget_user(self, platform: str, user: str) -> int:
        removed = 0
        for stream in (FEEDBACK_STREAM, HANDOFF_STREAM):
            entries = await self._redis.xrange(stream) or []
            ids = [
                entry_id for entry_id, fields in entries
                if entry_id is not None and fields
                and fields.get(b"platform") == platform.encode() and fields.get(b"user") == user.encode()
            ]
            if ids:
                removed += int(await self._redis.xdel(stream, *ids))
        return removed

    async def _add(self, stream: str, platform: str, conversation: str, user: str, history: tuple[Turn, ...],
                   **extra: str) -> None:
        answer = next((t for t in reversed(history) if t.role == "bot"), Turn("bot", ""))
        question = next((t.text for t in reversed(history) if t.role == "shopper"), "")
        fields = {
            "platform": platform, "conversation": conversation, "user": user, "question": question,
            "answer": answer.text, "mode": answer.mode, "model": answer.model,
            "sources": json.dumps([asdict(c) for c in answer.citations]), "at": str(int(time.time())), **extra,
        }
        await self._redis.xadd(stream, fields, maxlen=self._retention, approximate=True)  # type: ignore[arg-type]
