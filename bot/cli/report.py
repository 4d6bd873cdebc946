"""`storebot report`: what the bot answered, declined and handed over, and what to write next."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.app.settings import Settings
from bot.app.wiring import make_embedder, make_store, redis_client
from bot.cli.context import CliContext
from bot.ops.reports import Report, Reports, describe, groups_csv, write_candidates
from bot.store.activity import ActivityLog
from bot.store.redis_keys import REDIS_ERRORS
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
_PERIOD = re.compile(r"^(\d+(?:\.\d+)?)([dhm])$")
_UNIT_S = {"d": 86400, "h": 3600, "m": 60}


def period_seconds(text: str) -> float:
    match = _PERIOD.match(text.strip().lower())
    if not match:
        raise typer.BadParameter("use e.g. 7d, 12h or 30m")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def report(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="Period: 7d, 12h, 30m.")] = "7d",
    csv: Annotated[Path | None, typer.Option(help="Write the question groups to this CSV file.")] = None,
    candidates: Annotated[Path | None, typer.Option(
        help="Write staff-answered questions as faq/ and past_questions/ CSV files under this directory.")] = None,
) -> None:
    """Questions answered, declined and handed off; 👍/👎 rates; the FAQ entries to write next."""
    settings = CliContext.of(ctx).settings
    seconds = period_seconds(since)
    try:
        built = asyncio.run(_build(settings, seconds))
    except REDIS_ERRORS as err:
        err_console.print(f"Cannot read the records: Redis at {settings.redis_url} is not reachable ({err}).",
                          style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(describe(built), markup=False, highlight=False)
    if csv is not None:
        csv.write_text(groups_csv(built), encoding="utf-8")
        console.print(f"Question groups written to {csv}.")
    if candidates is not None:
        written = write_candidates(built, candidates)
        console.print("Candidates written: " + (", ".join(map(str, written)) if written else "none in this period."))


async def _build(settings: Settings, seconds: float) -> Report:
    redis = redis_client(settings.redis_url)
    try:
        await redis.ping()
        embedder = await asyncio.to_thread(make_embedder, settings)
        handle = IndexHandle(make_store(settings))
        await asyncio.to_thread(handle.refresh)
        search = HybridRetriever(handle, embedder) if handle.version else None
        return await Reports(redis, ActivityLog(redis), lambda: embedder, search).build(seconds)
    finally:
        await redis.aclose()
