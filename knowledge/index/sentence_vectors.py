"""Vectors of every sentence an answer may quote, embedded at build time and saved with the version, so
that answering a question embeds the question and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from llama_index.core.schema import TextNode

from knowledge.index.embedding import Vectors
from knowledge.index.text_units import passage_units, product_units, with_clauses
from knowledge.sources.records import LoadedSources

TEXTS_FILE = "sentences.json"
VECTORS_FILE = "sentence_vectors.npy"


def quotable_texts(sources: LoadedSources, nodes: list[TextNode]) -> list[str]:
    """Product sentences and attributes, FAQ and page sentences and table rows, with their clauses."""
    texts: dict[str, None] = {}
    for product in sources.products:
        texts.update(dict.fromkeys(with_clauses(product_units(product))))
    for node in nodes:
        if node.metadata.get("kind") != "product":
            sentences, rows = passage_units(node.text)
            texts.update(dict.fromkeys(with_clauses(sentences) + rows))
    return list(texts)


class SentenceVectors:
    def __init__(self, texts: list[str], vectors: Vectors) -> None:
        self._texts = texts
        self._rows = {text: row for row, text in enumerate(texts)}
        self._vectors = vectors

    def __len__(self) -> int:
        return len(self._texts)

    @property
    def texts(self) -> list[str]:
        return self._texts

    def get(self, text: str) -> Vectors | None:
        row = self._rows.get(text)
        return None if row is None else self._vectors[row]

    def save(self, directory: Path) -> None:
        (directory / TEXTS_FILE).write_text(json.dumps(self._texts, ensure_ascii=False), encoding="utf-8")
        np.save(directory / VECTORS_FILE, self._vectors)

    @classmethod
    def load(cls, directory: Path) -> SentenceVectors:
        if not (directory / TEXTS_FILE).is_file():  # a version built before sentences were embedded
            return cls([], np.empty((0, 0), dtype=np.float32))
        texts = json.loads((directory / TEXTS_FILE).read_text(encoding="utf-8"))
        return cls(texts, np.load(directory / VECTORS_FILE))
