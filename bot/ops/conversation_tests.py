"""Conversation tests: check replies against a spec's expectations, run a spec through the engine, score it.

Scoring follows ../shared/eval/store-answers/README.md: every turn lands in exactly one bucket.
A reply counts as declined when the bot said it doesn't know (`confident=False`), handed the
conversation to a person, or stayed silent.
"""

from __future__ import annotations

import re
import time
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from bot.engine import Engine
from bot.ops.conversation_spec import ConversationSpec, Expect, Spec, TurnSpec
from bot.types import Citation, IncomingMessage, Reply

Bucket = Literal["passed", "answered_wrongly", "declined_wrongly", "answered_should_decline"]
BUCKETS: tuple[Bucket, ...] = ("passed", "answered_wrongly", "declined_wrongly", "answered_should_decline")
BUCKET_LABELS: dict[Bucket, str] = {
    "passed": "passed", "answered_wrongly": "answered wrongly", "declined_wrongly": "declined wrongly",
    "answered_should_decline": "answered when it should have declined",
}

# A number as written in a reply: digits with `.`/`,` groups; never the tail of a word (SKU "MH01").
_NUMBER = re.compile(r"(?<![^\W\d_])\d+(?:[.,]\d+)*")
_CURRENCY = r"(?:[$€£¥]|usd|eur|gbp|chf|nok|sek|dkk|kr)"
_AMOUNT_ITEM = re.compile(rf"^\s*{_CURRENCY}?\s*(?P<number>\d+(?:[.,]\d+)*)\s*{_CURRENCY}?\s*$", re.IGNORECASE)
_GROUPING_SPACE = re.compile(r"(?<=\d)[\u00a0\u202f\u2009'’](?=\d{3}(?!\d))")  # 1 299,00 and 1'299.00


@dataclass(frozen=True, slots=True)
class Verdict:
    declined: bool
    failures: tuple[str, ...]
    bucket: Bucket


@dataclass(frozen=True, slots=True)
class TurnResult:
    conversation: str
    number: int  # 1-based within its conversation
    line: int
    ask: str
    kinds: tuple[str, ...]
    expects_decline: bool
    reply: str
    citation: Citation | None  # the reply's first
    declined: bool
    bucket: Bucket
    failures: tuple[str, ...]
    latency_ms: float

    @property
    def passed(self) -> bool:
        return self.bucket == "passed"


@dataclass(frozen=True, slots=True)
class Tally:
    turns: int
    passed: int
    answered_wrongly: int
    declined_wrongly: int
    answered_should_decline: int

    def count(self, bucket: Bucket) -> int:
        return int(getattr(self, bucket))

    def share(self, bucket: Bucket) -> float:
        return self.count(bucket) / self.turns if self.turns else 0.0

    @property
    def pass_rate(self) -> float:
        return self.share("passed")


@dataclass(frozen=True, slots=True)
class Summary:
    overall: Tally
    followup: Tally
    should_decline: Tally  # the `declines: true` turns
    by_kind: tuple[tuple[str, Tally], ...]
    reply_chars_p50: float
    reply_chars_p95: float
    latency_ms_p50: float
    latency_ms_p99: float


@dataclass(frozen=True, slots=True)
class RunResult:
    path: str
    turns: tuple[TurnResult, ...]
    summary: Summary

    @property
    def failures(self) -> tuple[TurnResult, ...]:
        return tuple(t for t in self.turns if not t.passed)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.path, "summary": summary_json(self.summary), "turns": [asdict(t) for t in self.turns]}


# --- checking one reply ---------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.split())


def amount(token: str) -> Decimal | None:
    """The amount a written number means: `1,299`/`1.299` = 1299, `24,00` = 24, `1.299,00` = 1299, `52.50` never
    52. A group of exactly three digits after a lone separator is read as thousands, as shops write prices."""
    groups = re.split(r"[.,]", token)
    seps = re.findall(r"[.,]", token)
    if not seps:
        return Decimal(token)
    if len(set(seps)) == 1 and _thousands(groups):
        return Decimal("".join(groups))
    if len(seps) == 1 or (len(set(seps[:-1])) == 1 and seps[-2] != seps[-1] and _thousands(groups[:-1])):
        return Decimal("".join(groups[:-1]) + "." + groups[-1])
    return None  # e.g. a version number 1.2.3


def _thousands(groups: list[str]) -> bool:
    first = groups[0]
    return 1 <= len(first) <= 3 and (first != "0" or len(groups) == 1) and all(len(g) == 3 for g in groups[1:])


def numbers_in(text: str) -> set[Decimal]:
    found = (amount(token) for token in _NUMBER.findall(_GROUPING_SPACE.sub("", text)))
    return {a for a in found if a is not None}


def mentions(reply: str, item: str) -> bool:
    """An amount matches however it is written; anything else is a case-insensitive substring."""
    found = _AMOUNT_ITEM.match(item)
    expected = amount(found["number"]) if found else None
    if expected is not None:
        return expected in numbers_in(reply)
    return normalize(item) in normalize(reply)


def slug(text: str) -> str:
    plain = text.replace("™", "").replace("®", "").replace("©", "")  # NFKD would spell them out ("TM")
    ascii_text = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def product_matches(citation: Citation | None, product: str) -> bool:
    """The handle/SKU/id/url/title, as a case-insensitive substring of a citation field or its slug."""
    if citation is None:
        return False
    needle, needle_slug = product.casefold(), slug(product)
    fields = (citation.source_id, citation.title, citation.url, citation.source)
    return any(f and (needle in f.casefold() or (needle_slug and needle_slug in slug(f))) for f in fields)


def is_declined(reply: Reply | None) -> bool:
    # Silence means a person has the conversation: it was handed over, so the bot did not answer.
    return reply is None or not reply.confident or reply.mode == "handoff"


def check_reply(expect: Expect, reply: Reply | None) -> Verdict:
    text = reply.text if reply is not None else ""
    failures = [f'missing "{item}"' for item in expect.contains if not mentions(text, item)]
    if expect.any and not any(mentions(text, item) for item in expect.any):
        failures.append("none of " + ", ".join(f'"{item}"' for item in expect.any))
    failures += [f'has "{item}"' for item in expect.not_contains if mentions(text, item)]
    if expect.product is not None:
        first = reply.citations[0] if reply is not None and reply.citations else None
        if not product_matches(first, expect.product):
            cited = f'"{first.title or first.source_id}"' if first else "nothing"
            failures.append(f'first source is {cited}, not product "{expect.product}"')
    declined = is_declined(reply)
    bucket = bucket_of(expect, declined, bool(failures))
    if expect.declines is True and not declined:
        failures.insert(0, "answered, but should have declined")
    elif expect.declines is not True and declined:
        failures.insert(0, "declined, but should have answered")
    return Verdict(declined, tuple(failures), bucket)


def bucket_of(expect: Expect, declined: bool, content_failed: bool) -> Bucket:
    if expect.declines is True:
        if not declined:
            return "answered_should_decline"
        return "answered_wrongly" if content_failed else "passed"  # declined, but said something it must not
    if declined:
        return "declined_wrongly"  # whatever else it checked
    return "answered_wrongly" if content_failed else "passed"


def score_turn(conversation: str, number: int, turn: TurnSpec, reply: Reply | None, latency_ms: float) -> TurnResult:
    verdict = check_reply(turn.expect, reply)
    return TurnResult(
        conversation, number, turn.line, turn.ask, turn.kinds, turn.expect.declines is True,
        reply.text if reply is not None else "", reply.citations[0] if reply is not None and reply.citations else None,
        verdict.declined, verdict.bucket, verdict.failures, round(latency_ms, 3),
    )


# --- running --------------------------------------------------------------------------------------------------


async def run_spec(engine: Engine, spec: Spec, platform: str = "test", forget: bool = True) -> RunResult:
    """Runs every conversation, one after another, through the whole engine. `forget` ends each with
    `/forget`, so the run leaves no memory, activity or feedback behind (nor in the owner's reports)."""
    results: list[TurnResult] = []
    for conversation in spec.conversations:
        results += await run_conversation(engine, conversation, platform, forget)
    return RunResult(spec.path, tuple(results), summarize(results))


async def run_conversation(engine: Engine, conversation: ConversationSpec, platform: str = "test",
                           forget: bool = True) -> list[TurnResult]:
    # A fresh conversation and shopper each: nothing carries over, and rate limits count per shopper.
    conversation_id, user = f"test-{uuid.uuid4().hex}", f"tester-{uuid.uuid4().hex[:12]}"
    results: list[TurnResult] = []
    try:
        for number, turn in enumerate(conversation.turns, start=1):
            started = time.perf_counter()
            reply = await engine.handle(IncomingMessage(platform, conversation_id, user, turn.ask))
            latency_ms = (time.perf_counter() - started) * 1000
            results.append(score_turn(conversation.name, number, turn, reply, latency_ms))
    finally:
        if forget:
            await engine.handle(IncomingMessage(platform, conversation_id, user, "/forget"))
    return results


# --- summary --------------------------------------------------------------------------------------------------


def tally(results: Iterable[TurnResult]) -> Tally:
    buckets = [r.bucket for r in results]
    return Tally(len(buckets), *(buckets.count(b) for b in BUCKETS))


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def summarize(results: Iterable[TurnResult]) -> Summary:
    turns = list(results)
    kinds = list(dict.fromkeys(k for t in turns for k in t.kinds))  # in order of first appearance
    chars = [float(len(t.reply)) for t in turns]
    latencies = [t.latency_ms for t in turns]
    return Summary(
        tally(turns), tally(t for t in turns if "followup" in t.kinds), tally(t for t in turns if t.expects_decline),
        tuple((k, tally(t for t in turns if k in t.kinds)) for k in kinds),
        _pct(chars, 50), _pct(chars, 95), _pct(latencies, 50), _pct(latencies, 99),
    )


def tally_json(t: Tally) -> dict[str, Any]:
    return {"turns": t.turns, **{b: t.count(b) for b in BUCKETS}, "pass_rate": round(t.pass_rate, 4),
            "shares": {b: round(t.share(b), 4) for b in BUCKETS}}


def summary_json(s: Summary) -> dict[str, Any]:
    return {
        "overall": tally_json(s.overall), "followup": tally_json(s.followup),
        "should_decline": tally_json(s.should_decline), "by_kind": {k: tally_json(t) for k, t in s.by_kind},
        "reply_chars": {"p50": s.reply_chars_p50, "p95": s.reply_chars_p95},
        "latency_ms": {"p50": round(s.latency_ms_p50, 3), "p99": round(s.latency_ms_p99, 3)},
    }
