"""`storebot kb ...`: build, inspect, search and roll back the knowledge base."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.app.settings import Settings
from bot.app.wiring import build_options, make_cache, make_embedder, make_ops, make_store, redis_client
from bot.cli.context import CliContext
from bot.ops.conversation_spec import SpecError, load_spec
from bot.ops.kb import KnowledgeOps, describe_reload, describe_rollback
from bot.ops.kb_summary import summary_line, threshold_line, warning_lines
from bot.ops.reload_gate import GateVerdict, conversation_gate
from bot.store.redis_keys import REDIS_ERRORS
from knowledge.index.builder import build_version
from knowledge.index.embedding import Embedder
from knowledge.index.live import IndexHandle, NoIndexError
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import Manifest, VersionStore
from knowledge.sources.records import SourceError

T = TypeVar("T")
kb_app = typer.Typer(help="Build, inspect and roll back the knowledge base.", no_args_is_help=True)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def build_with_progress(settings: Settings, source: Path, store: VersionStore, quiet: bool = False,
                        strict: bool = False) -> Manifest:
    """One build with a progress bar on stderr (`quiet`: none); `storebot eval` builds its throwaway indexes here."""
    embedder = make_embedder(settings)
    cache = make_cache(settings)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, disable=quiet, transient=True) as bar:
        task = bar.add_task("loading sources", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        try:
            return build_version(source, store, embedder, cache, build_options(settings, strict), progress)
        finally:
            cache.close()


SOURCE_HELP = ("Source directory with faq/, past_questions/, products/ and pages/; default KB_SOURCE_DIR, "
               "which is the bundled demo store unless set.")
STRICT_HELP = "Fail the build on any warning (a skipped row, file or page) instead of skipping it."


@kb_app.command("build")
def kb_build(
    ctx: typer.Context,
    source: Annotated[Path | None, typer.Option(help=SOURCE_HELP)] = None,
    embed_model: Annotated[Path | None, typer.Option(
        help="A fine-tuned model directory (`storebot finetune embeddings`); default EMBED_MODEL.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help=STRICT_HELP)] = False,
) -> None:
    """Build a new version from the sources and make it live (the old one keeps serving on error).

    Without --source it builds KB_SOURCE_DIR: the bundled demo store unless you set it."""
    cli = CliContext.of(ctx)
    # Loaded again rather than copied, so the model directory is validated as EMBED_MODEL would be.
    settings = cli.settings if embed_model is None else cli.load(embed_model=str(embed_model))
    store = make_store(settings)
    try:
        manifest = build_with_progress(settings, source or settings.kb_source_dir, store, strict=strict)
    except SourceError as err:
        err_console.print(f"Build failed: {err}", style="red", markup=False, highlight=False)
        live = store.current()
        err_console.print(f"The live version is unchanged: {live or 'none yet'}.")
        raise typer.Exit(1) from None
    for line in warning_lines(manifest):
        err_console.print(line, style="yellow", markup=False, highlight=False)
    console.print(f"Built version {manifest.version} in {manifest.build_seconds:.1f}s.")
    console.print(summary_line(manifest), highlight=False)
    console.print(f"Embedded {manifest.embedded:,} new texts; the rest came from the cache. It is live now.")


@kb_app.command("reload")
def kb_reload(
    ctx: typer.Context,
    source: Annotated[Path | None, typer.Option(help=SOURCE_HELP)] = None,
    test: Annotated[Path | None, typer.Option(
        help="Conversation tests (`storebot test` format) the new version must pass before it goes live.")] = None,
    min_pass: Annotated[float, typer.Option(min=0.0, max=1.0, help="With --test: the pass rate required; the new "
                                            "version must also do at least as well as the live one.")] = 0.9,
) -> None:
    """Build a new version and tell every running bot process to switch to it (over Redis)."""
    settings = CliContext.of(ctx).settings
    if source is not None:
        settings = settings.model_copy(update={"kb_source_dir": source})
    spec = None
    if test is not None:
        try:
            spec = load_spec(test)
        except SpecError as err:
            err_console.print(str(err), style="red", markup=False)
            raise typer.Exit(2) from None
    embedder = make_embedder(settings)
    verdicts: list[GateVerdict] = []
    gate = conversation_gate(spec, make_store(settings), embedder, min_pass, settings.store_name, verdicts) \
        if spec is not None else None
    result, unreachable = asyncio.run(_with_ops(settings, lambda ops: ops.reload(_print_progress, gate), embedder))
    if verdicts and result.ok:
        result = dataclasses.replace(result, tested=verdicts[-1].describe())
    if not result.ok:
        err_console.print(describe_reload(result), style="red", markup=False)
        raise typer.Exit(1)
    console.print(describe_reload(result), markup=False)
    if unreachable:
        err_console.print(f"Version {result.version} is live on disk, but running processes were not told: "
                          f"{unreachable}.", style="red", markup=False, highlight=False)
        raise typer.Exit(1)


@kb_app.command("rollback")
def kb_rollback(ctx: typer.Context) -> None:
    """Make the version built before the live one live again, and tell running processes."""
    settings = CliContext.of(ctx).settings
    result, unreachable = asyncio.run(_with_ops(settings, lambda ops: ops.rollback()))
    if not result.ok:
        err_console.print(f"{describe_rollback(result)}", style="red", markup=False, highlight=False)
        raise typer.Exit(1)
    console.print(describe_rollback(result))
    if unreachable:
        err_console.print(f"[yellow]Running processes were not told: {unreachable}.[/yellow]")


async def _print_progress(stage: str) -> None:
    err_console.print(f"  {stage}", style="dim")


async def _with_ops(settings: Settings, action: Callable[[KnowledgeOps], Awaitable[T]],
                    embedder: Embedder | None = None) -> tuple[T, str]:
    """Runs an ops action with Redis when reachable; also returns why Redis was not, if it was not."""
    redis = redis_client(settings.redis_url)
    try:
        try:
            await redis.ping()
        except REDIS_ERRORS as err:
            return (await action(make_ops(settings, None, embedder)),
                    f"Redis at {settings.redis_url} is not reachable ({err})")
        return await action(make_ops(settings, redis, embedder)), ""
    finally:
        await redis.aclose()


@kb_app.command("status")
def kb_status(ctx: typer.Context) -> None:
    """The live version: counts, sources, age, thresholds."""
    settings = CliContext.of(ctx).settings
    store = make_store(settings)
    current = store.current()
    if current is None:
        console.print(f"No knowledge base built yet in {store.root}. Run `storebot kb build`.")
        raise typer.Exit(1)
    manifest = Manifest.read(store.path(current))
    age = datetime.now(UTC) - datetime.fromisoformat(manifest.built_at)
    ago = _age(age.total_seconds())
    console.print(f"Live version: [bold]{manifest.version}[/bold] (built {manifest.built_at}, {ago} ago)")
    console.print(f"Embedding model: {manifest.embedding_model} ({manifest.dims} dims)")
    console.print(summary_line(manifest), highlight=False)
    console.print(threshold_line(manifest), highlight=False, markup=False)
    for line in warning_lines(manifest):
        console.print(line, style="yellow", markup=False, highlight=False)
    table = Table("source", "kind", "records", "sha256")
    for src in manifest.sources:
        table.add_row(src["path"], src["kind"], str(src["records"]), src["sha256"][:12])
    console.print(table)
    console.print(f"Versions kept: {', '.join(store.versions())}")


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@kb_app.command("search")
def kb_search(
    ctx: typer.Context,
    question: str,
    k: Annotated[int, typer.Option("-k", help="How many passages.")] = 5,
) -> None:
    """Ranked passages for a question, with similarity against the threshold and the source."""
    settings = CliContext.of(ctx).settings
    handle = IndexHandle(make_store(settings))
    try:
        handle.refresh()
        thresholds = handle.live.manifest.thresholds
    except (NoIndexError, OSError, ValueError) as err:
        err_console.print(f"{_no_index_message(err)}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    retriever = HybridRetriever(handle, make_embedder(settings))
    for rank, p in enumerate(retriever.search(question, k), start=1):
        flag = "confident" if p.confident else "below threshold"
        where = p.url or p.source
        console.print(f"[bold]{rank}. {escape(p.title)}[/bold] — {escape(where)}", highlight=False)
        console.print(f"   {p.kind}: similarity {p.similarity:.3f} vs threshold {thresholds.get(p.kind, 1.0):.3f} "
                      f"({flag}), score {p.score:.3f}, from {escape(p.source)}", highlight=False)
        text = p.text if len(p.text) <= 240 else p.text[:237] + "..."
        console.print("   " + text.replace("\n", " "), highlight=False, markup=False)


def _no_index_message(err: Exception) -> str:
    if isinstance(err, NoIndexError):
        return "No knowledge base built yet: run `storebot kb build` first."
    return f"The live knowledge base cannot be read ({err}); rebuild it with `storebot kb build`."

