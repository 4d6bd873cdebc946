"""FAQ entries (CSV/JSON/JSONL/YAML rows or Markdown `## question` sections) and past questions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from knowledge.readers import Row, read_text, tabular_rows
from knowledge.records import FaqEntry, Origin, PastQuestion, SourceError

FAQ_REQUIRED = ("question", "answer")
PAST_REQUIRED = ("question", "faq_id")


def load_faq_file(path: Path, shown: str, max_bytes: int) -> list[FaqEntry]:
    if path.suffix.lower() == ".md":
        rows: Iterable[Row] = _markdown_rows(read_text(path, shown, max_bytes))
    else:
        rows = tabular_rows(path, shown, max_bytes)
    return [_faq_entry(line, fields, shown) for line, fields in _checked(rows, shown, FAQ_REQUIRED)]


def load_past_questions_file(path: Path, shown: str, max_bytes: int) -> list[PastQuestion]:
    rows = _checked(tabular_rows(path, shown, max_bytes), shown, PAST_REQUIRED)
    return [
        PastQuestion(question=f["question"], faq_id=f["faq_id"], origin=Origin(shown, line))
        for line, f in rows
    ]


def _checked(rows: Iterable[Row], shown: str, required: tuple[str, ...]) -> Iterator[Row]:
    """Rows with the required fields present and non-empty, as stripped strings."""
    for line, fields in rows:
        missing = [name for name in required if name not in fields]
        if missing:
            raise SourceError(shown, line, f"missing required column {', '.join(missing)!s}")
        cleaned = {k: _as_text(v) for k, v in fields.items() if k is not None}
        for name in required:
            if not cleaned[name]:
                raise SourceError(shown, line, f"empty {name}")
        yield line, cleaned


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(_as_text(v) for v in value)
    return str(value).strip()


def _faq_entry(line: int, fields: dict[str, str], shown: str) -> FaqEntry:
    question = fields["question"]
    return FaqEntry(
        id=fields.get("id") or slug(question),
        question=question,
        answer=fields["answer"],
        origin=Origin(shown, line),
        alternates=_split(fields.get("alternates", ""), "|"),
        tags=_split(fields.get("tags", ""), "|,"),
        url=fields.get("url", ""),
    )


def _split(value: str, separators: str) -> tuple[str, ...]:
    parts = re.split(f"[{re.escape(separators)}]", value) if value else []
    return tuple(p.strip() for p in parts if p.strip())


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "entry"


_HEADING = re.compile(r"^##\s+(.*?)(?:\s+#+)?\s*$")


def _markdown_rows(text: str) -> Iterator[Row]:
    """`## question` starts an entry; the lines below it, up to the next heading, are its answer."""
    question: str | None = None
    start = 0
    answer: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        heading = _HEADING.match(line)
        if heading or line.startswith("# "):
            if question is not None:
                yield start, {"question": question, "answer": "\n".join(answer).strip()}
            question, start, answer = (heading.group(1), number, []) if heading else (None, 0, [])
        elif question is not None:
            answer.append(line)
    if question is not None:
        yield start, {"question": question, "answer": "\n".join(answer).strip()}
