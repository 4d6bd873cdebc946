"""Reports for ops: how the bot did, what it could not answer, and what staff answered instead.

Declined and 👎 questions are grouped by meaning (embedding similarity), most frequent first: the
FAQ entries the store should write next. A declined question that staff answered in a handoff
becomes a candidate: a past-question pairing when the staff answer matches an existing FAQ entry,
otherwise a new FAQ entry. Both export in the loaders' CSV formats.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.store.activity import ActivityLog
from bot.store.feedback import FEEDBACK_STREAM
from bot.store.redis_keys import RedisClient, stream_since
from bot.types import PassageSearch
from knowledge.index.embedding import Embedder

SAME_QUESTION = 0.75  # cosine at which two shopper questions count as one
SAME_ANSWER = 0.8  # cosine at which a staff answer counts as an existing FAQ answer
TOP_GROUPS = 15


@dataclass(frozen=True, slots=True)
class QuestionGroup:
    question: str  # the first phrasing seen
    count: int
    declined: int
    thumbs_down: int
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Candidate:
    question: str
    answer: str  # what staff replied
    faq_id: str  # set: pair the question with this existing entry; empty: write a new entry
    handoff: str


@dataclass(frozen=True, slots=True)
class Report:
    since_s: float
    answered: int
    declined: int
    handed_off: int
    resolved: int
    thumbs_up: int
    thumbs_down: int
    groups: tuple[QuestionGroup, ...]
    candidates: tuple[Candidate, ...]

    @property
    def up_rate(self) -> float:
        rated = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / rated if rated else 0.0


class Reports:
    def __init__(self, redis: RedisClient, activity: ActivityLog, embedder: Callable[[], Embedder],
                 search: PassageSearch | None = None) -> None:
        self._redis = redis
        self._activity = activity
        self._embedder = embedder  # a factory: the model loads only when there is something to group
        self._search = search

    async def build(self, since_s: float) -> Report:
        """Figures over the last `since_s` seconds (by the Redis server's clock, which stamps the entries)."""
        events = await self._activity.since(since_s)
        ratings = await stream_since(self._redis, FEEDBACK_STREAM, since_s)
        kinds = [e["kind"] for e in events]
        unanswered = [(e["question"], "declined") for e in events if e["kind"] == "declined"]
        unanswered += [(r["question"], "down") for r in ratings if r.get("rating") == "down" and r.get("question")]
        resolved = [e for e in events if e["kind"] == "resolved"]
        return Report(
            since_s, kinds.count("answered"), kinds.count("declined"), kinds.count("handoff"), len(resolved),
            sum(r.get("rating") == "up" for r in ratings), sum(r.get("rating") == "down" for r in ratings),
            await self._group(unanswered), await self._candidates(resolved),
        )

    async def _group(self, questions: list[tuple[str, str]]) -> tuple[QuestionGroup, ...]:
        if not questions:
            return ()
        embedder = self._embedder()
        vectors = await asyncio.to_thread(embedder.embed, [q for q, _ in questions])
        members: list[list[int]] = []
        heads: list[np.ndarray] = []
        for index, vector in enumerate(_normalised(vectors)):
            best = max(range(len(heads)), key=lambda g: float(heads[g] @ vector), default=None)
            if best is not None and float(heads[best] @ vector) >= SAME_QUESTION:
                members[best].append(index)
            else:
                members.append([index])
                heads.append(vector)
        groups = [QuestionGroup(
            questions[group[0]][0], len(group), sum(questions[i][1] == "declined" for i in group),
            sum(questions[i][1] == "down" for i in group), tuple(dict.fromkeys(questions[i][0] for i in group))[:5],
        ) for group in members]
        return tuple(sorted(groups, key=lambda g: -g.count)[:TOP_GROUPS])

    async def _candidates(self, resolved: list[dict[str, str]]) -> tuple[Candidate, ...]:
        found = []
        for event in resolved:
            question, answer = event.get("question", ""), event.get("staff_answer", "").strip()
            if event.get("declined") != "1" or not question or not answer:
                continue
            found.append(Candidate(question, answer, await self._matching_faq(question, answer), event["handoff"]))
        return tuple(found)

    async def _matching_faq(self, question: str, staff_answer: str) -> str:
        """The FAQ entry whose answer says what staff said, if retrieval finds one for the question."""
        if self._search is None:
            return ""
        faqs = [p for p in await self._search.asearch(question, 5) if p.kind == "faq"]
        if not faqs:
            return ""
        texts = [staff_answer, *(p.text for p in faqs)]
        vectors = _normalised(await asyncio.to_thread(self._embedder().embed, texts))
        similarities = vectors[1:] @ vectors[0]
        best = int(np.argmax(similarities))
        return str(faqs[best].metadata.get("faq_id", "")) if float(similarities[best]) >= SAME_ANSWER else ""


def _normalised(vectors: Any) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32)
    normalised: np.ndarray = array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)
    return normalised


def groups_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rank", "question", "times_asked", "declined", "thumbs_down", "other_phrasings"])
    for rank, group in enumerate(report.groups, start=1):
        writer.writerow([rank, group.question, group.count, group.declined, group.thumbs_down,
                         " | ".join(group.examples[1:])])
    return out.getvalue()


def write_candidates(report: Report, directory: Path) -> list[Path]:
    """`faq/candidates.csv` (id,question,answer) and `past_questions/candidates.csv` (question,faq_id),
    ready to review and drop into the knowledge-base source directory."""
    new = [c for c in report.candidates if not c.faq_id]
    pairs = [c for c in report.candidates if c.faq_id]
    written = []
    if new:
        written.append(_write(directory / "faq" / "candidates.csv", ["id", "question", "answer"],
                              [[_slug(c.question, c.handoff), c.question, c.answer] for c in new]))
    if pairs:
        written.append(_write(directory / "past_questions" / "candidates.csv", ["question", "faq_id"],
                              [[c.question, c.faq_id] for c in pairs]))
    return written


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _slug(question: str, handoff: str) -> str:
    words = re.findall(r"[a-z0-9]+", question.lower())[:6]
    return "_".join([*words, handoff.lower()]) if words else f"candidate_{handoff.lower()}"


def _period(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds / 3600:.1f} hours"


def describe(report: Report) -> str:
    lines = [
        f"Last {_period(report.since_s)}: {report.answered + report.declined} questions, {report.answered} answered, "
        f"{report.declined} declined, {report.handed_off} handed to a person ({report.resolved} resolved).",
        f"Feedback: {report.thumbs_up} 👍 / {report.thumbs_down} 👎"
        + (f" ({report.up_rate:.0%} positive)." if report.thumbs_up + report.thumbs_down else "."),
    ]
    if report.groups:
        lines.append("Most frequent unanswered or 👎 questions (write these FAQ entries next):")
        lines += [f"{i}. {g.question} ×{g.count} ({g.declined} declined, {g.thumbs_down} 👎)"
                  for i, g in enumerate(report.groups[:10], start=1)]
    if report.candidates:
        lines.append(f"{len(report.candidates)} question(s) staff answered after the bot declined: "
                     "export them with `storebot report --candidates DIR`.")
    return "\n".join(lines)
