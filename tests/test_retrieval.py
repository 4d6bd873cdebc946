"""Hybrid retrieval: cited passages, past questions as phrasings only, products, confidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.builder import BuildOptions, build_version
from knowledge.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.live import IndexHandle, NoIndexError
from knowledge.retrieval import HybridRetriever
from knowledge.versions import VersionStore
from tests.conftest import write_tree


@pytest.fixture
def retriever(
    tiny_source: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder, embedding_cache: EmbeddingCache
) -> HybridRetriever:
    long_doc = "---\nsku: BOOT-9\ntitle: Ridge hiking boot\n---\n" + " ".join(
        f"Sentence {i} about the Ridge boot's Vibram sole and leather upper." for i in range(120)
    )
    write_tree(tiny_source, {"products/boot.md": long_doc})
    store = VersionStore(tmp_path / "kb")
    build_version(tiny_source, store, embedder, embedding_cache, BuildOptions(faq_threshold=0.5))
    handle = IndexHandle(store)
    handle.refresh()
    return HybridRetriever(handle, embedder)


def test_faq_answer_is_found_and_cited(retriever: HybridRetriever) -> None:
    top = retriever.search("what does delivery cost?", 3)[0]
    assert top.metadata["faq_id"] == "shipping_cost"
    assert top.text.startswith("Shipping is free over €60")
    assert top.title == "How much does shipping cost?"
    assert top.source == "faq/faq.csv:2"
    assert top.confident


def test_past_question_phrasing_finds_the_entry_but_is_never_the_text(retriever: HybridRetriever) -> None:
    passages = retriever.search("do u take apple pay", 5)
    assert passages[0].metadata["faq_id"] == "payment_methods"
    assert all("apple pay" not in p.text.lower() for p in passages)


def test_product_passages_carry_metadata_and_long_docs_are_chunked(retriever: HybridRetriever) -> None:
    tent = retriever.search("how heavy is the Summit Pro tent?", 1)[0]
    assert tent.kind == "product" and tent.metadata["sku"] == "TENT-2P"
    assert tent.metadata["price"] == "349.00" and tent.url == "https://shop.example/p/tent-2p"
    boot_chunks = [p for p in retriever.search("Ridge boot Vibram sole", 10) if p.title == "Ridge hiking boot"]
    assert len(boot_chunks) > 1 and len({p.node_id for p in boot_chunks}) == len(boot_chunks)


def test_unrelated_question_is_not_confident(retriever: HybridRetriever) -> None:
    assert not retriever.search("what is the capital of mongolia", 1)[0].confident


def test_repeated_question_reuses_the_query_embedding(
    retriever: HybridRetriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever.search("can I pay with paypal", 1)
    calls: list[int] = []
    original = retriever._embedder.embed
    monkeypatch.setattr(retriever._embedder, "embed", lambda texts: calls.append(1) or original(texts))
    retriever.search("can I pay with paypal", 1)
    assert calls == []


def test_no_version_built_is_a_clear_error(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    retriever = HybridRetriever(IndexHandle(VersionStore(tmp_path / "empty")), embedder)
    with pytest.raises(NoIndexError, match="storebot kb build"):
        retriever.search("hello", 1)
