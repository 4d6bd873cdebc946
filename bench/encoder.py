"""The embedding model's forward pass: PyTorch vs ONNX Runtime (fp32, optimised O2, int8), same run.

    python -m bench.encoder [EVAL_DIR]       (EVAL_DIR defaults to ../shared/eval)

For each backend: agreement with the PyTorch vectors (lowest cosine over the product-qa questions),
one-question latency, a 64-question batch, ingest (the product-qa build with an empty embedding
cache) and retrieval quality on store-faq and product-qa, each built and queried with that backend.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.catalogue import product_qa_questions
from bench.retrieval import _build
from knowledge.eval.evaluation import evaluate_product_qa, evaluate_store_faq, stage_product_qa, stage_store_faq
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.index.onnx_export import ONNX_VARIANTS
from knowledge.index.retrieval import HybridRetriever

QUESTIONS = 400


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def _latency(embedder: SentenceTransformerEmbedder, questions: list[str]) -> tuple[list[float], float]:
    for question in questions[:20]:  # warm-up
        embedder.embed([question])
    single = []
    for question in questions:
        started = time.perf_counter()
        embedder.embed([question])
        single.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    for start in range(0, len(questions), 64):
        embedder.embed(questions[start:start + 64])
    per_s = len(questions) / (time.perf_counter() - started)
    return single, per_s


def _quality(eval_dir: Path, embedder: SentenceTransformerEmbedder, work: Path,
             asking: SentenceTransformerEmbedder | None = None) -> tuple[dict[str, float], ...]:
    """Figures of an index built with `embedder` and asked with `asking` (default: the same)."""
    faq = eval_dir / "store-faq"
    cache = EmbeddingCache(work / "faq-cache.sqlite")
    faq_retriever, _, _ = _build(stage_store_faq(faq, work / "faq-src", True), work / "faq-kb", embedder, cache)
    cache.close()
    if asking is not None:
        faq_retriever = HybridRetriever(faq_retriever._handle, asking)
    faq_figures = evaluate_store_faq(faq_retriever.search, faq)
    cache = EmbeddingCache(work / "pqa-cache.sqlite")  # empty: every passage is embedded
    source = stage_product_qa(eval_dir / "product-qa", work / "pqa-src")
    retriever, manifest, seconds = _build(source, work / "pqa-kb", embedder, cache)
    cache.close()
    if asking is not None:
        retriever = HybridRetriever(retriever._handle, asking)
    pqa_figures = evaluate_product_qa(retriever.search, eval_dir / "product-qa")
    return faq_figures, pqa_figures, {"passages_per_s": manifest.counts["product_docs"] / seconds}


def main() -> None:
    eval_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/eval")
    questions = product_qa_questions(eval_dir)[:QUESTIONS]
    tmp = Path(tempfile.mkdtemp(prefix="storebot-bench-"))
    backends: list[tuple[str, SentenceTransformerEmbedder]] = [("torch", SentenceTransformerEmbedder(backend="torch"))]
    for variant in ONNX_VARIANTS:
        backends.append((f"onnx {variant}", SentenceTransformerEmbedder(variant=variant, onnx_cache=tmp / "onnx")))
    reference = backends[0][1].embed(questions)
    print("| backend | lowest cosine to torch | one question p50 ms | p99 ms | batched questions/s "
          "| ingest passages/s | store-faq hit@1 | MRR@10 | answered correctly | product-qa hit@1 | hit@5 "
          "| MRR@10 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    try:
        for number, (name, embedder) in enumerate(backends):
            agreement = float((embedder.embed(questions) * reference).sum(axis=1).min())
            single, per_s = _latency(embedder, questions)
            faq, pqa, ingest = _quality(eval_dir, embedder, tmp / f"run-{number}")
            print(f"| {name} | {agreement:.6f} | {_pct(single, 50):.2f} | {_pct(single, 99):.2f} | {per_s:.0f} "
                  f"| {ingest['passages_per_s']:.0f} | {faq['hit@1']:.3f} | {faq['mrr@10']:.3f} "
                  f"| {faq['answered_correctly']:.3f} | {pqa['hit@1']:.3f} | {pqa['hit@5']:.3f} "
                  f"| {pqa['mrr@10']:.3f} |", flush=True)
        # Mixed: an index built on one backend asked through another (EMBED_BACKEND changed, no rebuild).
        named = dict(backends)
        for number, (built, asked) in enumerate((("torch", "onnx O2"), ("onnx O2", "torch"), ("torch", "onnx qint8"))):
            faq, pqa, _ = _quality(eval_dir, named[built], tmp / f"mixed-{number}", asking=named[asked])
            print(f"| built with {built}, asked with {asked} | – | – | – | – | – | {faq['hit@1']:.3f} "
                  f"| {faq['mrr@10']:.3f} | {faq['answered_correctly']:.3f} | {pqa['hit@1']:.3f} "
                  f"| {pqa['hit@5']:.3f} | {pqa['mrr@10']:.3f} |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
