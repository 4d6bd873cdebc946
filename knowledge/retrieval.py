"""Retrieval over the live index: cited, scored passages with a confidence the answerer thresholds."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from knowledge.batching import QueryBatcher
from knowledge.embedding import Embedder, Vectors
from knowledge.hybrid import NodeHit
from knowledge.live import IndexHandle, LiveIndex


@dataclass(frozen=True, slots=True)
class Passage:
    node_id: str
    kind: str  # "faq" | "product" | "page"
    title: str  # the FAQ question, or the product title
    text: str  # the FAQ answer, or the product passage
    source: str  # file:line it came from
    url: str
    score: float  # ranking score (fused)
    similarity: float  # cosine of the question and the passage's best search key
    confident: bool  # similarity reaches the calibrated threshold for its kind
    metadata: dict[str, Any]


class HybridRetriever(BaseRetriever):
    """LlamaIndex retriever (usable in its query engines) and the bot's direct, typed search."""

    def __init__(self, handle: IndexHandle, embedder: Embedder, query_cache_size: int = 2048) -> None:
        super().__init__()
        self._handle = handle
        self._embedder = embedder
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()
        self._batcher = QueryBatcher(embedder.embed)

    def search(self, query: str, top_k: int = 5) -> list[Passage]:
        """CPU-bound (embedding): async callers use `asearch`."""
        return self._search_with(query, self._query_vector(query), top_k)

    async def asearch(self, query: str, top_k: int = 5) -> list[Passage]:
        """Concurrent callers' new questions are embedded in one batch, off the event loop."""
        vector = self._cached(query)
        if vector is None:
            vector = await self._batcher.embed(query)
            self._remember(query, vector)
        return await asyncio.to_thread(self._search_with, query, vector, top_k)

    async def aembed(self, texts: list[str]) -> Vectors:
        """Vectors of short texts (e.g. a description's sentences), batched with concurrent questions."""
        vectors = [self._cached(t) for t in texts]
        missing = [t for t, v in zip(texts, vectors, strict=True) if v is None]
        if missing:
            fresh = await asyncio.gather(*(self._batcher.embed(t) for t in missing))
            for text, vector in zip(missing, fresh, strict=True):
                self._remember(text, vector)
            found = dict(zip(missing, fresh, strict=True))
            vectors = [v if v is not None else found[t] for t, v in zip(texts, vectors, strict=True)]
        if not texts:
            return np.empty((0, self._embedder.dims), dtype=np.float32)
        return np.stack([v for v in vectors if v is not None]).astype(np.float32, copy=False)

    @property
    def live(self) -> LiveIndex:
        """The live version; take it once per question so catalog and index come from one version."""
        return self._handle.live

    def _search_with(self, query: str, vector: Vectors, top_k: int) -> list[Passage]:
        live = self._handle.live  # taken once: a swap mid-question never mixes versions
        if live.manifest.embedding_model != self._embedder.model_id:
            raise RuntimeError(
                f"index {live.manifest.version} was built with {live.manifest.embedding_model}, "
                f"but the bot is configured with {self._embedder.model_id}; rebuild or change the setting"
            )
        hits = live.index.search(query, vector, top_k)
        return [_passage(hit, live.manifest.thresholds) for hit in hits]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        live = self._handle.live
        hits = live.index.search(query_bundle.query_str, self._query_vector(query_bundle.query_str), 5)
        return [NodeWithScore(node=hit.node, score=hit.score) for hit in hits]

    def _query_vector(self, query: str) -> Vectors:
        vector = self._cached(query)
        if vector is None:
            vector = self._embedder.embed([query])[0]
            self._remember(query, vector)
        return vector

    # Shoppers repeat questions; embedding is most of the cost of a search.
    def _cached(self, query: str) -> Vectors | None:
        with self._cache_lock:
            cached = self._cache.get(query)
            if cached is not None:
                self._cache.move_to_end(query)
            return cached

    def _remember(self, query: str, vector: Vectors) -> None:
        with self._cache_lock:
            self._cache[query] = vector
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


def _passage(hit: NodeHit, thresholds: dict[str, float]) -> Passage:
    meta = hit.node.metadata
    kind = str(meta.get("kind", "product"))
    return Passage(
        node_id=hit.node.node_id,
        kind=kind,
        title=str(meta.get("title", "")),
        text=hit.node.text,
        source=str(meta.get("source", "")),
        url=str(meta.get("url", "")),
        score=hit.score,
        similarity=hit.similarity,
        confident=hit.similarity >= thresholds.get(kind, 1.0),
        metadata=dict(meta),
    )
