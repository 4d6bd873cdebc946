"""What the LlamaIndex query engine costs on the answer path.

    HF_HUB_OFFLINE=1 python -m bench.query_engine [EVAL_DIR] [ROUNDS]

Over the product-qa catalogue (4,922 passages) and its 405 questions, in one run:
- `FactAnswerer.answer` called directly vs through `FactQueryEngine.answer` (the wired extractive path),
  the same questions interleaved one by one, alternating which path goes first; each path has its own
  `HybridRetriever`, so each sees a new question exactly when the other does (nothing cached), then the
  same questions again (query embeddings cached);
- the LLM mode's retrieval: `asearch` + the `confident` filter (the path before) vs `aretrieve` +
  `ConfidencePostprocessor` (LLMQueryEngine); the model call itself is network-bound and not measured;
- the engine's own cost around an answerer that does nothing (µs).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from bench.catalogue import product_qa_index, product_qa_questions
from bot.answerers.facts import FactAnswerer
from bot.answerers.query_engine import FactQueryEngine
from bot.types import Reply, Turn
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.postprocess import ConfidencePostprocessor
from knowledge.index.retrieval import HybridRetriever

TOP_K = 5
EMPTY_CALLS = 20_000
Timed = Callable[[str], Awaitable[object]]


class Nothing:
    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        return Reply(question)


async def _ms(call: Timed, question: str) -> float:
    started = time.perf_counter()
    await call(question)
    return (time.perf_counter() - started) * 1000


async def _paired(first: Timed, second: Timed, questions: list[str]) -> tuple[list[float], list[float]]:
    """Both calls on every question, alternating which goes first."""
    a: list[float] = []
    b: list[float] = []
    for i, question in enumerate(questions):
        if i % 2:
            b.append(await _ms(second, question))
            a.append(await _ms(first, question))
        else:
            a.append(await _ms(first, question))
            b.append(await _ms(second, question))
    return a, b


async def _empty_us(call: Timed) -> list[float]:
    out = []
    for _ in range(EMPTY_CALLS):
        started = time.perf_counter()
        await call("hello there")
        out.append((time.perf_counter() - started) * 1e6)
    return out


def _row(label: str, values: list[float], unit: str = "ms") -> str:
    p50, p99 = np.percentile(values, 50), np.percentile(values, 99)
    digits = 1 if unit == "µs" else 2
    return f"| {label} | {p50:.{digits}f} | {p99:.{digits}f} | {np.mean(values):.{digits}f} |"


def _gap(label: str, direct: list[float], engine: list[float]) -> str:
    return _row(label, [e - d for d, e in zip(direct, engine, strict=True)])


async def _answers(handle: IndexHandle, embedder: SentenceTransformerEmbedder, questions: list[str],
                   rounds: int) -> list[str]:
    direct = FactAnswerer(HybridRetriever(handle, embedder), "Bench")
    engine = FactQueryEngine(FactAnswerer(HybridRetriever(handle, embedder), "Bench"))
    call_direct: Timed = lambda q: direct.answer(q, ())  # noqa: E731
    call_engine: Timed = lambda q: engine.answer(q, ())  # noqa: E731
    for q in questions[:3]:  # same replies both ways (and nothing lazily loaded inside the timings)
        assert await direct.answer(q, ()) == await engine.answer(q, ())
    new_d, new_e = await _paired(call_direct, call_engine, [f"{q} ?" for q in questions])
    rep_d: list[float] = []
    rep_e: list[float] = []
    for _ in range(rounds):
        d, e = await _paired(call_direct, call_engine, questions)
        rep_d += d
        rep_e += e
    return [
        _row("`FactAnswerer.answer` directly, new question", new_d),
        _row("through `FactQueryEngine.answer`, new question", new_e),
        _gap("difference per question (engine − direct), new question", new_d, new_e),
        _row(f"`FactAnswerer.answer` directly, repeated question (×{rounds})", rep_d),
        _row(f"through `FactQueryEngine.answer`, repeated question (×{rounds})", rep_e),
        _gap("difference per question (engine − direct), repeated question", rep_d, rep_e),
    ]


async def _retrieval(handle: IndexHandle, embedder: SentenceTransformerEmbedder, questions: list[str],
                     rounds: int) -> list[str]:
    before = HybridRetriever(handle, embedder)
    now = HybridRetriever(handle, embedder, similarity_top_k=TOP_K)
    postprocessor = ConfidencePostprocessor(thresholds=lambda: now.live.manifest.thresholds)

    async def search(q: str) -> list[str]:
        return [p.node_id for p in await before.asearch(q, TOP_K) if p.confident]

    async def retrieve(q: str) -> list[str]:
        return [n.node.node_id for n in await postprocessor.apostprocess_nodes(await now.aretrieve(q))]

    for q in questions:  # embed once for both (the embedding is the same work either way), and agree
        assert await search(q) == await retrieve(q)
    s: list[float] = []
    r: list[float] = []
    for _ in range(rounds):
        a, b = await _paired(search, retrieve, questions)
        s += a
        r += b
    return [
        _row("`asearch` + `confident` filter (before)", s),
        _row("`aretrieve` + `ConfidencePostprocessor` (LLMQueryEngine)", r),
        _gap("difference per question", s, r),
    ]


async def main() -> None:
    eval_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/eval")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    questions = product_qa_questions(eval_dir)
    with tempfile.TemporaryDirectory(prefix="storebot-bench-") as tmp:
        embedder = SentenceTransformerEmbedder()
        handle = product_qa_index(eval_dir, Path(tmp), embedder)
        answers = await _answers(handle, embedder, questions, rounds)
        retrieval = await _retrieval(handle, embedder, questions, rounds)
    nothing = Nothing()
    bare = FactQueryEngine(nothing)
    empty_direct = await _empty_us(lambda q: nothing.answer(q, ()))
    empty_engine = await _empty_us(lambda q: bare.answer(q, ()))
    print(f"{len(questions)} product-qa questions, {handle.live.manifest.counts.get('nodes', '?')} passages\n")
    print("| extractive answer | p50 ms | p99 ms | mean ms |\n|---|---|---|---|")
    print("\n".join(answers))
    print(f"\n| LLM mode's retrieval, top {TOP_K}, embedding cached | p50 ms | p99 ms | mean ms |\n|---|---|---|---|")
    print("\n".join(retrieval))
    print(f"\n| around an answerer that does nothing ({EMPTY_CALLS:,} calls) | p50 µs | p99 µs | mean µs |")
    print("|---|---|---|---|")
    print(_row("`answer` directly", empty_direct, "µs"))
    print(_row("through `FactQueryEngine.answer` (aquery: span, events, callback trace)", empty_engine, "µs"))


if __name__ == "__main__":
    asyncio.run(main())
