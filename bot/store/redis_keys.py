"""What every Redis-backed part shares: the client type, the key namespace, keys kept in one cluster slot, and
Redis replies read as text."""

from __future__ import annotations

import hashlib
from typing import Any, TypeAlias

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

PREFIX = "storebot"  # every key of the bot starts with it

# One server or a Sentinel's master (a `Redis`), or a Redis Cluster (whose client is another class).
RedisClient: TypeAlias = Redis | RedisCluster
# What a client raises when Redis cannot be had (a cluster it cannot reach at all: RedisClusterException).
REDIS_ERRORS = (RedisError, RedisClusterException, OSError)


def _hash_tag(key: str) -> str | None:
    """What Redis Cluster hashes when it is not the whole name: the text between the first '{' and the first
    '}' after it, if any."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    return key[start + 1:end] if end > start + 1 else None


def slot_base(key: str) -> str:
    """`key` itself when other keys can share its slot (see `same_slot`). A name with a stray '}' cannot be a
    hash tag: such a key gets a digest as its tag instead (no platform's ids have braces)."""
    if _hash_tag(key) is not None or "}" not in key:
        return key
    return f"{PREFIX}:{{{hashlib.sha1(key.encode()).hexdigest()}}}{key.removeprefix(PREFIX)}"


def same_slot(base: str, suffix: str) -> str:
    """A key in the Redis Cluster slot of `base` (a `slot_base`), so that one script or transaction may use
    both. A key without a hash tag hashes its whole name: `{base}:suffix` hashes `base` too, and `base` keeps
    the name it had before clusters were supported."""
    return f"{base}:{suffix}" if _hash_tag(base) is not None else f"{{{base}}}:{suffix}"


def as_text(value: object) -> str:
    """A Redis reply value as text (the client returns bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def as_fields(raw: Any) -> dict[str, str]:
    """A stream entry's or hash's fields as text."""
    return {as_text(k): as_text(v) for k, v in (raw or {}).items()}


async def stream_since(redis: RedisClient, stream: str, seconds: float) -> list[dict[str, str]]:
    """A stream's entries of the last `seconds`, by the Redis server's clock (which stamps the ids)."""
    start_ms = int((await redis.time())[0] * 1000 - seconds * 1000)
    raw: Any = await redis.xrange(stream, min=f"{max(start_ms, 0)}-0")
    return [as_fields(fields) for _, fields in raw]
