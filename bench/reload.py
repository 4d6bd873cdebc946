"""Reload under load: the product-qa passages rebuilt while shoppers keep asking.

    REDIS_URL=redis://127.0.0.1:6379/0 python -m bench.reload [EVAL_DIR]

Reloads go through KnowledgeOps, the code behind `/storebot kb reload` and `storebot kb reload`:
a full rebuild with an empty embedding cache, then one after editing 1% of the passages. During
each, SHOPPERS concurrent shoppers keep asking questions none of them asked before. The anchor,
measured in the same run, is the same load with no reload running. A second index handle (another
process's) follows the Redis announcement; its swap time is measured too.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from redis.asyncio import Redis

from bench.catalogue import clean_up, product_qa_questions
from bot.answerers.facts import FactAnswerer
from bot.engine import Engine, StoreInfo
from bot.ops.kb import KnowledgeOps, ReloadResult
from bot.ops.reload import follow_reloads
from bot.store.memory import RedisState
from bot.tasks import cancel_and_wait
from bot.types import IncomingMessage
from knowledge.eval.evaluation import stage_product_qa
from knowledge.index.builder import BuildOptions, build_version
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore

SHOPPERS = 4
BASELINE_S = 15.0


@dataclass(frozen=True, slots=True)
class Window:
    latencies_ms: list[float]
    failures: int
    seconds: float


class Load:
    """Shoppers asking new questions until stopped; each answer's latency and any failure recorded."""

    def __init__(self, engine: Engine, questions: list[str]) -> None:
        self._engine = engine
        self._questions = questions
        self._asked = 0
        self.latencies_ms: list[float] = []
        self.failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._shopper(stop) for _ in range(SHOPPERS)))

    async def _shopper(self, stop: asyncio.Event) -> None:
        conversation = uuid.uuid4().hex[:10]
        while not stop.is_set():
            self._asked += 1
            text = f"{self._questions[self._asked % len(self._questions)]} ({self._asked})"  # never cached
            msg = IncomingMessage("bench", conversation, conversation, text, uuid.uuid4().hex)
            started = time.perf_counter()
            try:
                reply = await self._engine.handle(msg)
                assert reply is not None and reply.text
            except Exception:
                self.failures += 1
                continue
            self.latencies_ms.append((time.perf_counter() - started) * 1000)


async def _measure(engine: Engine, questions: list[str], during: asyncio.Future[ReloadResult] | None) -> Window:
    load, stop = Load(engine, questions), asyncio.Event()
    started = time.perf_counter()
    running = asyncio.create_task(load.run(stop))
    if during is None:
        await asyncio.sleep(BASELINE_S)
    else:
        await during
    stop.set()
    await running
    return Window(load.latencies_ms, load.failures, time.perf_counter() - started)


def _edit_one_percent(source: Path) -> None:
    path = source / "products" / "passages.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    for row in rows[::100]:
        row["text"] += " (updated)"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


async def _swapped_at(handle: IndexHandle, old: str | None) -> float:
    while handle.version == old:  # noqa: ASYNC110 - the handle has no event to wait on; polling is the probe
        await asyncio.sleep(0.005)
    return time.perf_counter()


def _row(name: str, window: Window, result: ReloadResult | None = None, swap_s: float | None = None) -> str:
    lat = window.latencies_ms
    rate = len(lat) / window.seconds
    build = f"{result.seconds:.1f}" if result else "—"
    swap = f"{swap_s * 1000:.0f}" if swap_s is not None else "—"
    return (f"| {name} | {build} | {len(lat):,} | {window.failures} | {rate:.1f} | {np.percentile(lat, 50):.0f} "
            f"| {np.percentile(lat, 99):.0f} | {max(lat):.0f} | {swap} |")


async def main() -> None:
    eval_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/eval")
    questions = product_qa_questions(eval_dir)
    tmp = Path(tempfile.mkdtemp(prefix="storebot-bench-"))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    redis, listener_a, listener_b = (Redis.from_url(redis_url) for _ in range(3))
    followers: list[asyncio.Task[None]] = []
    try:
        embedder = SentenceTransformerEmbedder()
        source = stage_product_qa(eval_dir / "product-qa", tmp / "src")
        store = VersionStore(tmp / "kb")
        seed_cache = EmbeddingCache(tmp / "seed-cache.sqlite")
        build_version(source, store, embedder, seed_cache)  # the version serving before any reload
        seed_cache.close()
        serving, other_process = IndexHandle(store), IndexHandle(VersionStore(store.root))
        for listener, handle in ((listener_a, serving), (listener_b, other_process)):
            ready = asyncio.Event()
            followers.append(asyncio.create_task(follow_reloads(listener, handle, ready)))
            await ready.wait()
        state = RedisState(redis, memory_turns=10, memory_ttl_s=600, rate_per_minute=100_000, dedupe_ttl_s=600)
        engine = Engine(state, FactAnswerer(HybridRetriever(serving, embedder)), StoreInfo("Bench", "Hi"))
        ops = KnowledgeOps(store, source, lambda: embedder, tmp / "cache.sqlite", BuildOptions(), redis)
        baseline = await _measure(engine, questions, None)

        rows = [_row(f"anchor: no reload running ({BASELINE_S:.0f} s)", baseline)]
        for name, edit in (("full rebuild, empty embedding cache", False), ("after editing 1% of the passages", True)):
            if edit:
                _edit_one_percent(source)
            swapped = asyncio.create_task(_swapped_at(other_process, other_process.version))
            reload = asyncio.ensure_future(ops.reload())
            announced: list[float] = []

            def note_announced(_: object, at: list[float] = announced) -> None:
                at.append(time.perf_counter())

            reload.add_done_callback(note_announced)
            window = await _measure(engine, questions, reload)
            result = reload.result()
            assert result.ok, result.error
            rows.append(_row(name, window, result, await swapped - announced[0]))
        print(f"product-qa: {len(questions)} questions, {SHOPPERS} concurrent shoppers, each question new\n")
        print("| while | build s | answers | failed | answers/s | p50 ms | p99 ms | max ms | swap after announce ms |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
    finally:
        await cancel_and_wait(*followers)
        for client in (listener_a, listener_b):
            await client.aclose()
        await clean_up(redis, "bench", tmp)


if __name__ == "__main__":
    asyncio.run(main())
