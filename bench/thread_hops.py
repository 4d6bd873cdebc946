"""Does the search pay for a thread hop? The engine with the search on the event loop (as shipped) and
in a worker thread, alternated twice, over the product-qa catalogue against real Redis.

    REDIS_URL=redis://127.0.0.1:6379/0 python -m bench.thread_hops [EVAL_DIR]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from redis.asyncio import Redis

from bench.catalogue import clean_up, product_qa_index, product_qa_questions
from bot.answerers.facts import FactAnswerer
from bot.engine import Engine, StoreInfo
from bot.store.memory import RedisState
from bot.types import IncomingMessage
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.retrieval import HybridRetriever, Passage

SHOPPERS = 50
MESSAGES_EACH = 6


class SearchInThread(HybridRetriever):
    """The previous design: the search (after the batched embedding) in a worker thread too."""

    async def asearch(self, query: str, top_k: int = 5) -> list[Passage]:
        vector = await self._aquery_vector(query)
        return await asyncio.to_thread(self._search_with, query, vector, top_k)


async def _run(engine: Engine, questions: list[str], tag: str) -> tuple[list[float], float]:
    async def one(text: str) -> float:
        conversation = uuid.uuid4().hex[:8]
        started = time.perf_counter()
        await engine.handle(IncomingMessage("bench", conversation, conversation, text, uuid.uuid4().hex))
        return (time.perf_counter() - started) * 1000

    sequential = [await one(f"{q} {tag}") for q in questions[:200]]

    async def shopper(number: int) -> None:
        for i in range(MESSAGES_EACH):
            await one(f"{questions[(number * MESSAGES_EACH + i) % len(questions)]} {tag}c")

    started = time.perf_counter()
    await asyncio.gather(*(shopper(n) for n in range(SHOPPERS)))
    return sequential, SHOPPERS * MESSAGES_EACH / (time.perf_counter() - started)


async def main() -> None:
    eval_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/eval")
    questions = product_qa_questions(eval_dir)
    tmp = Path(tempfile.mkdtemp(prefix="storebot-bench-"))
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        embedder = SentenceTransformerEmbedder()
        handle = product_qa_index(eval_dir, tmp, embedder)
        state = RedisState(redis, memory_turns=10, memory_ttl_s=600, rate_per_minute=10_000, dedupe_ttl_s=600)
        await _run(Engine(state, FactAnswerer(HybridRetriever(handle, embedder)), StoreInfo("B", "Hi")),
                   questions, "warm-up")
        print("| search | first-time question p50 ms | p99 ms | 50 shoppers, all new: msg/s |\n|---|---|---|---|")
        for round_number in range(2):
            for name, retriever in (("on the event loop", HybridRetriever), ("in a thread", SearchInThread)):
                engine = Engine(state, FactAnswerer(retriever(handle, embedder)), StoreInfo("B", "Hi"))
                latencies, rate = await _run(engine, questions, f"{round_number}{name}")
                print(f"| {name} | {np.percentile(latencies, 50):.2f} | {np.percentile(latencies, 99):.2f} "
                      f"| {rate:.0f} |", flush=True)
    finally:
        await clean_up(redis, "bench", tmp)


if __name__ == "__main__":
    asyncio.run(main())
