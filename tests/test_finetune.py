"""Fine-tuning the bundled embedding model on a store's past questions: output, bad input, interruption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from knowledge.eval.finetune import MANIFEST, MIN_PAIRS, STAGING_PREFIX, FineTuneError, FineTuneOptions, fine_tune
from knowledge.index.builder import build_version
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle, ModelMismatchError
from knowledge.index.versions import VersionStore
from knowledge.sources.loader import load_sources
from tests.conftest import TINY_FAQ, write_tree

PHRASINGS = {
    "shipping_cost": ["how much is shipping to {}", "delivery price for {}", "what does postage cost to {}"],
    "return_policy": ["can I send back my order from {}", "return rules for {}", "refund if I live in {}"],
    "payment_methods": ["can I pay by card in {}", "payment options in {}", "do you take klarna in {}"],
}
PLACES = ["berlin", "paris", "rome", "madrid", "vienna", "oslo"]


def _history(rows: int) -> str:
    lines = [f"{template.format(place)},{faq_id}" for faq_id, templates in PHRASINGS.items()
             for template in templates for place in PLACES]
    return "question,faq_id\n" + "\n".join(lines[:rows]) + "\n"


def _source(root: Path, past_rows: int) -> Path:
    return write_tree(root, {"faq/faq.csv": TINY_FAQ, "past_questions/history.csv": _history(past_rows)})


def test_fine_tune_writes_a_complete_model_with_its_manifest(tmp_path: Path) -> None:
    sources = load_sources(_source(tmp_path / "src", 54))
    path, manifest = fine_tune(sources, tmp_path / "models", FineTuneOptions(epochs=1))
    assert path.parent == tmp_path / "models" and path.name == manifest.model_id
    assert not list((tmp_path / "models").glob(f"{STAGING_PREFIX}*"))
    saved = json.loads((path / MANIFEST).read_text())
    assert saved["base_model"] == "bundled:all-MiniLM-L6-v2" and saved["faq_entries"] == 3
    assert saved["pairs_train"] + saved["pairs_validation"] == 54 + 5  # past questions + FAQ alternates
    assert 0 <= saved["validation_hit1_before"] <= 1 and 0 <= saved["validation_hit1_after"] <= 1
    embedder = SentenceTransformerEmbedder(str(path), onnx_cache=tmp_path / "onnx")  # served through ONNX
    assert embedder.model_id == f"local:{path.name}" and embedder.dims == 384


@pytest.mark.parametrize("rows", [0, MIN_PAIRS - 6])
def test_too_little_data_is_refused_with_the_minimum(tmp_path: Path, rows: int) -> None:
    sources = load_sources(_source(tmp_path / "src", rows))
    with pytest.raises(FineTuneError, match=f"need at least {MIN_PAIRS} question → FAQ pairs"):
        fine_tune(sources, tmp_path / "models")
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_an_interrupted_fine_tune_leaves_no_model(tmp_path: Path) -> None:
    sources = load_sources(_source(tmp_path / "src", 54))

    def interrupt(stage: str, done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fine_tune(sources, tmp_path / "models", progress=interrupt)
    models = tmp_path / "models"
    assert not models.exists() or list(models.iterdir()) == []  # no half-written model, no staging left
    abandoned = models / f"{STAGING_PREFIX}killed"  # what `kill -9` mid-save would leave
    abandoned.mkdir(parents=True)
    with pytest.raises(ValueError, match="unfinished fine-tune"):
        SentenceTransformerEmbedder(str(abandoned))


def test_cli_names_the_bad_history_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    faq = write_tree(tmp_path, {"faq.csv": TINY_FAQ, "history.csv": _history(54) + "where is my parcel,track_order\n"})
    result = CliRunner().invoke(app, ["finetune", "embeddings", "--history", str(faq / "history.csv"),
                                      "--faq", str(faq / "faq.csv")])
    assert result.exit_code == 1
    assert "history.csv:56" in result.output and "track_order" in result.output
    half = CliRunner().invoke(app, ["finetune", "embeddings", "--history", str(faq / "history.csv")])
    assert half.exit_code == 1 and "give both --history and --faq" in half.output


def test_an_index_built_with_the_fine_tuned_model_is_refused_by_a_process_using_another(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, embedding_cache: EmbeddingCache,
) -> None:
    source = _source(tmp_path / "src", 54)
    path, _ = fine_tune(load_sources(source), tmp_path / "models")
    tuned = SentenceTransformerEmbedder(str(path), backend="torch")
    store = VersionStore(tmp_path / "kb")
    build_version(source, store, tuned, embedding_cache)
    assert IndexHandle(store, tuned.model_id).refresh()
    with pytest.raises(ModelMismatchError, match=f"built with local:{path.name}.*EMBED_MODEL"):
        IndexHandle(store, embedder.model_id).refresh()


def test_eval_compare_prints_every_mode_and_marks_chat_modes_not_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    source = _source(tmp_path / "src", 54)
    model, _ = fine_tune(load_sources(source), tmp_path / "models")
    passage = {"id": "p1", "asin": "A1", "title": "Summit tent", "source": "description",
               "text": "A freestanding four-season tent weighing 2.1 kg."}
    data = write_tree(tmp_path / "eval", {
        "store-faq/faq.csv": TINY_FAQ.replace(",alternates", "").replace(",delivery fees|is shipping free", "")
        .replace(",how do returns work|refund", "").replace(",can I pay with paypal", ""),
        "store-faq/history.csv": _history(54),
        "store-faq/queries.csv": "query,expected_id\nwhat is the delivery cost to lisbon,shipping_cost\n"
                                 "can I return shoes,return_policy\nwhere is my parcel,\n",
        "product-qa/passages.jsonl": json.dumps(passage) + "\n",
        "product-qa/queries.jsonl": json.dumps({"qid": "q1", "question": "how heavy is it?", "asin": "A1",
                                                "title": "Summit tent", "relevant": ["p1"], "partial": []}) + "\n",
    })
    result = CliRunner().invoke(app, ["eval", "compare", "--data", str(data), "--model", str(model)])
    assert result.exit_code == 0, result.output
    out = result.output
    for mode in ("| base embeddings |", "| fine-tuned embeddings |",
                 "| base embeddings + past questions as search keys |",
                 "| fine-tuned embeddings + past questions as search keys |"):
        assert out.count(mode) >= 1, mode
    assert out.count("not configured: no chat endpoint") == 6  # three chat modes, in both tables
    assert "the product set has no past questions" in out
    assert "| base embeddings | 1.000 | 1.000 | 1.000 | 1.000 | — | — | — |" in out.split("product-qa")[1]


def test_eval_compare_measures_chat_modes_when_an_endpoint_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A local OpenAI-compatible chat server answers every question with the shipping answer, citing [1]."""
    import asyncio
    import threading

    from aiohttp import web

    from tests.chat_standin import StandIn

    chat = StandIn(content="Shipping is free over €60; otherwise €4.90. [1]")
    loop = asyncio.new_event_loop()
    server = web.Application()
    server.router.add_post("/v1/chat/completions", chat.handle)
    site_runner = web.AppRunner(server)
    loop.run_until_complete(site_runner.setup())
    loop.run_until_complete(web.TCPSite(site_runner, "127.0.0.1", 0).start())
    threading.Thread(target=loop.run_forever, daemon=True).start()
    monkeypatch.chdir(tmp_path)
    for name, value in {"OPENAI_BASE_URL": f"http://127.0.0.1:{site_runner.addresses[0][1]}/v1",
                        "OPENAI_API_KEY": "test", "LLM_MODEL": "gpt-4o-mini", "LLM_PRICE_INPUT_PER_M": "0.15",
                        "LLM_PRICE_OUTPUT_PER_M": "0.6"}.items():
        monkeypatch.setenv(name, value)
    model, _ = fine_tune(load_sources(_source(tmp_path / "src", 54)), tmp_path / "models")
    data = write_tree(tmp_path / "eval", {
        "store-faq/faq.csv": "id,question,answer\nshipping_cost,How much does shipping cost?,"
                             "Shipping is free over €60; otherwise €4.90.\nreturn_policy,Can I return an item?,"
                             "\"Yes, within 30 days of delivery, unworn and with tags.\"\n",
        "store-faq/history.csv": _history(54).replace(",payment_methods", ",return_policy"),
        "store-faq/queries.csv": "query,expected_id\nhow much is shipping to lisbon,shipping_cost\n"
                                 "can I send back my order from lisbon,return_policy\n",
        "product-qa/passages.jsonl": json.dumps({"id": "p1", "asin": "A1", "title": "Tent", "source": "bullet",
                                                 "text": "Weighs 2.1 kg."}) + "\n",
        "product-qa/queries.jsonl": json.dumps({"qid": "q1", "question": "weight?", "asin": "A1", "title": "Tent",
                                                "relevant": ["p1"], "partial": []}) + "\n",
    })
    try:
        result = CliRunner().invoke(app, ["eval", "compare", "--data", str(data), "--model", str(model),
                                          "--chat-model", "ft:gpt-4o-mini:acme::shop1"])
    finally:
        asyncio.run_coroutine_threadsafe(site_runner.cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
    assert result.exit_code == 0, result.output
    faq_table = result.output.split("product-qa (")[0]
    # RAG: judged by the entry each answer cites ([1] = the top passage, right for both questions).
    assert "| RAG with the base chat model | — | — | 100.0% | 0.0% | 0.0% |" in faq_table
    assert "| fine-tuned chat model with RAG | — | — | 100.0% | 0.0% | 0.0% |" in faq_table
    # Alone: judged by the FAQ answer its text matches: the shipping answer, right for one question of two.
    assert "| fine-tuned chat model alone | — | — | 50.0% | 50.0% | 0.0% |" in faq_table
    # 10 prompt + 5 completion tokens per call at $0.15 / $0.60 per 1M: $0.0045 per 1,000 questions.
    assert faq_table.count("| $0.00 |") == 3
    assert {r["model"] for r in chat.requests} == {"gpt-4o-mini", "ft:gpt-4o-mini:acme::shop1"}
    product_table = result.output.split("product-qa (")[1]
    # The product question's top passage is the relevant one, and the answer cites [1]: right.
    assert "| RAG with the base chat model | — | — | — | — | 100.0% | 0.0% | 0.0% |" in product_table
    assert "not measurable: product questions have no reference answer" in product_table
