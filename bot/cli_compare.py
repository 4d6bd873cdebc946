"""`storebot eval --compare`: fine-tuning vs embeddings on the store's eval data, one table per set."""

from __future__ import annotations

import asyncio
import csv
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.answer_extractive import ExtractiveAnswerer
from bot.chat_eval import FineTunedAlone, Usage, cited_faq, closest_faq, evaluate_answers, metered_client, rag
from bot.cli_kb import EVAL_DATA, settings_or_exit
from bot.settings import Settings
from bot.types import Answerer, Reply
from bot.wiring import build_options
from knowledge.comparison import ModeRow, compare_product_qa, compare_store_faq
from knowledge.embedding import BUNDLED_MODEL, Embedder, SentenceTransformerEmbedder
from knowledge.evaluation import stage_store_faq
from knowledge.finetune import FineTuneError, ModelManifest, fine_tune
from knowledge.loader import load_sources
from knowledge.retrieval import HybridRetriever

console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True)
NOT_CONFIGURED = "not configured: no chat endpoint (set OPENAI_BASE_URL / OPENAI_API_KEY)"
RAG_RETRIEVAL = "base embeddings + past questions as search keys"  # the retrieval the RAG modes use
CHAT_MODES = ("RAG with the base chat model", "fine-tuned chat model alone", "fine-tuned chat model with RAG")


def eval_main(
    ctx: typer.Context,
    compare: Annotated[bool, typer.Option("--compare", help="Compare answer modes on the eval sets.")] = False,
    data: Annotated[Path, typer.Option(help="Folder with store-faq/ and product-qa/.")] = EVAL_DATA,
    model: Annotated[Path | None, typer.Option(
        help="A fine-tuned embedding model; default: fine-tune one on store-faq's history first.")] = None,
    chat_model: Annotated[str | None, typer.Option(
        help="A fine-tuned chat model id (ft:…); default LLM_MODEL when it is one.")] = None,
    chat_limit: Annotated[int | None, typer.Option(help="Score chat modes on the first N questions only.")] = None,
) -> None:
    """Measure retrieval quality on labelled question sets (`--compare`: all answer modes side by side)."""
    if ctx.invoked_subcommand is not None:
        return
    if not compare:
        console.print(ctx.get_help())
        raise typer.Exit(0)
    settings = settings_or_exit()
    with tempfile.TemporaryDirectory() as work:
        tuned_path = model or _fine_tune_on_history(data / "store-faq", Path(work), settings)
        try:
            manifest = ModelManifest.read(tuned_path)
        except FineTuneError as err:
            err_console.print(f"[red]{err}[/red]")
            raise typer.Exit(1) from None
        base: Embedder = SentenceTransformerEmbedder(BUNDLED_MODEL)
        tuned: Embedder = SentenceTransformerEmbedder(str(tuned_path))
        options = build_options(settings)
        note = lambda mode: err_console.print(f"  measuring: {mode}", style="dim")  # noqa: E731
        console.print(f"Fine-tuned model: {tuned_path.name} (base {manifest.base_model}, "
                      f"{manifest.pairs_train:,} pairs, {manifest.epochs} epoch(s))\n")
        retrievers: dict[str, HybridRetriever] = {}
        faq_rows = compare_store_faq(data / "store-faq", Path(work) / "faq", base, tuned, options, note, retrievers)
        chat = asyncio.run(_chat_rows(settings, data / "store-faq", retrievers[RAG_RETRIEVAL], base, chat_model,
                                      chat_limit))
        console.print("store-faq (810 questions; correct/wrong/declined over all, hit@k over the covered ones)\n")
        console.print(_store_faq_table(faq_rows + chat))
        product_rows = compare_product_qa(data / "product-qa", Path(work) / "products", base, tuned, options, note)
        console.print("\nproduct-qa (405 questions over the whole catalogue)\n")
        unmeasured = "not measured: product-qa scores retrieval only"
        console.print(_product_table(product_rows + [ModeRow(m, None, unmeasured if _configured(settings) else
                                                             NOT_CONFIGURED) for m in CHAT_MODES]))


def _fine_tune_on_history(store_faq: Path, work: Path, settings: Settings) -> Path:
    err_console.print("No --model given: fine-tuning one on store-faq's history first (several minutes).")
    sources = load_sources(stage_store_faq(store_faq, work / "train-src", True), build_options(settings).load)
    path, _ = fine_tune(sources, work / "models")
    return path


def _configured(settings: Settings) -> bool:
    return bool(settings.openai_base_url or settings.openai_api_key)


async def _chat_rows(settings: Settings, store_faq: Path, retriever: HybridRetriever, embedder: Embedder,
                     chat_model: str | None, limit: int | None) -> list[ModeRow]:
    """The chat modes, measured when an endpoint is configured; otherwise listed as not configured."""
    if not _configured(settings):
        return [ModeRow(mode, None, NOT_CONFIGURED) for mode in CHAT_MODES]
    tuned = chat_model or (settings.llm_model if settings.llm_model.startswith("ft:") else None)
    base = settings.finetune_base_model if settings.llm_model.startswith("ft:") else settings.llm_model
    usage = Usage()
    client = metered_client(settings.openai_api_key, settings.openai_base_url, usage)
    fallback = ExtractiveAnswerer(retriever)
    with (store_faq / "faq.csv").open(newline="", encoding="utf-8") as f:
        faq_answers = {row["id"]: row["answer"] for row in csv.DictReader(f)}
    modes: list[tuple[str, Answerer | None, Callable[[Reply], str | None]]] = [
        (CHAT_MODES[0], rag(client, base, retriever, fallback, settings.store_name), cited_faq),
        (CHAT_MODES[1], FineTunedAlone(client, tuned, settings.store_name) if tuned else None,
         closest_faq(embedder, faq_answers)),
        (CHAT_MODES[2], rag(client, tuned, retriever, fallback, settings.store_name) if tuned else None, cited_faq),
    ]
    rows = []
    try:
        for mode, answerer, judge in modes:
            if answerer is None:
                rows.append(ModeRow(mode, None, "not configured: no fine-tuned chat model (--chat-model or LLM_MODEL)"))
                continue
            err_console.print(f"  measuring: {mode}", style="dim")
            figures = await evaluate_answers(_asking(answerer), judge, store_faq, usage,
                                             settings.llm_price_input_per_m, settings.llm_price_output_per_m, limit)
            rows.append(ModeRow(mode, figures, "priced" if settings.llm_price_input_per_m else "price not set"))
    finally:
        await client.close()
    return rows


def _asking(answerer: Answerer) -> Callable[[str], Awaitable[Reply]]:
    async def ask(question: str) -> Reply:
        return await answerer.answer(question, ())

    return ask


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
        if "cost_per_1000" not in f:
            cost = "$0 (local)"
        else:
            cost = f"${f['cost_per_1000']:.2f}" if row.note == "priced" else "price not set"
        lines.append(f"| {row.mode} | {hits} | {_pct(f['answered_correctly'])} "
                     f"| {_pct(f['answered_wrongly'])} | {_pct(f['declined'])} | {f['p50_ms']:.1f} | {cost} |")
    return "\n".join(lines)


def _product_table(rows: list[ModeRow]) -> str:
    lines = ["| mode | hit@1 | hit@5 | MRR@10 | product@1 | p50 ms | cost / 1,000 q |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        f = row.figures
        if f is None:
            lines.append(f"| {row.mode} | {row.note} | | | | | |")
            continue
        lines.append(f"| {row.mode} | {f['hit@1']:.3f} | {f['hit@5']:.3f} | {f['mrr@10']:.3f} "
                     f"| {f['product@1']:.3f} | {f['p50_ms']:.1f} | $0 (local) |")
    return "\n".join(lines)
