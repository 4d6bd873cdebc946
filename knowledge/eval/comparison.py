"""Fine-tuning vs embeddings on a store's own labelled questions: one row per retrieval mode.

Each mode builds an ordinary index through the normal loaders (with or without the past questions
as extra search keys) using the base or the fine-tuned embedding model, then runs the same
evaluation as `storebot eval`. Local models cost nothing per question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from knowledge.eval.evaluation import evaluate_product_qa, evaluate_store_faq, stage_product_qa, stage_store_faq
from knowledge.index.builder import BuildOptions, build_version
from knowledge.index.embedding import Embedder, EmbeddingCache
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore


@dataclass(frozen=True, slots=True)
class ModeRow:
    mode: str
    figures: dict[str, float] | None  # None: the mode could not run here (see note)
    note: str = ""


def _retriever(staged: Path, work: Path, embedder: Embedder, options: BuildOptions) -> HybridRetriever:
    store = VersionStore(work / "kb")
    cache = EmbeddingCache(work / "cache.sqlite")
    try:
        build_version(staged, store, embedder, cache, options)
    finally:
        cache.close()
    handle = IndexHandle(store, embedder.model_id)
    handle.refresh()
    return HybridRetriever(handle, embedder)


def compare_store_faq(data_dir: Path, work: Path, base: Embedder, tuned: Embedder | None,
                      options: BuildOptions, progress: Callable[[str], None] = lambda mode: None,
                      retrievers: dict[str, HybridRetriever] | None = None) -> list[ModeRow]:
    """One row per retrieval mode; `retrievers` (if given) receives each mode's retriever, for chat modes."""
    rows = []
    modes = (("base embeddings", base, False), ("fine-tuned embeddings", tuned, False),
             ("base embeddings + past questions as search keys", base, True),
             ("fine-tuned embeddings + past questions as search keys", tuned, True))
    for number, (mode, embedder, history) in enumerate(modes):
        if embedder is None:
            rows.append(ModeRow(mode, None, "no fine-tuned model given"))
            continue
        progress(mode)
        folder = work / f"store-faq-{number}"
        retriever = _retriever(stage_store_faq(data_dir, folder / "src", history), folder, embedder, options)
        rows.append(ModeRow(mode, evaluate_store_faq(retriever.search, data_dir)))
        if retrievers is not None:
            retrievers[mode] = retriever
    return rows


def compare_product_qa(data_dir: Path, work: Path, base: Embedder, tuned: Embedder | None,
                       options: BuildOptions, progress: Callable[[str], None] = lambda mode: None,
                       retrievers: dict[str, HybridRetriever] | None = None) -> list[ModeRow]:
    rows = []
    for number, (mode, embedder) in enumerate((("base embeddings", base), ("fine-tuned embeddings", tuned))):
        if embedder is None:
            rows.append(ModeRow(mode, None, "no fine-tuned model given"))
            continue
        progress(mode)
        folder = work / f"product-qa-{number}"
        retriever = _retriever(stage_product_qa(data_dir, folder / "src"), folder, embedder, options)
        rows.append(ModeRow(mode, evaluate_product_qa(retriever.search, data_dir)))
        if retrievers is not None:
            retrievers[mode] = retriever
    rows.append(ModeRow("past questions as search keys", None, "the product set has no past questions"))
    return rows
