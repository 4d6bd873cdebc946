"""Knowledge-base reload across processes: a new version is announced on Redis pub/sub and every
running process swaps its live index (questions in flight finish on the version they started with).

The version directories themselves are shared through KB_DATA_DIR; Redis carries only the news.

In a Redis Cluster the news is classic pub/sub too: every process subscribes at the node serving the channel's
slot and `announce` publishes there (redis-py routes both by the channel's name), so its count of listeners
is every process's; a node restart ends the subscription like a server restart does, and it is made again.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio.cluster import RedisCluster

from bot.store.redis_keys import PREFIX, RedisClient
from bot.tasks import Connected, supervised
from knowledge.index.live import IndexHandle, ModelMismatchError

CURRENT_KEY = f"{PREFIX}:kb:current"
RELOAD_CHANNEL = f"{PREFIX}:kb:reload"
log = logging.getLogger(__name__)


async def announce(redis: RedisClient, version: str) -> int:
    """Records the live version and tells every listening process; returns how many heard it."""
    await redis.set(CURRENT_KEY, version)
    return int(await redis.publish(RELOAD_CHANNEL, version))


async def follow_reloads(redis: RedisClient, handle: IndexHandle, ready: asyncio.Event | None = None) -> None:
    """Runs until cancelled: swaps `handle` to the store's current version on each announcement. Through a
    Redis outage or restart it subscribes again, and catches up with whatever was announced meanwhile."""

    async def follow(connected: Connected) -> None:
        if isinstance(redis, RedisCluster):
            await redis.initialize()  # its pub/sub looks the channel's node up in the slot map, empty until then
        async with redis.pubsub() as pubsub:
            await pubsub.subscribe(RELOAD_CHANNEL)
            await _swap(handle)  # catch up with anything announced before we listened
            connected()
            if ready is not None:
                ready.set()
            async for message in pubsub.listen():
                # "subscribe" also comes after redis-py reconnected and resubscribed on its own: an
                # announcement may have been missed while it was away, so that catches up too.
                if message.get("type") in ("message", "subscribe"):
                    await _swap(handle)

    await supervised("knowledge-base reload listener", follow)


async def _swap(handle: IndexHandle) -> None:
    try:
        if await asyncio.to_thread(handle.refresh):
            log.info("knowledge base switched to %s", handle.version)
    except ModelMismatchError as err:
        log.error("%s", err)
    except Exception:  # a bad version must not stop the listener; the old one keeps serving
        log.exception("could not load the announced knowledge base version")
