"""FAQ entries (CSV/JSON/JSONL/YAML rows or Markdown question sections at any heading level) and past questions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.sources.readers import Row, read_text, tabular_rows
from knowledge.sources.records import FaqEntry, Origin, PastQuestion, SourceError

FAQ_REQUIRED = ("question", "answer")
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
PAST_REQUIRED = ("question", "faq_id")


def load_faq_file(path: Path, shown: str, max_bytes: int) -> list[FaqEntry]:
    """Entries of a CSV/JSON/JSONL/YAML or Markdown FAQ; an empty list when there are none (the caller
    warns: a Markdown FAQ without question headings yields none)."""
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        return markdown_faq_entries(read_text(path, shown, max_bytes), shown)
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


# --- Markdown FAQs ----------------------------------------------------------------------------------

_WH_WORDS = frozenset({"how", "what", "when", "where", "why", "who", "whom", "whose", "which"})
_AUXILIARIES = frozenset({"can", "could", "do", "does", "did", "is", "are", "was", "were", "will", "would",
                          "should", "shall", "may", "might", "must", "have", "has", "am"})
# Words that open a subject ("Can *I* return…", "Is *the* jacket…"); "May Sale" or "Will Call Pickup" do not.
_SUBJECTS = frozenset({"i", "we", "you", "they", "he", "she", "it", "there", "this", "that", "these", "those",
                       "my", "your", "our", "their", "his", "her", "its", "the", "a", "an", "any", "all", "some"})
_NUMBERING = re.compile(r"^(?:q(?:uestion)?\s*\d*\s*[:.)-]|\d+[.)])\s*", re.IGNORECASE)
MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
MD_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
MD_BOLD_LINE = re.compile(r"^ {0,3}(\*\*|__)(?=\S)(.+?)(?<=\S)\1[ \t]*$")


def reads_as_question(text: str) -> bool:
    """True for "Can I return it?", "How long does delivery take", "Is the tent waterproof".

    Ends with "?" (or opens with "¿"), or opens with a question word. A wh-word directly followed by
    a subject ("How we use your data", "What the warranty covers", "Who we are") is a statement title
    in declarative order; a real question inverts ("How do we…") or asks about a thing ("What size…").
    An auxiliary must be followed by a subject ("Can I…", "Is the…"): "May sale" is no question.
    """
    stripped = text.strip().rstrip(" :")
    if stripped.endswith(("?", "？")) or stripped.startswith("¿"):
        return True
    words = re.findall(r"[a-z]+", _NUMBERING.sub("", stripped.lower()))
    if len(words) < 2:
        return False
    if words[0] in _WH_WORDS:
        return words[1] not in _SUBJECTS
    return words[0] in _AUXILIARIES and words[1] in _SUBJECTS


@dataclass(frozen=True, slots=True)
class MarkdownHeading:
    index: int  # 0-based line index
    level: int  # 1–6; a whole-line **bold question** is one level below the heading it follows
    text: str


def markdown_headings(lines: list[str]) -> list[MarkdownHeading]:
    """ATX headings outside code fences, plus whole-line `**question?**` lines."""
    found: list[MarkdownHeading] = []
    fence = ""
    level = 1
    for index, line in enumerate(lines):
        opened = MD_FENCE.match(line)
        if fence or opened:
            if opened and (not fence or opened.group(1).startswith(fence)):
                fence = "" if fence else opened.group(1)[:3]
            continue
        heading = MD_HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            found.append(MarkdownHeading(index, level, heading.group(2)))
            continue
        bold = MD_BOLD_LINE.match(line)
        if bold and reads_as_question(bold.group(2)):
            found.append(MarkdownHeading(index, min(level + 1, 6), bold.group(2).strip()))
    return found


def markdown_faq_entries(text: str, shown: str) -> list[FaqEntry]:
    """FAQ entries of a Markdown file; an empty list when it has none (the caller warns)."""
    rows = _markdown_rows(text.splitlines())
    return [_faq_entry(line, fields, shown) for line, fields in _checked(rows, shown, FAQ_REQUIRED)]


def _markdown_rows(lines: list[str]) -> Iterator[Row]:
    """An entry is a question heading at any level below `#`, or any `##` heading (the original format).

    Its answer is the raw Markdown below it up to the next heading of the same or a higher level, so
    sub-headings inside an answer stay in it. A heading with no text of its own directly followed by
    deeper question headings is a category ("## Shipping", "### How long…?"): not an entry. A
    non-question `##` heading with text of its own ends where its first nested question starts.
    """
    heads = markdown_headings(lines)
    covered = 0  # headings above this line are inside an answer already read
    for k, head in enumerate(heads):
        question = reads_as_question(head.text)
        if head.index < covered or head.level == 1 or not (question or head.level == 2):
            continue
        following = heads[k + 1] if k + 1 < len(heads) else None
        own = lines[head.index + 1:following.index if following else len(lines)]
        if following and following.level > head.level and reads_as_question(following.text) \
                and not "".join(own).strip():
            continue
        covered = _answer_end(heads[k + 1:], head.level, question, len(lines))
        yield head.index + 1, {"question": head.text, "answer": "\n".join(lines[head.index + 1:covered]).strip()}


def _answer_end(after: list[MarkdownHeading], level: int, question: bool, total: int) -> int:
    for head in after:
        if head.level <= level or (not question and reads_as_question(head.text)):
            return head.index
    return total
