"""The hybrid index: faiss over key vectors + BM25 over key texts, fused per node.

Every node (FAQ entry, product chunk) has one or more search keys; a node scores as its best key.
faiss is used directly (not through FaissVectorStore) because a node has many keys and the
per-key → per-node aggregation needs the raw key ids; see BENCHMARKS.md for the overhead measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import bm25s
import faiss
import numpy as np
import numpy.typing as npt
from llama_index.core.schema import TextNode

from knowledge.index.embedding import Vectors
from knowledge.index.nodes import SearchKey
from knowledge.index.tokens import Tokenizer

HNSW_FROM_KEYS = 50_000  # below this an exact flat search is faster than building a graph
CANDIDATE_KEYS = 100
BM25_WEIGHT = 0.05


@dataclass(frozen=True, slots=True)
class NodeHit:
    node: TextNode
    score: float  # fused ranking score
    similarity: float  # cosine of the query and the node's best key: the confidence signal


class HybridIndex:
    def __init__(
        self,
        nodes: list[TextNode],
        key_nodes: npt.NDArray[np.int64],
        key_vectors: Vectors,
        dense: faiss.Index,
        bm25: bm25s.BM25,
    ) -> None:
        self.nodes = nodes
        self._key_nodes = key_nodes
        self._key_vectors = key_vectors
        self._dense = dense
        self._bm25 = bm25
        self._tokenize = Tokenizer()
        self.bm25_weight = BM25_WEIGHT

    @classmethod
    def build(cls, nodes: list[TextNode], keys: list[SearchKey], vectors: Vectors) -> HybridIndex:
        tokenize = Tokenizer()
        bm25 = bm25s.BM25()
        # An empty token list breaks bm25s; a placeholder keeps key ids aligned.
        bm25.index([tokenize(k.text) or ["\x00"] for k in keys], show_progress=False)
        key_nodes = np.asarray([k.node for k in keys], dtype=np.int64)
        return cls(nodes, key_nodes, vectors, _dense_index(vectors), bm25)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "nodes.jsonl").open("w", encoding="utf-8") as out:
            for node in self.nodes:
                out.write(json.dumps({"id": node.node_id, "text": node.text, "metadata": node.metadata}) + "\n")
        np.save(directory / "key_nodes.npy", self._key_nodes)
        np.save(directory / "key_vectors.npy", self._key_vectors)
        faiss.write_index(self._dense, str(directory / "dense.faiss"))
        self._bm25.save(str(directory / "bm25"))

    @classmethod
    def load(cls, directory: Path) -> HybridIndex:
        with (directory / "nodes.jsonl").open(encoding="utf-8") as lines:
            nodes = [TextNode(id_=r["id"], text=r["text"], metadata=r["metadata"]) for r in map(json.loads, lines)]
        return cls(
            nodes,
            np.load(directory / "key_nodes.npy"),
            np.load(directory / "key_vectors.npy"),
            faiss.read_index(str(directory / "dense.faiss")),
            bm25s.BM25.load(str(directory / "bm25")),
        )

    @property
    def key_count(self) -> int:
        return len(self._key_nodes)

    def search(self, query: str, vector: Vectors, top_k: int) -> list[NodeHit]:
        """The top_k nodes by dense similarity plus a weighted, query-normalised BM25 score."""
        want = min(CANDIDATE_KEYS, len(self._key_nodes))
        _, dense_ids = self._dense.search(vector.reshape(1, -1), want)
        bm25_keys, bm25_scores = self._bm25_keys(query, want)
        candidates = np.unique(np.concatenate([dense_ids[0][dense_ids[0] >= 0], bm25_keys]))
        similarity = _best_per_node(self._key_nodes[candidates], self._key_vectors[candidates] @ vector.reshape(-1))
        lexical = _best_per_node(self._key_nodes[bm25_keys], bm25_scores / max(float(bm25_scores.max(initial=0)), 1e-9))
        fused = {n: s + self.bm25_weight * lexical.get(n, 0.0) for n, s in similarity.items()}
        best = sorted(fused, key=fused.__getitem__, reverse=True)[:top_k]
        return [NodeHit(self.nodes[n], fused[n], similarity[n]) for n in best]

    def _bm25_keys(self, query: str, want: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        token_ids = self._bm25.get_tokens_ids(self._tokenize(query))
        if not token_ids:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        scores = self._bm25.get_scores_from_ids(token_ids)
        top = np.argpartition(-scores, want - 1)[:want] if want < len(scores) else np.arange(len(scores))
        top = top[scores[top] > 0]
        return top.astype(np.int64), scores[top].astype(np.float32)


def _dense_index(vectors: Vectors) -> faiss.Index:
    dims = vectors.shape[1]
    index: faiss.Index
    if len(vectors) >= HNSW_FROM_KEYS:
        index = faiss.IndexHNSWFlat(dims, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dims)
    index.add(vectors)
    return index


def _best_per_node(key_nodes: npt.NDArray[np.int64], scores: npt.NDArray[np.float32]) -> dict[int, float]:
    best: dict[int, float] = {}
    for node, score in zip(key_nodes.tolist(), scores.tolist(), strict=True):
        if score > best.get(node, -2.0):
            best[node] = score
    return best
