"""The embedding model through ONNX Runtime: the same vectors as PyTorch, exported once, interchangeable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.app.settings import load_settings
from bot.app.wiring import make_embedder
from knowledge.index import onnx_export
from knowledge.index.builder import build_version
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.onnx_export import SERVED_VARIANTS, OnnxVariant
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore

TEXTS = [
    "how much is the summit pro tent?",
    "Kann ich mit PayPal bezahlen? 🙂",
    "",
    "x",
    # longer than the 128 word pieces the model reads: both backends cut it at the same place
    "Waterproof, breathable and light: " + "three-layer shell with taped seams, " * 40,
]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(backend="torch")


@pytest.mark.parametrize("variant", SERVED_VARIANTS)
def test_onnx_vectors_equal_the_torch_ones(torch_embedder: SentenceTransformerEmbedder, variant: OnnxVariant) -> None:
    onnx_embedder = SentenceTransformerEmbedder(variant=variant)
    assert onnx_embedder.backend == f"onnx-{variant}" and torch_embedder.backend == "torch"
    onnx, torch = onnx_embedder.embed(TEXTS), torch_embedder.embed(TEXTS)
    assert onnx.shape == torch.shape == (len(TEXTS), 384) and onnx.dtype == np.float32
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1, atol=1e-5)
    assert float((onnx * torch).sum(axis=1).min()) >= 1 - 1e-4
    assert onnx_embedder.model_id == torch_embedder.model_id  # one index serves both


def test_the_default_is_the_optimised_onnx_model(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.backend == "onnx-O2"


@pytest.mark.parametrize(("build_with", "ask_with"), [("torch", "onnx"), ("onnx", "torch")])
def test_an_index_built_with_one_backend_serves_queries_from_the_other(
    tiny_source: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder,
    torch_embedder: SentenceTransformerEmbedder, build_with: str, ask_with: str,
) -> None:
    backends = {"onnx": embedder, "torch": torch_embedder}
    store = VersionStore(tmp_path / "kb")
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    build_version(tiny_source, store, backends[build_with], cache)
    cache.close()
    handle = IndexHandle(store, backends[ask_with].model_id)
    assert handle.refresh()
    top = HybridRetriever(handle, backends[ask_with]).search("do you take paypal", top_k=1)[0]
    assert top.title == "Which payment methods do you accept?" and top.confident


def test_the_export_is_made_once_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = SentenceTransformerEmbedder(onnx_cache=tmp_path / "onnx")
    exported = list((tmp_path / "onnx").iterdir())
    assert len(exported) == 1 and (exported[0] / "onnx" / "model_O2.onnx").is_file()

    def no_second_export(*args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "_export", no_second_export)
    again = SentenceTransformerEmbedder(onnx_cache=tmp_path / "onnx")
    assert np.array_equal(first.embed(TEXTS[:2]), again.embed(TEXTS[:2]))
    assert not list((tmp_path / "onnx").glob(".staging-*"))


def test_a_failed_export_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(source: str, out: Path, variant: str) -> None:
        (out / "onnx").mkdir(parents=True)
        (out / "onnx" / "model_O2.onnx").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(onnx_export, "_export", broken)
    with pytest.raises(OSError, match="disk full"):
        SentenceTransformerEmbedder(onnx_cache=tmp_path / "onnx")
    assert list((tmp_path / "onnx").iterdir()) == []


def test_settings_choose_the_backend_and_keep_the_export_beside_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EMBED_ONNX_DIR", raising=False)
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "kb"))
    onnx = make_embedder(load_settings())
    assert isinstance(onnx, SentenceTransformerEmbedder) and onnx.backend == "onnx-O2"
    assert list((tmp_path / "kb" / "onnx").glob("all-MiniLM-L6-v2-*-O2/onnx/model_O2.onnx"))
    torch = make_embedder(load_settings(embed_backend="torch"))
    assert isinstance(torch, SentenceTransformerEmbedder) and torch.backend == "torch"
