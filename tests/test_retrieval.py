"""Hybrid retrieval: cited passages, past questions as phrasings only, products, confidence; and the same
search through LlamaIndex (retriever, confidence postprocessor, the fact answerer as a query engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.response.schema import Response
from llama_index.core.schema import NodeWithScore, TextNode

from bot.answerers.facts import FactAnswerer
from bot.answerers.query_engine import ConversationQuery, FactQueryEngine, reply_of
from bot.types import Reply, Turn
from knowledge.index.builder import BuildOptions, build_version
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle, NoIndexError
from knowledge.index.postprocess import ConfidencePostprocessor
from knowledge.index.retrieval import KIND, SIMILARITY, HybridRetriever, passage_of
from knowledge.index.versions import VersionStore
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


# --- LlamaIndex: retriever, confidence postprocessor, query engine -------------------------------------------

def _thresholds(retriever: HybridRetriever) -> ConfidencePostprocessor:
    return ConfidencePostprocessor(thresholds=lambda: retriever.live.manifest.thresholds)


@pytest.mark.parametrize("top_k", [1, 3, 6])
async def test_aretrieve_honours_similarity_top_k_and_matches_asearch(retriever: HybridRetriever, top_k: int) -> None:
    retriever.similarity_top_k = top_k
    question = "Ridge boot Vibram sole and delivery cost"

    nodes = await retriever.aretrieve(question)

    passages = await retriever.asearch(question, top_k)
    assert len(nodes) == top_k == len(passages)
    assert [n.node.node_id for n in nodes] == [p.node_id for p in passages]
    assert [n.node.metadata[SIMILARITY] for n in nodes] == pytest.approx([p.similarity for p in passages])
    assert [n.node.metadata[KIND] for n in nodes] == [p.kind for p in passages]
    assert [n.score for n in nodes] == pytest.approx([p.score for p in passages])
    assert [passage_of(n, p.confident) for n, p in zip(nodes, passages, strict=True)] == passages
    # The index's own nodes are copied, never stamped: another question's similarity cannot leak into them.
    assert all(SIMILARITY not in node.metadata for node in retriever.live.index.nodes)


def test_retrieve_honours_similarity_top_k(tiny_source: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder,
                                           embedding_cache: EmbeddingCache) -> None:
    store = VersionStore(tmp_path / "kb")
    build_version(tiny_source, store, embedder, embedding_cache, BuildOptions(faq_threshold=0.5))
    handle = IndexHandle(store)
    handle.refresh()

    two = HybridRetriever(handle, embedder, similarity_top_k=2).retrieve("how much does shipping cost?")

    assert [n.node.node_id for n in two] == ["faq:shipping_cost", two[1].node.node_id] and len(two) == 2
    with pytest.raises(ValueError, match="similarity_top_k"):
        HybridRetriever(handle, embedder, similarity_top_k=0)


async def test_aretrieve_uses_the_batcher_and_the_query_cache(
    retriever: HybridRetriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    batched: list[str] = []
    original = retriever._batcher.embed

    async def counting(text: str) -> Any:
        batched.append(text)
        return await original(text)

    monkeypatch.setattr(retriever._batcher, "embed", counting)
    await retriever.aretrieve("which cards do you take?")
    await retriever.aretrieve("which cards do you take?")
    await retriever.asearch("which cards do you take?", 2)

    assert batched == ["which cards do you take?"]  # once through the batcher, then the shared cache


async def test_confidence_postprocessor_drops_what_search_calls_not_confident(retriever: HybridRetriever) -> None:
    retriever.similarity_top_k = 5
    postprocessor = _thresholds(retriever)
    for question in ("what does delivery cost?", "how heavy is the Summit Pro tent?",
                     "what is the capital of mongolia"):
        kept = await postprocessor.apostprocess_nodes(await retriever.aretrieve(question))
        expected = [p.node_id for p in retriever.search(question, 5) if p.confident]
        assert [n.node.node_id for n in kept] == expected
    assert expected == []  # the unrelated question keeps nothing


def test_confidence_postprocessor_thresholds_per_kind() -> None:
    def node(kind: str, similarity: float | None) -> NodeWithScore:
        meta: dict[str, Any] = {KIND: kind} if similarity is None else {KIND: kind, SIMILARITY: similarity}
        return NodeWithScore(node=TextNode(id_=f"{kind}-{similarity}", text="x", metadata=meta), score=1.0)

    nodes = [node("faq", 0.65), node("faq", 0.55), node("product", 0.5), node("product", 0.4),
             node("page", 0.99), node("faq", None)]
    postprocessor = ConfidencePostprocessor(thresholds=lambda: {"faq": 0.6, "product": 0.45})

    kept = postprocessor.postprocess_nodes(nodes)

    # page has no calibrated threshold in this version (never trusted); a node without a similarity neither
    assert [n.node.node_id for n in kept] == ["faq-0.65", "product-0.5"]


class RecordingAnswerer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Turn, ...]]] = []

    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        self.calls.append((question, history))
        return Reply(f"answer to {question}", mode="extractive")


async def test_fact_query_engine_answers_as_the_fact_answerer(retriever: HybridRetriever) -> None:
    facts = FactAnswerer(retriever, "Test Shop")
    engine = FactQueryEngine(facts)
    history = (Turn("shopper", "how heavy is the Summit Pro tent?"),)
    for question, turns in (("what does delivery cost?", ()), ("how heavy is the Summit Pro tent?", ()),
                            ("and how much is it?", history), ("hi", ())):
        assert await engine.answer(question, turns) == await facts.answer(question, turns)

    response = await engine.aquery(ConversationQuery("what does delivery cost?"))
    reply = reply_of(response)
    assert str(response) == reply.text and reply.text.startswith("Shipping is free over €60")
    assert reply.citations[0].source_id == "faq:shipping_cost"


async def test_fact_query_engine_passes_the_conversation_through() -> None:
    recorder = RecordingAnswerer()
    engine = FactQueryEngine(recorder)
    history = (Turn("shopper", "the tent?"), Turn("bot", "It weighs 2.1 kg."))

    reply = await engine.answer("and the price?", history)
    plain = await engine.aquery("hello")  # a plain string or QueryBundle: no history

    assert reply == Reply("answer to and the price?", mode="extractive")
    assert recorder.calls == [("and the price?", history), ("hello", ())]
    assert reply_of(plain).text == "answer to hello"


def test_query_engine_sync_query_for_scripts() -> None:
    response = FactQueryEngine(RecordingAnswerer()).query("do you ship to Austria?")

    assert reply_of(response).text == "answer to do you ship to Austria?"


def test_reply_of_refuses_a_foreign_response() -> None:
    with pytest.raises(TypeError, match="no Reply"):
        reply_of(Response("text"))
