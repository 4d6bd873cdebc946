"""`storebot finetune embeddings`: a local embedding model fine-tuned on the store's own questions."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from openai import AsyncOpenAI, OpenAIError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.app.settings import Settings
from bot.app.wiring import build_options, redis_client
from bot.cli.context import CliContext
from bot.store.redis_keys import REDIS_ERRORS
from bot.training.finetune_chat import (
    DEFAULT_EPOCHS,
    DatasetError,
    JobStatus,
    examples_from,
    job_id,
    job_status,
    prepare,
    rated_and_staff_answers,
    start_job,
    use_model,
)
from knowledge.eval.finetune import FineTuneError, FineTuneOptions, ModelManifest, fine_tune
from knowledge.sources.loader import load_sources
from knowledge.sources.records import LoadedSources, SourceError

finetune_app = typer.Typer(help="Fine-tune models on the store's own data.", no_args_is_help=True)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@finetune_app.command("embeddings")
def finetune_embeddings(
    ctx: typer.Context,
    history: Annotated[Path | None, typer.Option(help="Past questions CSV/JSON/JSONL (question,faq_id).")] = None,
    faq: Annotated[Path | None, typer.Option(help="FAQ file the history points into.")] = None,
    source: Annotated[Path | None, typer.Option(
        help="Or a whole source directory (faq/, past_questions/); default KB_SOURCE_DIR.")] = None,
    out: Annotated[Path, typer.Option(help="Where model directories are written.")] = Path("data/models"),
    epochs: Annotated[int, typer.Option(min=1, max=20)] = 1,
) -> None:
    """Fine-tune the bundled MiniLM on (past question → FAQ entry) pairs and FAQ alternates."""
    settings = CliContext.of(ctx).settings
    try:
        sources = _sources(history, faq, source or settings.kb_source_dir, settings)
    except (SourceError, FineTuneError) as err:
        err_console.print(f"{err}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("loading the base model", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        try:
            path, manifest = fine_tune(sources, out, FineTuneOptions(epochs=epochs), progress=progress)
        except FineTuneError as err:
            err_console.print(f"{err}", style="red", markup=False, highlight=False)
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


chat_app = typer.Typer(help="Fine-tune an OpenAI chat model on the store's answers.", no_args_is_help=True)
finetune_app.add_typer(chat_app, name="chat")
CHAT_DIR = Path("data/finetune-chat")


@chat_app.command("prepare")
def chat_prepare(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Where train.jsonl and validation.jsonl go.")] = CHAT_DIR,
    source: Annotated[Path | None, typer.Option(help="Source directory; default KB_SOURCE_DIR.")] = None,
) -> None:
    """Build and check the dataset: FAQ entries, past questions, 👍-rated answers, staff answers."""
    settings = CliContext.of(ctx).settings
    try:
        sources = load_sources(source or settings.kb_source_dir, build_options(settings).load)
        rated, staff = asyncio.run(_from_redis(settings))
        examples = examples_from(sources, rated, staff, settings.store_name)
        prepared = prepare(examples, out, settings.finetune_price_per_m_tokens)
    except (SourceError, DatasetError) as err:
        err_console.print(f"{err}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(f"{prepared.examples:,} examples ({len(rated)} rated 👍, {len(staff)} staff answers; "
                  f"{prepared.duplicates_dropped:,} duplicates dropped) → {prepared.train}, {prepared.validation}")
    console.print(f"{prepared.tokens:,} training tokens per epoch; estimated cost for {DEFAULT_EPOCHS} epochs: "
                  f"${prepared.estimated_cost:.2f} at ${settings.finetune_price_per_m_tokens}/1M tokens")


async def _from_redis(settings: Settings) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    redis = redis_client(settings.redis_url)
    try:
        return await rated_and_staff_answers(redis)
    except REDIS_ERRORS:
        err_console.print("[yellow]Redis is not reachable: no rated or staff answers included.[/yellow]")
        return [], []
    finally:
        await redis.aclose()


def _client(settings: Settings) -> AsyncOpenAI:
    return AsyncOpenAI(api_key=settings.openai_api_key or "unset", base_url=settings.openai_base_url, max_retries=1)


@chat_app.command("start")
def chat_start(ctx: typer.Context, directory: Annotated[Path, typer.Option("--dir")] = CHAT_DIR) -> None:
    """Upload the prepared files and create the fine-tuning job."""
    settings = CliContext.of(ctx).settings
    try:
        job = asyncio.run(start_job(_client(settings), directory, settings.finetune_base_model))
    except (OSError, OpenAIError) as err:
        err_console.print(f"Could not start the job: {err}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(f"Started fine-tuning job {job} on {settings.finetune_base_model}. "
                  "Follow it with `storebot finetune chat status`.")


@chat_app.command("status")
def chat_status(ctx: typer.Context, directory: Annotated[Path, typer.Option("--dir")] = CHAT_DIR) -> None:
    """The job's status and its latest events."""
    settings = CliContext.of(ctx).settings
    status = _status(settings, directory)
    for event in status.events:
        console.print(f"  {event}", markup=False)
    console.print(f"Job {status.id}: {status.status}" + (f" → {status.fine_tuned_model}" if status.fine_tuned_model
                                                         else "") + (f" ({status.error})" if status.error else ""))


@chat_app.command("use")
def chat_use(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Option("--dir")] = CHAT_DIR,
    env_file: Annotated[Path, typer.Option(help="The settings file to record LLM_MODEL in.")] = Path(".env"),
) -> None:
    """Record the fine-tuned model as LLM_MODEL, so `ANSWER_MODE=llm` answers with it."""
    settings = CliContext.of(ctx).settings
    status = _status(settings, directory)
    if status.status != "succeeded" or not status.fine_tuned_model:
        err_console.print(f"Job {status.id} is {status.status}; there is no fine-tuned model to use yet.",
                          style="red", markup=False, highlight=False)
        raise typer.Exit(1)
    use_model(env_file, status.fine_tuned_model)
    console.print(f"LLM_MODEL={status.fine_tuned_model} recorded in {env_file}; restart the bot to answer with it.")


def _status(settings: Settings, directory: Path) -> JobStatus:
    try:
        return asyncio.run(job_status(_client(settings), job_id(directory)))
    except (DatasetError, OpenAIError) as err:
        err_console.print(f"{err}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
