"""What a scenario came to: questions lost, duplicated and out of order counted from the replies, the table's
rows, the notes and examples under it, what Redis says about the questions that went wrong, and the processes'
warnings and errors by kind."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from bench.replay.model import Conversation, Process, Question, Scenario, dedupe_key, lock_key, memory_key
from bot.store.redis_keys import RedisClient

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+): (.*)$")


@dataclass
class Counts:
    conversations: int = 0
    questions: int = 0
    answered: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    apologies: int = 0
    rate_limited: int = 0
    unrecognised: int = 0
    latencies: list[float] = field(default_factory=list)
    duplicates: list[tuple[Question, float]] = field(default_factory=list)  # (question, when answered again)
    examples: dict[str, list[tuple[Conversation, Question]]] = field(default_factory=dict)  # by kind


def count(conversations: Iterable[Conversation]) -> Counts:
    counts = Counts()
    for conversation in conversations:
        counts.conversations += 1
        counts.questions += len(conversation.questions)
        answered: set[int] = set()
        latest = -1
        for at, kind, key in sorted(conversation.replies, key=lambda r: r[0]):
            if kind != "answer":
                counts.apologies += kind == "apology"
                counts.rate_limited += kind == "rate limited"
                counts.unrecognised += kind == "unrecognised"
                continue
            match = next((q for q in conversation.questions if q.key == key and q.index not in answered
                          and q.first_sent is not None and q.first_sent <= at), None)
            if match is None:
                counts.duplicated += 1
                again = next((q for q in conversation.questions if q.key == key and q.index in answered), None)
                if again is not None:
                    counts.duplicates.append((again, at))
                    counts.examples.setdefault("duplicated", []).append((conversation, again))
                continue
            answered.add(match.index)
            match.answered_at = at
            assert match.first_sent is not None
            counts.latencies.append(at - match.first_sent)
            if match.index < latest:
                counts.out_of_order += 1
                counts.examples.setdefault("out of order", []).append((conversation, match))
            latest = max(latest, match.index)
        counts.answered += len(answered)
        for question in conversation.questions:
            if question.index not in answered:
                counts.lost += 1
                counts.examples.setdefault("lost", []).append((conversation, question))
    return counts


def row(scenario: Scenario, platform: str) -> str:
    conversations = [c for c in scenario.conversations if c.platform == platform]
    counts, stats = count(conversations), scenario.stats[platform]
    span = (stats.last_ack or 0) - (stats.first_event or 0)
    rate = stats.events / span if span > 0 else 0.0
    p50, p95 = (f"{np.percentile(counts.latencies, q):.3f}" if counts.latencies else "–" for q in (50, 95))
    return (f"| {scenario.name} | {platform} | {counts.conversations} | {counts.questions} | {stats.events} "
            f"({stats.redelivered}) | {stats.retries} | {counts.answered} | {counts.lost} | {counts.duplicated} "
            f"| {counts.out_of_order} | {counts.apologies} | {counts.unrecognised} | {p50} | {p95} | {rate:.1f} |")


def kills_summary(kills: list[Scenario]) -> list[str]:
    """Over the repeated kills: totals, and in how many kills nothing went wrong."""
    out = []
    for platform in ("telegram", "slack"):
        counts = [count(c for c in s.conversations if c.platform == platform) for s in kills]
        clean = sum(not (c.lost or c.duplicated or c.out_of_order) for c in counts)
        out.append(f"- {len(kills)} runs of scenario c, {platform}: {sum(c.questions for c in counts)} questions, "
                   f"lost {sum(c.lost for c in counts)}, duplicated {sum(c.duplicated for c in counts)} (per run: "
                   f"{', '.join(str(c.duplicated) for c in counts)}), out of order "
                   f"{sum(c.out_of_order for c in counts)}; runs with none of these: {clean} of {len(kills)}")
    return out


def notes(scenario: Scenario) -> list[str]:
    out = []
    for platform in ("telegram", "slack"):
        stats = scenario.stats[platform]
        statuses = ", ".join(f"{status} ×{n}" for status, n in sorted(stats.statuses.items()))
        counts = count(c for c in scenario.conversations if c.platform == platform)
        extra = ""
        if counts.rate_limited:
            extra += f"; rate-limit notices {counts.rate_limited}"
        if stats.given_up:
            extra += f"; deliveries the platform gave up on {stats.given_up}"
        out.append(f"- {scenario.name}, {platform}: {stats.posts} HTTP requests: {statuses}{extra}")
    return out


def examples(scenario: Scenario, each: int = 2) -> list[str]:
    """A few lost, duplicated and out-of-order questions with their deliveries (time from the scenario's start,
    process, response) and the replies to them, for the diagnosis."""
    out = []
    for platform in ("telegram", "slack"):
        counts = count(c for c in scenario.conversations if c.platform == platform)
        for kind, found in counts.examples.items():
            for conversation, question in found[:each]:
                deliveries = ", ".join(f"+{at - scenario.started:.2f} s p{process} {status}"
                                       for at, process, status in question.deliveries)
                answers = [f"+{at - scenario.started:.2f} s" for at, what, key in conversation.replies
                           if what == "answer" and key == question.key]
                later = [q for q in conversation.questions if q.index == question.index + 1]
                after = ""
                if kind == "out of order" and later and later[0].answered_at is not None:
                    next_at = later[0].answered_at - scenario.started
                    after = f"; question #{question.index + 1} answered +{next_at:.2f} s"
                out.append(f"  {kind}: {platform} {conversation.address} #{question.index} (asked "
                           f"+{(question.first_sent or 0) - scenario.started:.2f} s): deliveries {deliveries}; "
                           f"replies {', '.join(answers) or 'none'}{after}")
    return out


async def diagnose(scenario: Scenario, redis: RedisClient) -> list[str]:
    """What Redis says about each lost question (marked delivered? answered and remembered by the engine?) and
    about conversations whose replies came out of order (were they answered — remembered — in order?)."""
    out = []
    for platform in ("telegram", "slack"):
        conversations = [c for c in scenario.conversations if c.platform == platform]
        counts = count(conversations)  # fills answered_at
        if counts.duplicates:
            refused = sum(any(status != "200" for _, _, status in q.deliveries) for q, _ in counts.duplicates)
            back = scenario.redis_back
            after = sum(back is not None and (q.answered_at or 0) < back <= at for q, at in counts.duplicates)
            out.append(f"- {scenario.name}, {platform}: of {len(counts.duplicates)} questions answered twice, "
                       f"{refused} had a delivery that was not answered 200 (delivered again later)"
                       + (f", and {after} were answered first before Redis came back and again after"
                          if back is not None else ""))
        lost = marked = remembered = locked = in_outage = 0
        disordered = answered_in_order = 0
        for conversation in conversations:
            raw = await redis.lrange(memory_key(conversation), 0, -1)
            said = [json.loads(item)["text"] for item in raw if json.loads(item).get("role") == "shopper"]
            missing = [q for q in conversation.questions if q.answered_at is None]
            if missing:
                locked += bool(await redis.exists(lock_key(conversation)))
            for question in missing:
                lost += 1
                down, back = scenario.redis_down, scenario.redis_back
                in_outage += down is not None and back is not None and down <= (question.first_sent or 0) <= back
                marked += bool(await redis.exists(dedupe_key(conversation, question)))
                remembered += question.text in said
            arrived = sorted((q.answered_at, q.index) for q in conversation.questions if q.answered_at is not None)
            if any(later < earlier for (_, earlier), (_, later) in itertools.pairwise(arrived)):
                disordered += 1
                by_text = {q.text: q.index for q in conversation.questions}
                order = [by_text[text] for text in said if text in by_text]
                answered_in_order += order == sorted(order)
        if lost and scenario.redis_back is not None:
            out.append(f"- {scenario.name}, {platform}: of {lost} lost questions, {in_outage} were first delivered "
                       f"while Redis was down; {marked} are marked taken in Redis")
        elif lost:
            out.append(f"- {scenario.name}, {platform}: of {lost} lost questions, {marked} are marked delivered in "
                       f"Redis (taken into a journal), {remembered} were answered and remembered by the engine (in the "
                       f"conversation's memory) but their reply never reached the platform; {locked} of their "
                       "conversations are still locked")
        if disordered:
            out.append(f"- {scenario.name}, {platform}: {disordered} conversations got replies out of order; in "
                       f"{answered_in_order} of them the engine answered (remembered) the questions in the order "
                       "asked, so the replies were reordered after answering")
    return out


def log_summary(scenario: Scenario, processes: list[Process], top: int = 10) -> list[str]:
    """The processes' WARNING+ lines of the scenario (and INFO about duplicates), counted by kind; an ERROR's
    kind includes the exception its traceback ends with."""
    kinds: Counter[str] = Counter()
    for process in processes:
        start, end = scenario.log_from.get(process.number, 0), scenario.log_to.get(process.number, 0)
        with process.log.open("rb") as file:
            file.seek(start)
            lines = file.read(max(0, end - start)).decode("utf-8", "replace").splitlines()
        current: str | None = None
        last_plain = ""
        for line in [*lines, "1970-01-01 00:00:00,000 INFO end: end"]:
            found = LOG_LINE.match(line)
            if found is None:
                if line.strip():
                    last_plain = line.strip()
                continue
            if current is not None:
                if current.startswith("ERROR") and last_plain:
                    current += f" ⇐ {_shape(last_plain, 70)}"
                kinds[current] += 1
            current, last_plain = None, ""
            level, logger, message = found.groups()
            if level in ("WARNING", "ERROR", "CRITICAL") or "duplicate delivery" in message:
                current = f"{level} {logger}: {_shape(message, 90)}"
    if not kinds:
        return ["  (no warnings or errors)"]
    return [f"  {n:>5} × {kind}" for kind, n in kinds.most_common(top)] + (
        [f"  … and {len(kinds) - top} more kinds"] if len(kinds) > top else [])


def _shape(text: str, width: int) -> str:
    text = re.sub(r"\b[0-9a-f]{12,}\b", "…", text)
    text = re.sub(r"\d+(\.\d+)?", "#", text)
    return text if len(text) <= width else text[:width] + "…"


def print_report(results: list[Scenario], diagnoses: list[str], placeholders: int, processes: list[Process]) -> None:
    """The table (a row per scenario and platform), the notes, examples and diagnosis under it, and the
    processes' warnings and errors of each scenario."""
    print()
    print("| scenario | platform | conversations | questions | events (of them redelivered) | retries | answered "
          "| lost | duplicated | out of order | apologies | unrecognised | p50 s | p95 s | events/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for scenario in results:
        for platform in ("telegram", "slack"):
            print(row(scenario, platform))
    print()
    kills = [s for s in results if s.name.startswith("c")]
    if len(kills) > 1:
        print("\n".join(kills_summary(kills)))
    for scenario in results:
        if scenario.fault_note:
            print(f"- {scenario.name}: {scenario.fault_note}")
        print("\n".join(notes(scenario) + examples(scenario)))
    print(f"- Slack \"Thinking…\" placeholders posted (all scenarios and the calibration): {placeholders}")
    print("\n".join(diagnoses))
    print()
    for scenario in results:
        print(f"Process logs, scenario {scenario.name} (warnings and errors by kind, both processes):")
        print("\n".join(log_summary(scenario, processes)))
