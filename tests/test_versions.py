"""Versioned builds: manifest, atomic switch, failed builds, rollback, pruning, the embedding cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.index.builder import build_version
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import Manifest, VersionStore
from knowledge.sources.records import SourceError
from tests.conftest import TINY_FAQ, write_tree


def test_build_writes_a_complete_version_and_makes_it_live(
    tiny_source: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder, embedding_cache: EmbeddingCache
) -> None:
    store = VersionStore(tmp_path / "kb")
    manifest = build_version(tiny_source, store, embedder, embedding_cache)
    assert store.current() == manifest.version
    on_disk = Manifest.read(store.path(manifest.version))
    assert on_disk == manifest
    assert manifest.counts == {"faq_entries": 3, "past_questions": 3, "products": 1, "variants": 1, "product_docs": 1,
                               "page_sections": 0, "page_files": 0, "nodes": 4, "search_keys": 3 + 5 + 3 + 3 + 1,
                               "quotable_sentences": 7}
    assert manifest.embedding_model == embedder.model_id and manifest.dims == 384
    assert {s["path"] for s in manifest.sources} == {"faq/faq.csv", "past_questions/past.csv", "products/tent.md"}
    assert all(len(s["sha256"]) == 64 for s in manifest.sources)
    assert set(manifest.thresholds) == {"faq", "product", "page"}
    for name in ("nodes.jsonl", "dense.faiss", "key_vectors.npy", "key_nodes.npy", "manifest.json"):
        assert (store.path(manifest.version) / name).is_file()


def test_failed_build_leaves_the_live_version_serving(
    tiny_source: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder, embedding_cache: EmbeddingCache
) -> None:
    store = VersionStore(tmp_path / "kb")
    good = build_version(tiny_source, store, embedder, embedding_cache)
    write_tree(tiny_source, {"faq/broken.csv": "id,question,answer\nx,What?,\n"})
    with pytest.raises(SourceError, match=r"faq/broken.csv:2: empty answer"):
        build_version(tiny_source, store, embedder, embedding_cache)
    assert store.current() == good.version
    assert store.versions() == [good.version]
    assert not [p for p in (tmp_path / "kb" / "versions").iterdir() if p.name.startswith(".")]
    handle = IndexHandle(store)
    handle.refresh()
    assert HybridRetriever(handle, embedder).search("shipping cost", 1)[0].metadata["faq_id"] == "shipping_cost"


def test_rollback_and_pruning(
    tiny_source: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder, embedding_cache: EmbeddingCache
) -> None:
    store = VersionStore(tmp_path / "kb", keep=2)
    first = build_version(tiny_source, store, embedder, embedding_cache).version
    second = build_version(tiny_source, store, embedder, embedding_cache).version
    assert store.rollback() == first and store.current() == first
    third = build_version(tiny_source, store, embedder, embedding_cache).version
    assert store.current() == third
    assert store.versions() == [second, third]  # keep=2: the oldest is pruned
    assert store.rollback() == second
    with pytest.raises(LookupError):
        store.rollback()


def test_rebuild_after_a_small_edit_embeds_only_what_changed(
    tiny_source: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder, embedding_cache: EmbeddingCache
) -> None:
    store = VersionStore(tmp_path / "kb")
    first = build_version(tiny_source, store, embedder, embedding_cache)
    assert first.embedded == first.counts["search_keys"] + first.counts["quotable_sentences"]
    edited = TINY_FAQ.replace("otherwise €4.90", "otherwise €5.90")
    (tiny_source / "faq" / "faq.csv").write_text(edited, encoding="utf-8")
    second = build_version(tiny_source, store, embedder, embedding_cache)
    assert second.embedded == 2  # only the edited answer: its search key and its one sentence
    assert second.sources != first.sources


def test_index_handle_swaps_to_a_new_version(
    tiny_source: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder, embedding_cache: EmbeddingCache
) -> None:
    store = VersionStore(tmp_path / "kb")
    handle = IndexHandle(store)
    assert handle.refresh() is False and handle.version is None
    first = build_version(tiny_source, store, embedder, embedding_cache)
    assert handle.refresh() and handle.version == first.version
    in_flight = handle.live
    second = build_version(tiny_source, store, embedder, embedding_cache)
    assert handle.refresh() and handle.version == second.version
    assert in_flight.manifest.version == first.version  # a question in flight keeps its version
    assert handle.refresh() is False
