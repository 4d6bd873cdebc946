"""Store pages (HTML, Markdown, text) → FAQ entries and policy documents.

A heading at any level that reads as a question (or a paragraph that is wholly bold, a `<dt>` or a
`<summary>` and reads as one) becomes a FaqEntry; its answer is the text up to the next heading of
the same or a higher level, or up to the next question, whichever comes first, so a nested question
is its own entry and never part of its parent's answer. Every other section becomes a Document
(`kind="page"`) titled "Page — Heading"; the text before the first section is the page's intro.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from knowledge.sources.faq_loader import reads_as_question, slug
from knowledge.sources.html_text import Block, blocks_to_text, html_blocks
from knowledge.sources.markdown_text import markdown_blocks
from knowledge.sources.readers import read_text
from knowledge.sources.records import Document, FaqEntry, Origin, SourceWarning

PAGE_SUFFIXES = frozenset({".html", ".htm", ".md", ".markdown", ".txt"})
_HTML_SUFFIXES = frozenset({".html", ".htm"})
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_BODY = re.compile(r"<body\b", re.IGNORECASE)
# What may sit between two words of a heading in the HTML source: spaces, punctuation, tags, entities.
_GAP = r"(?:&#?\w+;|<[^>]*>|[^\w<])"
_MAX_SEARCH_WORDS = 12
_WORD_OUTSIDE_ENTITY = re.compile(r"(?<![&#\w])\w")
_WORD_CHAR = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class PagesRead:
    faqs: tuple[FaqEntry, ...]
    documents: tuple[Document, ...]  # kind="page"
    warnings: tuple[SourceWarning, ...]


def load_page_file(path: Path, shown: str, max_bytes: int) -> PagesRead:
    text = read_text(path, shown, max_bytes)
    if not text.strip():
        return PagesRead((), (), (SourceWarning("empty_file", shown, None, "empty file"),))
    suffix = path.suffix.lower()
    if suffix in _HTML_SUFFIXES:
        blocks, title = _html_page(text), _html_title(text)
    else:
        blocks, title = _with_question_headings(markdown_blocks(text, plain=suffix == ".txt")), ""
    return _split(blocks, _Page(shown, path.stem, title))


@dataclass(slots=True)
class _Page:
    """One page being split: names it gives its records, and what it found so far."""

    shown: str
    stem: str
    title: str  # from <title>; filled from the first `#`/<h1> or the stem when empty
    faqs: list[FaqEntry] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    warnings: list[SourceWarning] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)

    def unique(self, wanted: str) -> str:
        """`wanted`, or `wanted-2`, `-3`… when two sections of this page share a heading."""
        found, number = wanted, 1
        while found in self.ids:
            number += 1
            found = f"{wanted}-{number}"
        self.ids.add(found)
        return found

    def add_faq(self, head: Block, body: list[Block]) -> None:
        answer = _text(body)
        if not answer:
            self.warnings.append(SourceWarning("empty_answer", self.shown, head.line or 1,
                                               f"question {head.text!r} has no answer text; skipped"))
            return
        entry_id = self.unique(f"{slug(self.stem)}-{slug(head.text)}")
        self.faqs.append(FaqEntry(id=entry_id, question=head.text, answer=answer,
                                  origin=Origin(self.shown, head.line or 1)))

    def add_document(self, heading: str, body: list[Block], line: int) -> None:
        text = _text(body)
        if not text:  # a heading whose text lives in its sub-sections
            return
        title = f"{self.title} — {heading}" if heading else self.title
        self.documents.append(Document(id=self.unique(f"{self.shown}#{slug(heading or self.title)}"), title=title,
                                       text=text, origin=Origin(self.shown, line or 1), kind="page"))

    def read(self) -> PagesRead:
        warnings = list(self.warnings)
        if not self.faqs and not self.documents:
            warnings.append(SourceWarning("no_entries", self.shown, None, "no questions or sections found"))
        return PagesRead(tuple(self.faqs), tuple(self.documents), tuple(warnings))


def _split(blocks: list[Block], page: _Page) -> PagesRead:
    heads = [i for i, block in enumerate(blocks) if block.kind == "heading"]
    title_at = next((i for i in heads if blocks[i].level == 1 and not reads_as_question(blocks[i].text)), None)
    page.title = page.title or (blocks[title_at].text if title_at is not None else "") or page.stem
    intro = blocks[:heads[0]] if heads else blocks
    if title_at is not None:  # and the text under the title
        intro = intro + blocks[title_at + 1:_next_heading(heads, title_at, len(blocks))]
    page.add_document("", intro, blocks[title_at].line if title_at is not None else intro[0].line if intro else 1)
    answered_to = 0  # blocks before this index are inside a FAQ answer already taken
    for i in heads:
        head = blocks[i]
        if i == title_at or i < answered_to:
            continue
        if reads_as_question(head.text):
            answered_to = _answer_end(blocks, heads, i)
            page.add_faq(head, blocks[i + 1:answered_to])
        else:
            page.add_document(head.text, blocks[i + 1:_next_heading(heads, i, len(blocks))], head.line)
    return page.read()


def _next_heading(heads: list[int], after: int, total: int) -> int:
    return next((i for i in heads if i > after), total)


def _answer_end(blocks: list[Block], heads: list[int], start: int) -> int:
    """The next heading of the same or a higher level, or the next question: an answer ends there."""
    level = blocks[start].level
    for i in heads:
        if i > start and (blocks[i].level <= level or reads_as_question(blocks[i].text)):
            return i
    return len(blocks)


def _text(body: list[Block]) -> str:
    """Clean text; a sub-heading inside an answer or section is kept as a line of its own."""
    return blocks_to_text([Block("paragraph", b.text) if b.kind == "heading" else b for b in body])


def _with_question_headings(blocks: list[Block]) -> list[Block]:
    """A wholly bold paragraph that reads as a question is a heading one level below the last real one."""
    out: list[Block] = []
    level = 1
    for block in blocks:
        if block.kind == "heading":
            level = block.level
        elif block.kind == "paragraph" and block.strong and reads_as_question(block.text):
            block = replace(block, kind="heading", level=min(level + 1, 6))
        out.append(block)
    return out


def _html_page(source: str) -> list[Block]:
    """HTML blocks with question headings, each heading given the line where its text is in the source."""
    blocks = _with_question_headings(html_blocks(source))
    body = _BODY.search(source)
    position = body.start() if body else 0
    line = source.count("\n", 0, position) + 1
    out: list[Block] = []
    for block in blocks:
        if block.kind == "heading":
            found = _find(source, block.text, position)
            if found is not None:  # found >= position: lines are counted once, front to back
                line += source.count("\n", position, found)
                position = found + 1  # a later heading with the same text is further down
                block = replace(block, line=line)
        out.append(block)
    return out


def _find(source: str, text: str, start: int) -> int | None:
    """Where `text` is in the source at or after `start`: preferably as the whole text of an element
    (only tags, spaces and punctuation around it), else anywhere; None when it is not there."""
    for written in dict.fromkeys((text, html.escape(text, quote=False))):  # common cases, without a pattern
        exact = source.find(written, start)
        while exact >= 0:
            if _alone(source, exact, exact + len(written)):
                return exact
            exact = source.find(written, exact + 1)
    words = re.findall(r"\w+", text)[:_MAX_SEARCH_WORDS]
    if not words:
        return None
    pattern = re.compile(rf"(?<!\w){f'{_GAP}+'.join(_word_pattern(w) for w in words)}(?!\w)")
    anywhere = None
    for match in pattern.finditer(source, start):
        if _alone(source, match.start(), match.end()):
            return match.start()
        anywhere = match.start() if anywhere is None else anywhere
    return anywhere


def _word_pattern(word: str) -> str:
    """A word as it may be written in HTML: a non-ASCII letter may be an entity (`caf&eacute;`)."""
    return "".join(re.escape(c) if c.isascii() else f"(?:{re.escape(c)}|&#?\\w+;)" for c in word)


def _alone(source: str, start: int, end: int) -> bool:
    """Whole words, and no other word between the tag before `start` and the tag after `end`."""
    if _WORD_CHAR.match(source[start - 1:start]) or _WORD_CHAR.match(source[end:end + 1]):
        return False  # "Ship" inside "Shipping"
    opened = source.rfind(">", 0, start) + 1
    closed = source.find("<", end)
    return not _WORD_OUTSIDE_ENTITY.search(source, opened, start) and \
        not _WORD_OUTSIDE_ENTITY.search(source, end, closed if closed >= 0 else len(source))


def _html_title(source: str) -> str:
    found = _TITLE.search(source)
    if not found:
        return ""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]*>", " ", found.group(1)))).strip()
