"""`storebot finetune embeddings`: a local embedding model fine-tuned on the store's own questions."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli_kb import settings_or_exit
from bot.settings import Settings
from bot.wiring import build_options
from knowledge.finetune import FineTuneError, FineTuneOptions, ModelManifest, fine_tune
from knowledge.loader import load_sources
from knowledge.records import LoadedSources, SourceError

finetune_app = typer.Typer(help="Fine-tune models on the store's own data.", no_args_is_help=True)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@finetune_app.command("embeddings")
def finetune_embeddings(
    history: Annotated[Path | None, typer.Option(help="Past questions CSV/JSON/JSONL (question,faq_id).")] = None,
    faq: Annotated[Path | None, typer.Option(help="FAQ file the history points into.")] = None,
    source: Annotated[Path | None, typer.Option(
        help="Or a whole source directory (faq/, past_questions/); default KB_SOURCE_DIR.")] = None,
    out: Annotated[Path, typer.Option(help="Where model directories are written.")] = Path("data/models"),
    epochs: Annotated[int, typer.Option(min=1, max=20)] = 1,
) -> None:
    """Fine-tune the bundled MiniLM on (past question → FAQ entry) pairs and FAQ alternates."""
    settings = settings_or_exit()
    try:
        sources = _sources(history, faq, source or settings.kb_source_dir, settings)
    except (SourceError, FineTuneError) as err:
        err_console.print(f"[red]{err}[/red]", markup=False)
        raise typer.Exit(1) from None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("loading the base model", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        try:
            path, manifest = fine_tune(sources, out, FineTuneOptions(epochs=epochs), progress=progress)
        except FineTuneError as err:
            err_console.print(f"[red]{err}[/red]", markup=False)
            raise typer.Exit(1) from None
    _print(path, manifest)


def _sources(history: Path | None, faq: Path | None, source: Path, settings: Settings) -> LoadedSources:
    """The normal loaders read the data, so bad rows are reported with file and line as in `kb build`."""
    options = build_options(settings).load
    if history is None and faq is None:
        return load_sources(source, options)
    if history is None or faq is None:
        raise FineTuneError("give both --history and --faq, or neither (then --source is used)")
    with tempfile.TemporaryDirectory() as work:
        staged = Path(work)
        for folder, file in (("faq", faq), ("past_questions", history)):
            if not file.is_file():
                raise FineTuneError(f"{file}: no such file")
            (staged / folder).mkdir()
            shutil.copy(file, staged / folder / file.name)
        return load_sources(staged, options)


def _print(path: Path, manifest: ModelManifest) -> None:
    console.print(f"Fine-tuned model written to {path}")
    console.print(f"  {manifest.pairs_train:,} training pairs over {manifest.faq_entries} FAQ entries, "
                  f"{manifest.epochs} epoch(s), {manifest.train_seconds:.0f}s")
    console.print(f"  held-back questions finding their entry: {manifest.validation_hit1_before:.1%} before, "
                  f"{manifest.validation_hit1_after:.1%} after")
    console.print(f"Use it: EMBED_MODEL={path}, then `storebot kb build` (or `kb build --embed-model {path}`).")
