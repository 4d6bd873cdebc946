"""`storebot eval --compare`: fine-tuning vs embeddings on the store's eval data, one table per set."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli_kb import EVAL_DATA, settings_or_exit
from bot.settings import Settings
from bot.wiring import build_options
from knowledge.comparison import ModeRow, compare_product_qa, compare_store_faq
from knowledge.embedding import BUNDLED_MODEL, Embedder, SentenceTransformerEmbedder
from knowledge.evaluation import stage_store_faq
from knowledge.finetune import FineTuneError, ModelManifest, fine_tune
from knowledge.loader import load_sources

console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True)
CHAT_MODES = ("RAG with the base chat model", "fine-tuned chat model alone", "fine-tuned chat model with RAG")


def eval_main(
    ctx: typer.Context,
    compare: Annotated[bool, typer.Option("--compare", help="Compare answer modes on the eval sets.")] = False,
    data: Annotated[Path, typer.Option(help="Folder with store-faq/ and product-qa/.")] = EVAL_DATA,
    model: Annotated[Path | None, typer.Option(
        help="A fine-tuned embedding model; default: fine-tune one on store-faq's history first.")] = None,
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
        faq_rows = compare_store_faq(data / "store-faq", Path(work) / "faq", base, tuned, options, note)
        console.print("store-faq (810 questions; correct/wrong/declined over all, hit@k over the covered ones)\n")
        console.print(_store_faq_table(faq_rows + _chat_rows(settings)))
        product_rows = compare_product_qa(data / "product-qa", Path(work) / "products", base, tuned, options, note)
        console.print("\nproduct-qa (405 questions over the whole catalogue)\n")
        console.print(_product_table(product_rows + _chat_rows(settings)))


def _fine_tune_on_history(store_faq: Path, work: Path, settings: Settings) -> Path:
    err_console.print("No --model given: fine-tuning one on store-faq's history first (several minutes).")
    sources = load_sources(stage_store_faq(store_faq, work / "train-src", True), build_options(settings).load)
    path, _ = fine_tune(sources, work / "models")
    return path


def _chat_rows(settings: Settings) -> list[ModeRow]:
    if not (settings.openai_base_url or settings.openai_api_key):
        why = "not configured: no chat endpoint (set OPENAI_BASE_URL / OPENAI_API_KEY)"
    else:
        why = "not measured: this command scores retrieval modes only so far"
    return [ModeRow(mode, None, why) for mode in CHAT_MODES]


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
        lines.append(f"| {row.mode} | {f['hit@1']:.3f} | {f['hit@5']:.3f} | {_pct(f['answered_correctly'])} "
                     f"| {_pct(f['answered_wrongly'])} | {_pct(f['declined'])} | {f['p50_ms']:.1f} | $0 (local) |")
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
