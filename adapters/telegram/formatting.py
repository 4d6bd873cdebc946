"""Reply → Telegram HTML messages: everything escaped, sources as links, split under 4,096 chars.

Splitting happens on the plain text, before escaping, with the escaped length counted, so a cut
never falls inside an entity (`&amp;`) or a tag. The sources list is split between whole lines.
"""

from __future__ import annotations

import html
import re

from bot.types import Reply

MAX_MESSAGE = 4096
# Where a long text may be cut, best first: (pattern, cut at the match's end rather than its start).
_BREAKS: tuple[tuple[re.Pattern[str], bool], ...] = (
    (re.compile(r"\n[ \t]*\n"), False),  # a paragraph break
    (re.compile(r"\n"), False),  # a line break
    (re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)"), True),  # a sentence end
)
_SPACE = re.compile(r"\s")


def to_html_messages(reply: Reply, limit: int = MAX_MESSAGE) -> list[str]:
    chunks = [html.escape(part, quote=False) for part in split_text(reply.text, limit)]
    for block in _sources_blocks(reply, limit):  # whole lines only: never a cut inside a tag or entity
        if chunks and len(chunks[-1]) + 2 + len(block) <= limit:
            chunks[-1] += "\n\n" + block
        else:
            chunks.append(block)
    return chunks or [html.escape("…")]


def split_text(text: str, limit: int) -> list[str]:
    """Pieces whose escaped length fits `limit`, cut at a paragraph break, else a line break, else a
    sentence end (each only if the piece stays at least a third full), else a space; inside a word
    only when one word does not fit."""
    pieces: list[str] = []
    rest = text.strip()
    while _escaped_len(rest) > limit:
        cut = _cut_point(rest, limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [*pieces, rest] if rest else pieces


def _cut_point(text: str, limit: int) -> int:
    fits = _longest_fitting_prefix(text, limit)  # text[:fits] escapes to at most `limit`; a break at `fits` counts
    for pattern, at_end in _BREAKS:
        cuts = [m.end() if at_end else m.start() for m in pattern.finditer(text, 0, fits + 1)]
        cuts = [cut for cut in cuts if fits // 3 <= cut <= fits]
        if cuts:
            return cuts[-1]
    spaces = [m.start() for m in _SPACE.finditer(text, 1, fits + 1)]
    return spaces[-1] if spaces else fits


def _longest_fitting_prefix(text: str, limit: int) -> int:
    size = 0
    for index, char in enumerate(text):
        size += _escaped_len(char)
        if size > limit:
            return max(index, 1)
    return len(text)


def _escaped_len(text: str) -> int:
    return len(html.escape(text, quote=False))


def _sources_blocks(reply: Reply, limit: int) -> list[str]:
    """The sources list as HTML, in as few blocks of whole lines under `limit` as it takes."""
    blocks: list[str] = []
    current = "<b>Sources</b>"
    for number, citation in enumerate(reply.citations, start=1):
        line = _source_line(number, citation.title or citation.source or "source", citation.url, limit)
        if len(current) + 1 + len(line) > limit:
            blocks.append(current)
            current = line
        else:
            current += "\n" + line
    return [*blocks, current] if reply.citations else []


def _source_line(number: int, title: str, url: str, limit: int) -> str:
    pieces = split_text(title, max(limit // 4 - 1, 1))  # a sane length, cut at a word
    escaped = html.escape(pieces[0] + ("…" if len(pieces) > 1 else ""), quote=False) if pieces else "source"
    if url.startswith(("https://", "http://")):
        line = f'{number}. <a href="{html.escape(url, quote=True)}">{escaped}</a>'
        if len(line) <= limit:
            return line
    return f"{number}. {escaped}"  # no link rather than a cut one
