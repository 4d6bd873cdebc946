"""End-to-end message benchmark: dedupe, lock, Redis memory, retrieval, extractive answer; and the Redis
round trips one message costs.

    REDIS_URL=redis://127.0.0.1:6379/0 python -m bench.engine [EVAL_DIR]

Over the product-qa catalogue (4,922 passages), against real Redis; the seed-style anchor's
retrieval alone is measured in the same run on the same questions.
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

from bench.anchor import run_product_qa_anchor
from bench.catalogue import clean_up, product_qa_index, product_qa_questions
from bench.redis_trips import TripCounter, describe
from bot.answerers.facts import FactAnswerer
from bot.engine import Engine, StoreInfo
from bot.store.memory import RedisState
from bot.types import Answerer, IncomingMessage
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.retrieval import HybridRetriever

SHOPPERS = 50
MESSAGES_EACH = 20


def _ms(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.2f}"


async def _one(engine: Engine, conversation: str, text: str) -> float:
    msg = IncomingMessage("bench", conversation, conversation, text, uuid.uuid4().hex)
    started = time.perf_counter()
    reply = await engine.handle(msg)
    assert reply is not None
    return (time.perf_counter() - started) * 1000


async def _sequential(engine: Engine, questions: list[str]) -> list[float]:
    return [await _one(engine, f"seq-{uuid.uuid4().hex[:8]}", q) for q in questions]


async def _concurrent(engine: Engine, questions: list[str]) -> tuple[list[float], float]:
    latencies: list[float] = []

    async def shopper(number: int) -> None:
        conversation = f"shopper-{number}-{uuid.uuid4().hex[:6]}"
        for i in range(MESSAGES_EACH):
            latencies.append(await _one(engine, conversation, questions[(number * MESSAGES_EACH + i) % len(questions)]))

    started = time.perf_counter()
    await asyncio.gather(*(shopper(n) for n in range(SHOPPERS)))
    return latencies, len(latencies) / (time.perf_counter() - started)


async def _round_trips(url: str, answerer: Answerer, question: str) -> list[list[list[str]]]:
    """The Redis round trips of one new question and of the same question repeated, each in a new conversation,
    counted on the wire of a client of their own (after a warm-up: connection made, scripts loaded)."""
    counter = TripCounter()
    redis = counter.client(url)
    try:
        state = RedisState(redis, memory_turns=10, memory_ttl_s=600, rate_per_minute=10_000, dedupe_ttl_s=600)
        engine = Engine(state, answerer, StoreInfo("Bench", "Hi"))
        await _one(engine, f"trips-{uuid.uuid4().hex[:8]}", "warm-up")
        counter.take()
        counted = []
        for _ in range(2):
            await _one(engine, f"trips-{uuid.uuid4().hex[:8]}", question)
            counted.append(counter.take())
        return counted
    finally:
        await redis.aclose()


async def main() -> None:
    eval_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/eval")
    questions = product_qa_questions(eval_dir)
    tmp = Path(tempfile.mkdtemp(prefix="storebot-bench-"))
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    redis = Redis.from_url(url)
    try:
        anchor = run_product_qa_anchor(eval_dir / "product-qa", questions)
        embedder = SentenceTransformerEmbedder()
        handle = product_qa_index(eval_dir, tmp, embedder)
        state = RedisState(redis, memory_turns=10, memory_ttl_s=600, rate_per_minute=10_000, dedupe_ttl_s=600)
        engine = Engine(state, FactAnswerer(HybridRetriever(handle, embedder)), StoreInfo("Bench", "Hi"))
        first = await _sequential(engine, questions)
        repeated = await _sequential(engine, questions)
        fresh = Engine(state, FactAnswerer(HybridRetriever(handle, embedder)), StoreInfo("Bench", "Hi"))
        distinct, distinct_rate = await _concurrent(fresh, [f"{q} ({i})" for i, q in enumerate(questions * 3)])
        mixed, mixed_rate = await _concurrent(engine, questions)
        new, repeated_trips = await _round_trips(url, FactAnswerer(HybridRetriever(handle, embedder)),
                                                 f"{questions[0]} (asked once more)")
        print("| end to end, one message at a time | p50 ms | p99 ms |\n|---|---|---|")
        print(f"| seed-style anchor, retrieval alone | {_ms(anchor.query_ms, 50)} | {_ms(anchor.query_ms, 99)} |")
        print(f"| storebot, first time each question | {_ms(first, 50)} | {_ms(first, 99)} |")
        print(f"| storebot, repeated question | {_ms(repeated, 50)} | {_ms(repeated, 99)} |")
        print(f"\n| {SHOPPERS} concurrent shoppers × {MESSAGES_EACH} messages | messages/s | p50 ms | p99 ms |")
        print("|---|---|---|---|")
        print(f"| every question new (nothing cached) | {distinct_rate:.0f} | {_ms(distinct, 50)} "
              f"| {_ms(distinct, 99)} |")
        print(f"| questions already asked before (embedding cached) | {mixed_rate:.0f} | {_ms(mixed, 50)} "
              f"| {_ms(mixed, 99)} |")
        print("\n| Redis round trips per message (no activity log or desk) | trips | sent |\n|---|---|---|")
        for label, trips in (("new question", new), ("repeated question", repeated_trips)):
            print(f"| {label} | {len(trips)} | {describe(trips)} |")
    finally:
        await clean_up(redis, "bench", tmp)


if __name__ == "__main__":
    asyncio.run(main())
