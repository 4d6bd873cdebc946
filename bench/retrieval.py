"""Retrieval benchmark: storebot's hybrid index vs the seed-style anchor, in the same run.

    python -m bench.retrieval [EVAL_DIR]       (EVAL_DIR defaults to ../shared/eval)

Prints a Markdown report (quality on the public eval sets, ingest, retrieval latency at 5k and
100k passages, rebuild after a 1% edit). The 100k catalogue is synthetic: the real passages'
vectors with small noise and their words reshuffled, so faiss and BM25 do real work at that size.
"""

from __future__ import annotations

import csv
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from llama_index.core.schema import TextNode

from bench.anchor import run_product_qa_anchor, run_store_faq_anchor
from knowledge.eval.evaluation import (
    evaluate_product_qa,
    evaluate_store_faq,
    rank_figures,
    stage_product_qa,
    stage_store_faq,
)
from knowledge.index.builder import build_version
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.index.hybrid import HybridIndex
from knowledge.index.live import IndexHandle
from knowledge.index.nodes import SearchKey
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import Manifest, VersionStore


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def _build(source: Path, work: Path, embedder: SentenceTransformerEmbedder, cache: EmbeddingCache) -> tuple[
    HybridRetriever, Manifest, float
]:
    store = VersionStore(work)
    started = time.perf_counter()
    manifest = build_version(source, store, embedder, cache)
    seconds = time.perf_counter() - started
    handle = IndexHandle(store)
    handle.refresh()
    return HybridRetriever(handle, embedder), manifest, seconds


def store_faq(eval_dir: Path, embedder: SentenceTransformerEmbedder, tmp: Path) -> list[str]:
    data = eval_dir / "store-faq"
    cache = EmbeddingCache(tmp / "faq-cache.sqlite")
    rows = ["| store-faq (810 questions, 657 covered) | hit@1 | hit@5 | MRR@10 | answered correctly | answered wrongly "
            "| declined | uncovered declined | p50 ms |", "|---|---|---|---|---|---|---|---|---|"]
    with (data / "queries.csv").open(newline="", encoding="utf-8") as f:
        queries = list(csv.DictReader(f))
    covered = [q for q in queries if q["expected_id"]]
    anchor = run_store_faq_anchor(data, [q["query"] for q in covered])
    ranks = [ids.index(q["expected_id"]) if q["expected_id"] in ids else None
             for ids, q in zip(anchor.ids_per_query, covered, strict=True)]
    a = rank_figures(ranks)
    rows.append(f"| anchor: LlamaIndex VectorStoreIndex defaults | {a['hit@1']:.3f} | {a['hit@5']:.3f} "
                f"| {a['mrr@10']:.3f} "
                f"| – | – | – (no threshold) | – | {statistics.median(anchor.query_ms):.1f} |")
    for with_history in (False, True):
        source = stage_store_faq(data, tmp / f"faq-src-{with_history}", with_history)
        retriever, manifest, _ = _build(source, tmp / f"faq-kb-{with_history}", embedder, cache)
        fig = evaluate_store_faq(retriever.search, data)
        label = "with past questions" if with_history else "FAQ only"
        rows.append(f"| storebot, {label} (threshold {manifest.thresholds['faq']:.3f}) | {fig['hit@1']:.3f} "
                    f"| {fig['hit@5']:.3f} | {fig['mrr@10']:.3f} | {fig['answered_correctly']:.3f} "
                    f"| {fig['answered_wrongly']:.3f} | {fig['declined']:.3f} | {fig['uncovered_declined']:.3f} "
                    f"| {fig['p50_ms']:.1f} |")
    cache.close()
    return rows


def product_qa(eval_dir: Path, embedder: SentenceTransformerEmbedder, tmp: Path) -> tuple[list[str], HybridIndex]:
    data = eval_dir / "product-qa"
    queries = [json.loads(line) for line in (data / "queries.jsonl").open(encoding="utf-8")]
    texts = {r["id"]: r["text"] for r in map(json.loads, (data / "passages.jsonl").open(encoding="utf-8"))}
    anchor = run_product_qa_anchor(data, [f"{q['title']}: {q['question']}" for q in queries])
    ranks: list[int | None] = []
    for got, q in zip(anchor.texts_per_query, queries, strict=True):
        hits = [any(texts[r] in t for r in q["relevant"]) for t in got]
        ranks.append(hits.index(True) if True in hits else None)
    a = rank_figures(ranks)

    cache = EmbeddingCache(tmp / "pqa-cache.sqlite")
    source = stage_product_qa(data, tmp / "pqa-src")
    retriever, manifest, full_s = _build(source, tmp / "pqa-kb", embedder, cache)
    f = evaluate_product_qa(retriever.search, data)
    fresh = HybridRetriever(retriever._handle, embedder)  # empty query-embedding cache
    latencies = _latencies(fresh, [f"{q['title']}: {q['question']}" for q in queries])
    repeated = _latencies(fresh, [f"{q['title']}: {q['question']}" for q in queries])
    rebuild_s = _rebuild_after_one_percent_edit(source, tmp / "pqa-kb", embedder, cache)
    cache.close()
    docs = manifest.counts["product_docs"]
    rows = [
        "| product-qa (405 questions, 4,922 passages) | hit@1 | hit@5 | MRR@10 | product@1 | query p50 ms "
        "| query p99 ms | ingest docs/s |",
        "|---|---|---|---|---|---|---|---|",
        f"| anchor: LlamaIndex VectorStoreIndex defaults | {a['hit@1']:.3f} | {a['hit@5']:.3f} | {a['mrr@10']:.3f} | – "
        f"| {statistics.median(anchor.query_ms):.1f} | {_pct(anchor.query_ms, 99):.1f} "
        f"| {anchor.ingest_docs_per_s:.0f} |",
        f"| storebot hybrid (faiss + BM25) | {f['hit@1']:.3f} | {f['hit@5']:.3f} | {f['mrr@10']:.3f} "
        f"| {f['product@1']:.3f} | {_pct(latencies, 50):.2f} | {_pct(latencies, 99):.2f} | {docs / full_s:.0f} |",
        "",
        f"- Repeated question (cached embedding): p50 {_pct(repeated, 50):.3f} ms, p99 {_pct(repeated, 99):.3f} ms.",
        f"- Full build of {docs:,} passages with an empty embedding cache: {full_s:.1f} s.",
        f"- Rebuild after editing 1% of the passages: {rebuild_s:.2f} s = {rebuild_s / full_s:.1%} of the full build.",
    ]
    return rows, retriever._handle.live.index


def _latencies(retriever: HybridRetriever, queries: list[str]) -> list[float]:
    out = []
    for query in queries:
        started = time.perf_counter()
        retriever.search(query, 10)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _rebuild_after_one_percent_edit(
    source: Path, kb: Path, embedder: SentenceTransformerEmbedder, cache: EmbeddingCache
) -> float:
    path = source / "products" / "passages.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    for row in rows[:: 100]:
        row["text"] += " (updated)"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    started = time.perf_counter()
    build_version(source, VersionStore(kb), embedder, cache)
    return time.perf_counter() - started


def scale(base: HybridIndex, embedder: SentenceTransformerEmbedder, queries: list[str], size: int) -> str:
    """Latency over a synthetic catalogue of `size` passages grown from the real ones."""
    rng = np.random.default_rng(0)
    base_vectors = base._key_vectors
    words = " ".join(n.text for n in base.nodes).split()
    picks = rng.integers(0, len(base_vectors), size)
    vectors = base_vectors[picks] + rng.normal(0, 0.02, (size, base_vectors.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [" ".join(rng.choice(words, 40)) for _ in range(size)]
    nodes = [TextNode(id_=f"synthetic:{i}", text=t, metadata={"kind": "product"}) for i, t in enumerate(texts)]
    started = time.perf_counter()
    index = HybridIndex.build(nodes, [SearchKey(t, i, "product") for i, t in enumerate(texts)], vectors)
    build_s = time.perf_counter() - started
    embed_ms, search_ms, total_ms = [], [], []
    for query in queries:
        t0 = time.perf_counter()
        vector = embedder.embed([query])[0]
        t1 = time.perf_counter()
        index.search(query, vector, 10)
        t2 = time.perf_counter()
        embed_ms.append((t1 - t0) * 1000)
        search_ms.append((t2 - t1) * 1000)
        total_ms.append((t2 - t0) * 1000)
    kind = "HNSW" if size >= 50_000 else "flat"
    return (f"| {size:,} | {kind} | {_pct(total_ms, 50):.2f} | {_pct(total_ms, 99):.2f} | {_pct(embed_ms, 50):.2f} "
            f"| {_pct(search_ms, 50):.2f} | {build_s:.1f} |")


def main() -> None:
    eval_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/eval")
    embedder = SentenceTransformerEmbedder()
    tmp = Path(tempfile.mkdtemp(prefix="storebot-bench-"))
    try:
        report = ["### Quality", "", *store_faq(eval_dir, embedder, tmp), ""]
        pqa_rows, index = product_qa(eval_dir, embedder, tmp)
        report += [*pqa_rows, "", "### Retrieval latency by catalogue size (query embedding included)", "",
                   "| passages | faiss index | p50 ms | p99 ms | embed p50 ms | search p50 ms | index build s |",
                   "|---|---|---|---|---|---|---|"]
        queries = [json.loads(line)["question"] for line in (eval_dir / "product-qa" / "queries.jsonl").open()]
        report += [scale(index, embedder, queries, size) for size in (5_000, 100_000)]
        print("\n".join(report))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
