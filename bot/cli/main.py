"""The `storebot` command: one typer app, every command group registered on it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import entry_points

import typer
from rich.console import Console

from bot.app.metrics import health_and_metrics
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
log = logging.getLogger(__name__)
SERVE_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_LOG_MESSAGE = 2_000  # characters of a message in a JSON log line; the rest is cut, and said so
MAX_LOG_TRACEBACK = 8_000  # characters of a traceback, its end kept (where the exception is)


class JsonFormatter(logging.Formatter):
    """LOG_FORMAT=json: one JSON object per line — time (UTC, ISO 8601), level, logger, message, and exc_info
    (the traceback as a string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if len(message) > MAX_LOG_MESSAGE:
            message = f"{message[:MAX_LOG_MESSAGE]}… [{len(message) - MAX_LOG_MESSAGE} more characters]"
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": message}
        if record.exc_info:
            trace = self.formatException(record.exc_info)
            if len(trace) > MAX_LOG_TRACEBACK:
                trace = f"[{len(trace) - MAX_LOG_TRACEBACK} characters cut] …{trace[-MAX_LOG_TRACEBACK:]}"
            entry["exc_info"] = trace
        if record.stack_info:
            entry["stack_info"] = record.stack_info[-MAX_LOG_TRACEBACK:]
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int, log_format: str, text_format: str = logging.BASIC_FORMAT) -> None:
    """The root logger's one handler (stderr), in LOG_FORMAT; as `logging.basicConfig`, a no-op if one exists."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(text_format))
    logging.basicConfig(level=level, handlers=[handler])
    if log_format == "json":
        logging.captureWarnings(True)  # Python's warnings too, as JSON lines rather than bare text


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
    settings = CliContext.of(ctx).settings
    configure_logging(logging.WARNING, settings.log_format)
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
    """Serve shoppers on the named platforms (e.g. `telegram`), all in this process, on Redis; /healthz and
    /metrics on METRICS_HOST:METRICS_PORT."""
    settings = CliContext.of(ctx).settings
    configure_logging(logging.INFO, settings.log_format, SERVE_LOG_FORMAT)
    try:
        adapters = [load_adapter(name, settings) for name in platforms]
    except ValueError as err:
        err_console.print(f"{err}", style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    try:
        asyncio.run(_serve(settings, adapters, platforms))
    except asyncio.CancelledError:
        log.info("stopped")  # by SIGTERM, once the questions in hand were answered
    except ModelMismatchError as err:
        err_console.print(f"{err}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None


async def _serve(settings: Settings, adapters: list[Adapter], platforms: Sequence[str] = ()) -> None:
    """The adapters on one engine, with the health and metrics server (the outbox backlog of `platforms`).
    SIGTERM (`docker stop`, a rolling deploy) stops it as Ctrl-C does: each adapter stops taking messages and
    answers those in hand (within STOP_GRACE_S) before it exits; a second SIGTERM ends it at once."""
    _stop_on_sigterm(asyncio.get_running_loop(), asyncio.current_task())
    async with running_engine(settings) as running:
        if running.handle.version is None:
            err_console.print("No knowledge base built yet: run `storebot kb build` first.",
                              style="red", markup=False, highlight=False)
            raise typer.Exit(1)
        async with health_and_metrics(settings, running.metrics, platforms):
            serving = [asyncio.create_task(adapter.run(running.services)) for adapter in adapters]
            try:
                await asyncio.gather(*serving)
            finally:
                # Cancelled, gather gives up as soon as one adapter has stopped; each must finish its stop (the
                # questions in hand answered) before the engine and Redis close. One cancel each: a second would
                # cut a stop short.
                for task in serving:
                    if not task.cancelling():
                        task.cancel()
                if serving:
                    await asyncio.wait(serving)
                for task in serving:  # a stop that failed is said, not lost behind the cancellation
                    if not task.cancelled() and task.exception() is not None:
                        log.error("an adapter failed while stopping", exc_info=task.exception())


def _stop_on_sigterm(loop: asyncio.AbstractEventLoop, serving: asyncio.Task[None] | None) -> None:
    def stop() -> None:
        log.info("SIGTERM: stopping once the questions in hand are answered")
        # A second SIGTERM ends it at once; said explicitly, since as a container's PID 1 the default is ignored.
        loop.add_signal_handler(signal.SIGTERM, os._exit, 128 + signal.SIGTERM)
        if serving is not None:
            serving.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop)


def main() -> None:
    """The `storebot` command: expected errors (a missing file, no knowledge base yet) are one clean line."""
    try:
        app()
    except (SourceError, NoIndexError, ModelMismatchError, FileNotFoundError, PermissionError) as err:
        err_console.print(f"storebot: {err}", style="red", markup=False, highlight=False)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
