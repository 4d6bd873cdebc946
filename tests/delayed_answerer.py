"""The real answerer, made slow on demand: for the platforms' "answer is slow" paths (Slack's
placeholder, Telegram's typing…)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.types import Answerer, Reply, Turn


@dataclass
class DelayedAnswerer:
    inner: Answerer
    delay: float = 0.0

    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        await asyncio.sleep(self.delay)
        return await self.inner.answer(question, history)
