"""The `storebot` command: one typer app, every command group registered on it."""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import entry_points

import typer
from rich.console import Console

from bot.app.services import Adapter
from bot.app.settings import Settings
from bot.app.wiring import running_engine
from bot.cli.context import CliContext
from bot.cli.eval import eval_app
from bot.cli.finetune import finetune_app
from bot.cli.kb import kb_app
from bot.cli.report import report
from bot.cli.test import run_conversation_tests
from knowledge.index.live import ModelMismatchError, NoIndexError
from knowledge.sources.records import SourceError

app = typer.Typer(help="storebot: a chat bot for online stores.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
err_console = Console(stderr=True, soft_wrap=True)


@app.callback()
def storebot(ctx: typer.Context) -> None:
    # The one place ctx.obj is filled: every command below reads its settings from it (loaded on first use).
    # An object passed in (e.g. a test's CliRunner obj=) is kept.
    ctx.ensure_object(CliContext)


app.add_typer(kb_app, name="kb")
app.add_typer(eval_app, name="eval")
app.add_typer(finetune_app, name="finetune")
app.command("report")(report)
app.command("test")(run_conversation_tests)


def load_adapter(name: str, settings: Settings) -> Adapter:
    """Adapters register under the `storebot.adapters` entry point group; the core never imports them."""
    found = {ep.name: ep for ep in entry_points(group="storebot.adapters")}
    if name not in found:
        raise typer.BadParameter(f"unknown adapter {name!r}; installed: {', '.join(sorted(found)) or 'none'}")
    adapter: Adapter = found[name].load()(settings)
    return adapter


@app.command()
def chat(ctx: typer.Context) -> None:
    """Chat with the bot in the terminal (uses Redis when reachable, in-process memory otherwise)."""
    logging.basicConfig(level=logging.WARNING)
    settings = CliContext.of(ctx).settings
    try:
        asyncio.run(_chat(settings))
    except ModelMismatchError as err:
        err_console.print(f"{err}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None


async def _chat(settings: Settings) -> None:
    adapter = load_adapter("console", settings)
    async with running_engine(settings, allow_local_state=True) as running:
        if running.notice:
            err_console.print(f"[yellow]Notice: {running.notice}[/yellow]")
        if running.handle.version is None:
            err_console.print("No knowledge base built yet: run `storebot kb build` first.",
                              style="red", markup=False, highlight=False)
            raise typer.Exit(1)
        try:
            await adapter.run(running.services)
        except NoIndexError as err:
            err_console.print(f"{err}", style="red", markup=False, highlight=False)
            raise typer.Exit(1) from None


@app.command()
def serve(ctx: typer.Context, platforms: list[str]) -> None:
    """Serve shoppers on the named platforms (e.g. `telegram`), all in this process, on Redis."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = CliContext.of(ctx).settings
    try:
        adapters = [load_adapter(name, settings) for name in platforms]
    except ValueError as err:
        err_console.print(f"{err}", style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    try:
        asyncio.run(_serve(settings, adapters))
    except ModelMismatchError as err:
        err_console.print(f"{err}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None


async def _serve(settings: Settings, adapters: list[Adapter]) -> None:
    async with running_engine(settings) as running:
        if running.handle.version is None:
            err_console.print("No knowledge base built yet: run `storebot kb build` first.",
                              style="red", markup=False, highlight=False)
            raise typer.Exit(1)
        await asyncio.gather(*(adapter.run(running.services) for adapter in adapters))


def main() -> None:
    """The `storebot` command: expected errors (a missing file, no knowledge base yet) are one clean line."""
    try:
        app()
    except (SourceError, NoIndexError, ModelMismatchError, FileNotFoundError, PermissionError) as err:
        err_console.print(f"storebot: {err}", style="red", markup=False, highlight=False)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
