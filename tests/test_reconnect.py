"""After a Redis restart, the serving client's pooled connections are all dead; none may cost a message."""

from __future__ import annotations

import asyncio

from bot.app.wiring import HEALTH_CHECK_S, redis_client
from tests.redis_server import RedisServer


async def test_pooled_connections_idle_through_a_redis_restart_do_not_fail_the_next_commands(
    own_redis: RedisServer,
) -> None:
    redis = redis_client(own_redis.url)  # as bot.app.wiring builds it
    try:
        await asyncio.gather(*(redis.blpop([f"k{n}"], timeout=0.2) for n in range(4)))  # four pooled connections
        await own_redis.stop()
        await own_redis.start()
        await asyncio.sleep(HEALTH_CHECK_S + 0.2)  # idle long enough to be checked before reuse
        results = await asyncio.gather(*(redis.incr(f"n{n}") for n in range(4)), return_exceptions=True)
        assert results == [1, 1, 1, 1]
    finally:
        await redis.aclose()
