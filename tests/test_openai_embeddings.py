"""EMBED_MODEL=openai:<model>: the real openai client against a local embeddings stand-in."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from bot.app.settings import load_settings
from bot.app.wiring import make_embedder
from knowledge.index.builder import build_version
from knowledge.index.embedding import EmbeddingCache, OpenAIEmbedder
from knowledge.index.versions import VersionStore

DIMS = 8


class _Embeddings(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Embeddings.requests.append({"path": self.path, **body})
        # A deterministic, unnormalised vector per text, so normalisation is exercised too.
        data = [{"object": "embedding", "index": i,
                 "embedding": [float((len(t) + k) % 5 + 1) for k in range(DIMS)]}
                for i, t in enumerate(body["input"])]
        payload = json.dumps({"object": "list", "data": data, "model": body["model"],
                              "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Embeddings.requests.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_openai_embeddings_by_setting(stand_in: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBED_MODEL", "openai:text-embedding-3-small")
    monkeypatch.setenv("OPENAI_BASE_URL", stand_in)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    embedder = make_embedder(load_settings())
    assert isinstance(embedder, OpenAIEmbedder)
    vectors = embedder.embed(["hello", "shipping costs"])
    assert vectors.shape == (2, DIMS) and embedder.dims == DIMS
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert _Embeddings.requests[0]["path"] == "/v1/embeddings"
    assert _Embeddings.requests[0]["model"] == "text-embedding-3-small"
    assert embedder.model_id == "openai:text-embedding-3-small"


def test_build_with_openai_embeddings_records_the_model(stand_in: str, tiny_source: Path, tmp_path: Path) -> None:
    embedder = OpenAIEmbedder("text-embedding-3-small", "test-key", stand_in)
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    manifest = build_version(tiny_source, VersionStore(tmp_path / "kb"), embedder, cache)
    cache.close()
    assert manifest.embedding_model == "openai:text-embedding-3-small" and manifest.dims == DIMS
    embedded = sum(len(r["input"]) for r in _Embeddings.requests if r["input"] != ["dimension probe"])  # type: ignore[arg-type]
    assert embedded == manifest.counts["search_keys"] + manifest.counts["quotable_sentences"]
