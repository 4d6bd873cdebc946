"""Embeds the questions of concurrent shoppers together: one forward pass for the whole batch.

On a CPU, one batch of N short questions costs far less than N separate calls, and questions
arriving while a batch runs simply form the next one (no added wait when traffic is light).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from knowledge.index.embedding import Vectors

MAX_BATCH = 64


class QueryBatcher:
    def __init__(self, embed: Callable[[Sequence[str]], Vectors]) -> None:
        self._embed = embed
        self._pending: dict[str, list[asyncio.Future[Vectors]]] = {}
        self._worker: asyncio.Task[None] | None = None

    async def embed(self, text: str) -> Vectors:
        future: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(text, []).append(future)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            texts = list(self._pending)[:MAX_BATCH]
            waiting = [self._pending.pop(t) for t in texts]
            try:
                vectors = await asyncio.to_thread(self._embed, texts)
            except Exception as err:  # every waiter gets the error, not a hang
                for futures in waiting:
                    for future in futures:
                        if not future.done():
                            future.set_exception(err)
                continue
            for futures, vector in zip(waiting, vectors, strict=True):
                for future in futures:
                    if not future.done():
                        future.set_result(vector)
