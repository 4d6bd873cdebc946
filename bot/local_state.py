"""In-process conversation state, only for the demo chat when no Redis can be reached.

Nothing is shared between processes and nothing survives a restart; the chat says so.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.types import Turn


class LocalState:
    def __init__(self, memory_turns: int, rate_per_minute: int) -> None:
        self._turns = memory_turns
        self._rate = rate_per_minute
        self._memory: dict[tuple[str, str], list[Turn]] = defaultdict(list)
        self._seen: set[tuple[str, str]] = set()
        self._locks: dict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        self._counts: dict[tuple[str, str, int], int] = defaultdict(int)

    @property
    def rate_limit(self) -> int:
        return self._rate

    async def first_delivery(self, platform: str, event_id: str) -> bool:
        key = (platform, event_id)
        first = key not in self._seen
        self._seen.add(key)
        return first

    @asynccontextmanager
    async def conversation_lock(self, platform: str, conversation: str) -> AsyncIterator[None]:
        async with self._locks[(platform, conversation)]:
            yield

    async def rate(self, platform: str, user: str) -> int:
        key = (platform, user, int(time.time() // 60))
        self._counts[key] += 1
        return self._counts[key]

    async def load(self, platform: str, conversation: str) -> tuple[Turn, ...]:
        return tuple(self._memory[(platform, conversation)])

    async def append(self, platform: str, conversation: str, user: str, *turns: Turn) -> None:
        kept = self._memory[(platform, conversation)]
        kept.extend(turns)
        del kept[: max(0, len(kept) - 2 * self._turns)]

    async def clear(self, platform: str, conversation: str) -> None:
        self._memory.pop((platform, conversation), None)

    async def forget_user(self, platform: str, user: str) -> int:
        # The demo has one user per conversation; drop all of this platform's memory.
        dropped = [k for k in self._memory if k[0] == platform]
        for key in dropped:
            del self._memory[key]
        return len(dropped)
