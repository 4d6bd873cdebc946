"""Retrieval over the live index: cited, scored passages with a confidence the answerer thresholds.

Two faces over one search: the bot's typed `search`/`asearch` (`Passage`, thresholded here), and
LlamaIndex's `retrieve`/`aretrieve` (`NodeWithScore`, `similarity_top_k` of them, each node's metadata
carrying its `similarity` and `kind`; `knowledge.index.postprocess.ConfidencePostprocessor` thresholds those).
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from knowledge.index.batching import QueryBatcher
from knowledge.index.embedding import Embedder, Vectors
from knowledge.index.hybrid import NodeHit
from knowledge.index.live import IndexHandle, LiveIndex

SIMILARITY = "similarity"  # node metadata key: cosine of the query and the node's best search key
KIND = "kind"  # node metadata key: "faq" | "product" | "page"
_ADDED = (SIMILARITY,)  # keys the retriever adds to a node copy (the index's own nodes are never changed)


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

    def __init__(self, handle: IndexHandle, embedder: Embedder, query_cache_size: int = 2048,
                 similarity_top_k: int = 5) -> None:
        super().__init__()
        if similarity_top_k < 1:
            raise ValueError("similarity_top_k must be at least 1")
        self.similarity_top_k = similarity_top_k  # what `retrieve`/`aretrieve` return; `search` takes its own
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
        """Concurrent callers' new questions are embedded in one batch, off the event loop. The search
        itself (about 1 ms at 5k and at 100k passages) runs on the loop: a thread hop cost more than it
        saved, alone and with 50 concurrent shoppers (BENCHMARKS.md, issue 13)."""
        vector = await self._aquery_vector(query)
        return self._search_with(query, vector, top_k)

    async def aembed(self, texts: list[str]) -> Vectors:
        """Vectors of short texts: a quotable sentence's from the build, others (a question) embedded now,
        batched with concurrent questions."""
        built = self._handle.live.sentences if self._handle.version is not None else None
        vectors = [(built.get(t) if built is not None else None) for t in texts]
        vectors = [v if v is not None else self._cached(t) for t, v in zip(texts, vectors, strict=True)]
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
        live, hits = self._hits(query, vector, top_k)
        return [_passage(hit, live.manifest.thresholds) for hit in hits]

    def _hits(self, query: str, vector: Vectors, top_k: int) -> tuple[LiveIndex, list[NodeHit]]:
        live = self._handle.live  # taken once: a swap mid-question never mixes versions
        if live.manifest.embedding_model != self._embedder.model_id:
            raise RuntimeError(
                f"index {live.manifest.version} was built with {live.manifest.embedding_model}, "
                f"but the bot is configured with {self._embedder.model_id}; rebuild or change the setting"
            )
        return live, live.index.search(query, vector, top_k)

    def _nodes_with(self, query: str, vector: Vectors) -> list[NodeWithScore]:
        _, hits = self._hits(query, vector, self.similarity_top_k)
        return [_node_with_score(hit) for hit in hits]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """CPU-bound (embedding): async callers use `aretrieve`."""
        query = query_bundle.query_str
        return self._nodes_with(query, self._query_vector(query))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """`asearch`'s path: query-embedding cache, then the batcher, then the search on the loop."""
        query = query_bundle.query_str
        vector = await self._aquery_vector(query)
        return self._nodes_with(query, vector)

    async def _aquery_vector(self, query: str) -> Vectors:
        vector = self._cached(query)
        if vector is None:
            vector = await self._batcher.embed(query)
            self._remember(query, vector)
        return vector

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


def passage_of(scored: NodeWithScore, confident: bool) -> Passage:
    """The typed passage of a retrieved node (`confident` as judged by the caller, e.g. after the postprocessor)."""
    node = scored.node
    meta = node.metadata
    return Passage(
        node_id=node.node_id,
        kind=str(meta.get(KIND, "product")),
        title=str(meta.get("title", "")),
        text=node.get_content(),
        source=str(meta.get("source", "")),
        url=str(meta.get("url", "")),
        score=float(scored.score or 0.0),
        similarity=float(meta.get(SIMILARITY, 0.0)),
        confident=confident,
        metadata={k: v for k, v in meta.items() if k not in _ADDED},
    )


def _node_with_score(hit: NodeHit) -> NodeWithScore:
    """A copy of the index's node with the similarity in its metadata (kept out of LLM and embedding text)."""
    node = hit.node.model_copy(update={
        "metadata": {**hit.node.metadata, SIMILARITY: hit.similarity},
        "excluded_llm_metadata_keys": [*hit.node.excluded_llm_metadata_keys, *_ADDED],
        "excluded_embed_metadata_keys": [*hit.node.excluded_embed_metadata_keys, *_ADDED],
    })
    return NodeWithScore(node=node, score=hit.score)


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
