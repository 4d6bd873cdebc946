"""Concurrent questions are embedded together, and an embedding error reaches every waiter."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from knowledge.index.batching import QueryBatcher
from knowledge.index.embedding import Vectors


async def test_concurrent_questions_share_batches_and_get_their_own_vectors() -> None:
    calls: list[list[str]] = []

    def embed(texts: Sequence[str]) -> Vectors:
        calls.append(list(texts))
        return np.asarray([[float(len(t))] for t in texts], dtype=np.float32)

    batcher = QueryBatcher(embed)
    texts = [f"question {'x' * i}" for i in range(20)] + ["question "]  # one duplicate
    vectors = await asyncio.gather(*(batcher.embed(t) for t in texts))
    assert [float(v[0]) for v in vectors] == [float(len(t)) for t in texts]
    assert len(calls) < len(texts) and sum(len(c) for c in calls) == 20  # the duplicate embedded once


async def test_an_embedding_error_fails_every_waiter() -> None:
    def broken(texts: Sequence[str]) -> Vectors:
        raise RuntimeError("model unavailable")

    batcher = QueryBatcher(broken)
    results = await asyncio.gather(batcher.embed("a"), batcher.embed("b"), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    with pytest.raises(RuntimeError):
        await batcher.embed("c")
