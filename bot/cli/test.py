"""`storebot test FILE`: run a store owner's conversation tests through the whole bot."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.app.settings import Settings
from bot.app.wiring import running_engine
from bot.cli.context import CliContext
from bot.ops.conversation_spec import Spec, SpecError, load_spec
from bot.ops.conversation_tests import BUCKET_LABELS, BUCKETS, RunResult, Tally, TurnResult, run_spec
from knowledge.index.live import ModelMismatchError, NoIndexError

REPLY_SHOWN = 300
console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)


def run_conversation_tests(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Conversations YAML: conversations → name, turns → ask, expect.")],
    min_pass: Annotated[float, typer.Option(min=0.0, max=1.0, help="Exit 1 when the pass rate is below this.")] = 0.9,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document (every turn) instead.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show passing turns too.")] = False,
) -> None:
    """Run conversation tests against the live knowledge base: exit 0 pass, 1 below --min-pass, 2 bad file."""
    logging.basicConfig(level=logging.WARNING)
    try:
        spec = load_spec(file)
    except SpecError as err:
        err_console.print(str(err), style="red", markup=False)
        raise typer.Exit(2) from None
    settings = _test_settings(CliContext.of(ctx).settings)
    try:
        result = asyncio.run(_run(settings, spec))
    except (ModelMismatchError, NoIndexError) as err:
        err_console.print(str(err), style="red", markup=False)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({**result.to_json(), "min_pass": min_pass}, ensure_ascii=False, indent=1))
    else:
        _print_report(result, verbose)
    if result.summary.overall.pass_rate < min_pass:
        if not as_json:
            err_console.print(f"Pass rate {result.summary.overall.pass_rate:.1%} is below --min-pass {min_pass:.1%}.",
                              style="red", markup=False)
        raise typer.Exit(1)


def _test_settings(settings: Settings) -> Settings:
    # Tests must not page the support team (no handoff desk) nor trip the per-shopper rate limit.
    return settings.model_copy(update={"handoff_to": "",
                                       "rate_limit_per_minute": max(settings.rate_limit_per_minute, 100_000)})


async def _run(settings: Settings, spec: Spec) -> RunResult:
    async with running_engine(settings, allow_local_state=True) as running:
        if running.handle.version is None:
            err_console.print("No knowledge base built yet: run `storebot kb build` first.", style="red", markup=False)
            raise typer.Exit(1)
        if running.notice:
            err_console.print(f"Notice: {running.notice}", style="yellow", markup=False)
        return await run_spec(running.engine, spec)


def _print_report(result: RunResult, verbose: bool) -> None:
    for turn in result.turns:
        if verbose or not turn.passed:
            _print_turn(result.path, turn)
    s = result.summary
    console.print(f"\n{result.path}: {s.overall.turns} turns in {len({t.conversation for t in result.turns})} "
                  f"conversations", markup=False)
    console.print(_tally_line("all turns", s.overall), markup=False)
    if s.followup.turns:
        console.print(_tally_line("follow-ups", s.followup), markup=False)
    if s.should_decline.turns:
        console.print(_tally_line("declines: true", s.should_decline), markup=False)
    if s.by_kind:
        console.print("by kind: " + ", ".join(f"{k} {t.passed}/{t.turns}" for k, t in s.by_kind), markup=False)
    console.print(f"reply length p50 {s.reply_chars_p50:.0f}, p95 {s.reply_chars_p95:.0f} chars; "
                  f"latency p50 {s.latency_ms_p50:.1f} ms, p99 {s.latency_ms_p99:.1f} ms", markup=False)


def _print_turn(path: str, turn: TurnResult) -> None:
    mark = "PASS" if turn.passed else f"FAIL ({BUCKET_LABELS[turn.bucket]})"
    console.print(f"{mark}: {turn.conversation!r}, turn {turn.number} ({path}:{turn.line})", markup=False)
    console.print(f"  asked:  {turn.ask}", markup=False)
    if turn.failures:
        console.print("  failed: " + "; ".join(turn.failures), markup=False)
    console.print(f"  reply:  {shorten(turn.reply)}", markup=False)
    if turn.citation is not None:
        console.print(f"  source: {turn.citation.title} ({turn.citation.url or turn.citation.source})", markup=False)


def _tally_line(label: str, t: Tally) -> str:
    parts = ", ".join(f"{BUCKET_LABELS[b]} {t.count(b)} ({t.share(b):.1%})" for b in BUCKETS)
    return f"{label} ({t.turns}): {parts}"


def shorten(text: str, limit: int = REPLY_SHOWN) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
