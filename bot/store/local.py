"""In-process conversation state, only for the demo chat when no Redis can be reached.

Nothing is shared between processes and nothing survives a restart; the chat says so.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.types import Admission, Turn


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

    @asynccontextmanager
    async def admit(self, platform: str, conversation: str, user: str, event_id: str | None = None, *,
                    counted: bool = True, peek_key: str | None = None) -> AsyncIterator[Admission]:
        """See ConversationState.admit; there are no other keys here, so nothing is ever peeked."""
        if event_id is not None:
            if (platform, event_id) in self._seen:
                yield Admission(duplicate=True)
                return
            self._seen.add((platform, event_id))
        async with self._locks[(platform, conversation)]:
            count = 0
            if counted:
                window = (platform, user, int(time.time() // 60))
                self._counts[window] += 1
                count = self._counts[window]
            admission = Admission(rate_count=count, history=tuple(self._memory[(platform, conversation)]))
            try:
                yield admission
            finally:
                if admission.pending:
                    kept = self._memory[(platform, conversation)]
                    kept.extend(admission.pending)
                    del kept[: max(0, len(kept) - 2 * self._turns)]

    async def load(self, platform: str, conversation: str) -> tuple[Turn, ...]:
        return tuple(self._memory[(platform, conversation)])

    async def clear(self, platform: str, conversation: str) -> None:
        self._memory.pop((platform, conversation), None)

    async def forget_user(self, platform: str, user: str) -> int:
        """See ConversationState.forget_user; the same turns go as from Redis (bot/redis_scripts.py's FORGET)."""
        removed = 0
        for key, turns in list(self._memory.items()):
            if key[0] != platform:
                continue
            kept = [t for t in turns if t.user and t.user != user]
            removed += len(turns) - len(kept)
            if kept:
                self._memory[key] = kept
            else:
                del self._memory[key]
        counts = [window for window in self._counts if window[:2] == (platform, user)]
        for window in counts:
            del self._counts[window]
        return removed + len(counts)
