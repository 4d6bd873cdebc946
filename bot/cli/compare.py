"""`storebot eval compare`: fine-tuning vs embeddings on the store's eval data, one table per set."""

from __future__ import annotations

import asyncio
import csv
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import typer
from openai import AsyncOpenAI
from rich.console import Console

from bot.answerers.facts import FactAnswerer
from bot.app.settings import Settings
from bot.app.wiring import build_options, local_embedder
from bot.training.chat_eval import (
    FineTunedAlone,
    Question,
    RecordingSearch,
    Usage,
    cited_faq,
    closest_faq,
    evaluate_answers,
    metered_client,
    product_qa_questions,
    rag,
    store_faq_questions,
)
from bot.types import Answerer, Reply
from knowledge.eval.comparison import ModeRow, compare_product_qa, compare_store_faq
from knowledge.eval.evaluation import stage_store_faq
from knowledge.eval.finetune import FineTuneError, ModelManifest, fine_tune
from knowledge.index.embedding import BUNDLED_MODEL, Embedder
from knowledge.index.retrieval import HybridRetriever
from knowledge.sources.loader import load_sources

console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True)
NOT_CONFIGURED = "not configured: no chat endpoint (set OPENAI_BASE_URL / OPENAI_API_KEY)"
RAG_RETRIEVAL = "base embeddings + past questions as search keys"  # the retrieval the RAG modes use
CHAT_MODES = ("RAG with the base chat model", "fine-tuned chat model alone", "fine-tuned chat model with RAG")


def compare_modes(settings: Settings, data: Path, model: Path | None, chat_model: str | None,
                  chat_limit: int | None) -> None:
    """Prints the store-faq and product-qa tables; without `model`, fine-tunes one on store-faq's history first."""
    with tempfile.TemporaryDirectory() as work:
        tuned_path = model or _fine_tune_on_history(data / "store-faq", Path(work), settings)
        try:
            manifest = ModelManifest.read(tuned_path)
        except FineTuneError as err:
            err_console.print(f"{err}", style="red", markup=False, highlight=False)
            raise typer.Exit(1) from None
        base: Embedder = local_embedder(settings, BUNDLED_MODEL)
        tuned: Embedder = local_embedder(settings, str(tuned_path))
        options = build_options(settings)
        note = lambda mode: err_console.print(f"  measuring: {mode}", style="dim")  # noqa: E731
        console.print(f"Fine-tuned model: {tuned_path.name} (base {manifest.base_model}, "
                      f"{manifest.pairs_train:,} pairs, {manifest.epochs} epoch(s))\n")
        retrievers: dict[str, HybridRetriever] = {}
        faq_rows = compare_store_faq(data / "store-faq", Path(work) / "faq", base, tuned, options, note, retrievers)
        faq_modes = _faq_chat_modes(settings, data / "store-faq", retrievers, base, chat_model)
        faq_chat = asyncio.run(_chat_rows(settings, faq_modes, store_faq_questions(data / "store-faq"), chat_limit))
        console.print("store-faq (810 questions; correct/wrong/declined over all, hit@k over the covered ones)\n")
        console.print(_store_faq_table(faq_rows + faq_chat))
        product_rows = compare_product_qa(data / "product-qa", Path(work) / "products", base, tuned, options, note,
                                          retrievers)
        product_chat = asyncio.run(_chat_rows(settings, _product_chat_modes(settings, retrievers, chat_model),
                                              product_qa_questions(data / "product-qa"), chat_limit))
        console.print("\nproduct-qa (405 questions over the whole catalogue)\n")
        console.print(_product_table(product_rows + product_chat))


def _fine_tune_on_history(store_faq: Path, work: Path, settings: Settings) -> Path:
    err_console.print("No --model given: fine-tuning one on store-faq's history first (several minutes).")
    sources = load_sources(stage_store_faq(store_faq, work / "train-src", True), build_options(settings).load)
    path, _ = fine_tune(sources, work / "models")
    return path


def _configured(settings: Settings) -> bool:
    return bool(settings.openai_base_url or settings.openai_api_key)


ChatMode = tuple[str, Callable[[AsyncOpenAI], Answerer] | None, Callable[[Reply, Any], bool] | str]


def _models(settings: Settings, chat_model: str | None) -> tuple[str, str | None]:
    """The base chat model and the fine-tuned one (None when there is none to measure)."""
    tuned = chat_model or (settings.llm_model if settings.llm_model.startswith("ft:") else None)
    base = settings.finetune_base_model if settings.llm_model.startswith("ft:") else settings.llm_model
    return base, tuned


def _faq_chat_modes(settings: Settings, store_faq: Path, retrievers: dict[str, HybridRetriever], embedder: Embedder,
                    chat_model: str | None) -> list[ChatMode]:
    base, tuned = _models(settings, chat_model)
    retriever = retrievers[RAG_RETRIEVAL]
    fallback = FactAnswerer(retriever)
    with (store_faq / "faq.csv").open(newline="", encoding="utf-8") as f:
        faq_answers = {row["id"]: row["answer"] for row in csv.DictReader(f)}
    closest = closest_faq(embedder, faq_answers)
    store = settings.store_name
    by_citation: Callable[[Reply, Any], bool] = lambda reply, expected: cited_faq(reply) == expected  # noqa: E731
    return [
        (CHAT_MODES[0], lambda client: rag(client, base, retriever, fallback, store), by_citation),
        (CHAT_MODES[1], (lambda client: FineTunedAlone(client, tuned, store)) if tuned else None,
         lambda reply, expected: closest(reply) == expected),
        (CHAT_MODES[2], (lambda client: rag(client, tuned, retriever, fallback, store)) if tuned else None,
         by_citation),
    ]


def _product_chat_modes(settings: Settings, retrievers: dict[str, HybridRetriever],
                        chat_model: str | None) -> list[ChatMode]:
    base, tuned = _models(settings, chat_model)
    recording = RecordingSearch(retrievers["base embeddings"])
    fallback = FactAnswerer(retrievers["base embeddings"])
    store = settings.store_name
    return [
        (CHAT_MODES[0], lambda client: rag(client, base, recording, fallback, store), recording.cites_relevant),
        (CHAT_MODES[1], None, "not measurable: product questions have no reference answer to compare free text with"),
        (CHAT_MODES[2], (lambda client: rag(client, tuned, recording, fallback, store)) if tuned else None,
         recording.cites_relevant),
    ]


async def _chat_rows(settings: Settings, modes: list[ChatMode], questions: list[Question],
                     limit: int | None) -> list[ModeRow]:
    """The chat modes, measured when an endpoint is configured; otherwise listed as not configured."""
    if not _configured(settings):
        return [ModeRow(mode, None, NOT_CONFIGURED) for mode, _, _ in modes]
    usage = Usage()
    client = metered_client(settings.openai_api_key, settings.openai_base_url, usage)
    rows = []
    try:
        for mode, make, is_right in modes:
            if isinstance(is_right, str):
                rows.append(ModeRow(mode, None, is_right))
                continue
            if make is None:
                rows.append(ModeRow(mode, None, "not configured: no fine-tuned chat model (--chat-model or LLM_MODEL)"))
                continue
            err_console.print(f"  measuring: {mode}", style="dim")
            figures = await evaluate_answers(_asking(make(client)), is_right, questions, usage,
                                             settings.llm_price_input_per_m, settings.llm_price_output_per_m, limit)
            rows.append(ModeRow(mode, figures, "priced" if settings.llm_price_input_per_m else "price not set"))
    finally:
        await client.close()
    return rows


def _asking(answerer: Answerer) -> Callable[[str], Awaitable[Reply]]:
    async def ask(question: str) -> Reply:
        return await answerer.answer(question, ())

    return ask


def _cost(row: ModeRow) -> str:
    assert row.figures is not None
    if "cost_per_1000" not in row.figures:
        return "$0 (local)"
    return f"${row.figures['cost_per_1000']:.2f}" if row.note == "priced" else "price not set"


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _store_faq_table(rows: list[ModeRow]) -> str:
    lines = ["| mode | hit@1 | hit@5 | answered correctly | answered wrongly | declined | p50 ms | cost / 1,000 q |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        f = row.figures
        if f is None:
            lines.append(f"| {row.mode} | {row.note} | | | | | | |")
            continue
        hits = f"{f['hit@1']:.3f} | {f['hit@5']:.3f}" if "hit@1" in f else "— | —"
        lines.append(f"| {row.mode} | {hits} | {_pct(f['answered_correctly'])} "
                     f"| {_pct(f['answered_wrongly'])} | {_pct(f['declined'])} | {f['p50_ms']:.1f} | {_cost(row)} |")
    return "\n".join(lines)


def _product_table(rows: list[ModeRow]) -> str:
    lines = ["| mode | hit@1 | hit@5 | MRR@10 | product@1 | answered correctly | answered wrongly | declined | p50 ms "
             "| cost / 1,000 q |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        f = row.figures
        if f is None:
            lines.append(f"| {row.mode} | {row.note} | | | | | | | | |")
        elif "hit@1" in f:
            lines.append(f"| {row.mode} | {f['hit@1']:.3f} | {f['hit@5']:.3f} | {f['mrr@10']:.3f} "
                         f"| {f['product@1']:.3f} | — | — | — | {f['p50_ms']:.1f} | $0 (local) |")
        else:
            shares = f"{_pct(f['answered_correctly'])} | {_pct(f['answered_wrongly'])} | {_pct(f['declined'])}"
            lines.append(f"| {row.mode} | — | — | — | — | {shares} | {f['p50_ms']:.1f} | {_cost(row)} |")
    return "\n".join(lines)
