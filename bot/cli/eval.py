"""`storebot eval ...`: retrieval quality on labelled question sets, and every answer mode side by side."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.app.settings import Settings
from bot.app.wiring import make_embedder
from bot.cli.compare import compare_modes
from bot.cli.context import CliContext
from bot.cli.kb import build_with_progress
from knowledge.eval.evaluation import evaluate_product_qa, evaluate_store_faq, stage_product_qa, stage_store_faq
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore

eval_app = typer.Typer(help="Measure retrieval quality on labelled question sets (EVAL_DATA or --data).",
                       no_args_is_help=True)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
NO_DATA = "No eval data: pass --data DIR or set EVAL_DATA (the folder with store-faq/ and product-qa/)."


def eval_data(ctx: typer.Context, data: Path | None, subset: str | None = None) -> Path:
    """--data as given, else EVAL_DATA (or its `subset` folder). No default: a path relative to wherever the
    command runs would measure whatever happens to be there, or fail far from the cause."""
    if data is not None:
        return data
    root = CliContext.of(ctx).settings.eval_data
    if root is None:
        err_console.print(NO_DATA, style="red", markup=False, highlight=False)
        raise typer.Exit(2)
    return root / subset if subset else root


def _eval_on(settings: Settings, staged: Path, work: Path) -> HybridRetriever:
    store = VersionStore(work / "kb")
    build_with_progress(settings, staged, store, quiet=True)
    handle = IndexHandle(store)
    handle.refresh()
    return HybridRetriever(handle, make_embedder(settings))


def _print_figures(title: str, figures: dict[str, float]) -> None:
    table = Table(title=title)
    for name in figures:
        table.add_column(name)
    table.add_row(*(f"{v:.3f}" if v < 100 else f"{v:.0f}" for v in figures.values()))
    console.print(table)


@eval_app.command("store-faq")
def eval_store_faq(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option(
        help="Folder with faq.csv, history.csv, queries.csv; default EVAL_DATA/store-faq.")] = None,
) -> None:
    """hit@1/hit@5/MRR@10 and answered/declined shares, without and with past questions."""
    folder = eval_data(ctx, data, "store-faq")
    settings = CliContext.of(ctx).settings
    for with_history in (False, True):
        with tempfile.TemporaryDirectory() as work:
            staged = stage_store_faq(folder, Path(work) / "src", with_history)
            retriever = _eval_on(settings, staged, Path(work))
            _print_figures(f"store-faq, {'with' if with_history else 'without'} history",
                           evaluate_store_faq(retriever.search, folder))


@eval_app.command("product-qa")
def eval_product_qa(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option(
        help="Folder with passages.jsonl, queries.jsonl; default EVAL_DATA/product-qa.")] = None,
) -> None:
    """hit@1/hit@5/MRR@10 and product@1 over the whole catalogue."""
    folder = eval_data(ctx, data, "product-qa")
    settings = CliContext.of(ctx).settings
    with tempfile.TemporaryDirectory() as work:
        staged = stage_product_qa(folder, Path(work) / "src")
        retriever = _eval_on(settings, staged, Path(work))
        _print_figures("product-qa", evaluate_product_qa(retriever.search, folder))


@eval_app.command("compare")
def eval_compare(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option(
        help="Folder with store-faq/ and product-qa/; default EVAL_DATA.")] = None,
    model: Annotated[Path | None, typer.Option(
        help="A fine-tuned embedding model; default: fine-tune one on store-faq's history first.")] = None,
    chat_model: Annotated[str | None, typer.Option(
        help="A fine-tuned chat model id (ft:…); default LLM_MODEL when it is one.")] = None,
    chat_limit: Annotated[int | None, typer.Option(help="Score chat modes on the first N questions only.")] = None,
) -> None:
    """Fine-tuning vs embeddings: every answer mode side by side, one table per question set."""
    folder = eval_data(ctx, data)
    compare_modes(CliContext.of(ctx).settings, folder, model, chat_model, chat_limit)
