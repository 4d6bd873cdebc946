"""Answer benchmark: the store-answers shopper conversations through the whole bot, and the seed-style
anchor on the same turns in the same run, both scored by `storebot test`'s checker.

    REDIS_URL=redis://127.0.0.1:6379/3 python -m bench.answers ../shared/eval [--out FILE]

storebot: the dev store (`store-answers/store`) built with the project's own builder into a temporary
KB directory, then every conversation through `Engine.handle` (memory, follow-ups, declines), wired from
the settings as `storebot test` wires it. Anchor: LlamaIndex `VectorStoreIndex` with default settings
over the same files read naively (`SimpleDirectoryReader`), the question alone (no follow-up handling),
the top passage's text as the answer, never declining; it cites a file, so its `product` checks fail.
Prints a Markdown report; `--out FILE` also writes every turn of both runs as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from llama_index.core import SimpleDirectoryReader, VectorStoreIndex

from bench.anchor import _embed_model
from bot.app.settings import Settings, load_settings
from bot.app.wiring import build_options, make_cache, make_embedder, make_store, running_engine
from bot.ops.conversation_spec import Spec, TurnSpec, load_spec
from bot.ops.conversation_tests import (
    BUCKET_LABELS,
    BUCKETS,
    Bucket,
    RunResult,
    Summary,
    Tally,
    TurnResult,
    numbers_in,
    run_spec,
    score_turn,
    summarize,
)
from bot.types import Citation, Reply
from knowledge.index.builder import build_version
from knowledge.index.versions import Manifest

KINDS = ("price", "variant_price", "options", "variant_exists", "sku", "stock", "details", "superlative",
         "under_price", "policy", "smalltalk", "decline", "followup")
PRICE_KINDS = ("price", "variant_price")
PLATFORM = "bench-answers"


def _turns(spec: Spec) -> Iterator[tuple[str, int, TurnSpec]]:
    for conversation in spec.conversations:
        for number, turn in enumerate(conversation.turns, start=1):
            yield conversation.name, number, turn


# --- the two systems ------------------------------------------------------------------------------------------


def build_store(settings: Settings) -> Manifest:
    cache = make_cache(settings)
    try:
        return build_version(settings.kb_source_dir, make_store(settings), make_embedder(settings), cache,
                             build_options(settings))
    finally:
        cache.close()


async def run_storebot(settings: Settings, spec: Spec) -> tuple[RunResult, str]:
    async with running_engine(settings, allow_local_state=True) as running:
        return await run_spec(running.engine, spec, platform=PLATFORM), running.notice or ""


def run_anchor(store_dir: Path, spec: Spec) -> RunResult:
    docs = SimpleDirectoryReader(str(store_dir), recursive=True).load_data()
    retriever = VectorStoreIndex.from_documents(docs, embed_model=_embed_model()).as_retriever()
    results: list[TurnResult] = []
    for name, number, turn in _turns(spec):
        started = time.perf_counter()
        hits = retriever.retrieve(turn.ask)
        latency_ms = (time.perf_counter() - started) * 1000
        top = hits[0].node if hits else None
        reply = Reply(top.get_content(), (Citation(top.node_id, str(top.metadata.get("file_name", "")), "",
                                                   str(top.metadata.get("file_path", ""))),)) if top else Reply("")
        results.append(score_turn(name, number, turn, reply, latency_ms))
    return RunResult(spec.path, tuple(results), summarize(results))


# --- the report -----------------------------------------------------------------------------------------------


def _cell(t: Tally, bucket: Bucket) -> str:
    return f"{t.count(bucket)} ({t.share(bucket):.1%})"


def bucket_table(runs: dict[str, Summary]) -> list[str]:
    rows = ["| system | turns | " + " | ".join(BUCKET_LABELS[b] for b in BUCKETS) + " |",
            "|---|---|" + "---|" * len(BUCKETS)]
    for name, s in runs.items():
        for label, t in (("all turns", s.overall), ("follow-ups", s.followup), ("`declines: true`", s.should_decline)):
            rows.append(f"| {name}, {label} | {t.turns} | " + " | ".join(_cell(t, b) for b in BUCKETS) + " |")
    return rows


def kind_table(anchor: Summary, bot: Summary) -> list[str]:
    rows = ["| kind | turns | anchor passed | storebot passed | storebot answered wrongly | storebot declined wrongly "
            "| storebot answered when it should have declined |", "|---|---|---|---|---|---|---|"]
    by_anchor, by_bot = dict(anchor.by_kind), dict(bot.by_kind)
    for kind in [*KINDS, *(k for k in by_bot if k not in KINDS)]:
        if kind in by_bot:
            a, b = by_anchor[kind], by_bot[kind]
            rows.append(f"| {kind} | {b.turns} | {_cell(a, 'passed')} | {_cell(b, 'passed')} "
                        f"| {_cell(b, 'answered_wrongly')} | {_cell(b, 'declined_wrongly')} "
                        f"| {_cell(b, 'answered_should_decline')} |")
    return rows


def size_table(runs: dict[str, Summary]) -> list[str]:
    rows = ["| system | reply chars p50 | reply chars p95 | latency p50 ms | latency p99 ms |", "|---|---|---|---|---|"]
    rows += [f"| {name} | {s.reply_chars_p50:.0f} | {s.reply_chars_p95:.0f} | {s.latency_ms_p50:.1f} "
             f"| {s.latency_ms_p99:.1f} |" for name, s in runs.items()]
    return rows


def price_misses(result: RunResult, spec: Spec) -> list[str]:
    expects = {(name, number): turn.expect for name, number, turn in _turns(spec)}
    lines = []
    for t in result.turns:
        if t.bucket == "answered_wrongly" and any(k in PRICE_KINDS for k in t.kinds):
            e = expects[(t.conversation, t.number)]
            wanted = ", ".join([*e.contains, *([f"any of {', '.join(e.any)}"] if e.any else [])]) or "-"
            got = ", ".join(sorted({str(n) for n in numbers_in(t.reply)}, key=float)[:15]) or "none"
            lines.append(f"- {result.path}:{t.line} ({', '.join(t.kinds)}) \"{t.ask}\" — expected {wanted}; "
                         f"reply's numbers: {got}; failed: {'; '.join(t.failures)}")
    return lines or ["- none"]


def report(spec: Spec, manifest: Manifest, bot: RunResult, anchor: RunResult, notice: str, settings: Settings) -> str:
    runs = {"anchor: LlamaIndex VectorStoreIndex defaults": anchor.summary, "storebot": bot.summary}
    counts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in manifest.counts.items())
    head = [f"store-answers dev set: {len(spec.conversations)} conversations, {spec.turn_count} turns. "
            f"storebot built in {manifest.build_seconds:.1f} s ({counts}); answer mode {settings.answer_mode}; "
            f"state: {'in-process (' + notice + ')' if notice else 'Redis'}.", ""]
    return "\n".join([
        *head, *bucket_table(runs), "", *kind_table(anchor.summary, bot.summary), "", *size_table(runs), "",
        "Price and variant-price turns storebot answered wrongly:", "", *price_misses(bot, spec),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("eval_dir", nargs="?", type=Path, default=Path("../shared/eval"))
    parser.add_argument("--out", type=Path, help="also write every turn of both runs here, as JSON")
    args = parser.parse_args()
    data = args.eval_dir / "store-answers"
    spec = load_spec(data / "conversations.yml")
    tmp = Path(tempfile.mkdtemp(prefix="storebot-bench-answers-"))
    try:
        # Like `storebot test`: no handoff desk (nobody to page) and no rate limit in the way.
        settings = load_settings(kb_source_dir=(data / "store").resolve(), kb_data_dir=tmp / "kb",
                                 handoff_to="", rate_limit_per_minute=1_000_000)
        manifest = build_store(settings)
        bot, notice = asyncio.run(run_storebot(settings, spec))
        anchor = run_anchor(data / "store", spec)
        print(report(spec, manifest, bot, anchor, notice, settings))
        if args.out:
            args.out.write_text(json.dumps({"storebot": bot.to_json(), "anchor": anchor.to_json()},
                                           ensure_ascii=False, indent=1), encoding="utf-8")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
