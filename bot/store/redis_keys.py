"""What every Redis-backed part shares: the key namespace, and Redis replies read as text."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

PREFIX = "storebot"  # every key of the bot starts with it


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
