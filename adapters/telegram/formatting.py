"""Reply → Telegram HTML messages: everything escaped, sources as links, split under 4,096 chars.

Splitting happens on the plain text, before escaping, with the escaped length counted, so a cut
never falls inside an entity (`&amp;`) or a tag.
"""

from __future__ import annotations

import html
import re

from bot.types import Reply

MAX_MESSAGE = 4096
_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"(?<=[.!?])\s+"), re.compile(r"\s+"))


def to_html_messages(reply: Reply, limit: int = MAX_MESSAGE) -> list[str]:
    chunks = [html.escape(part, quote=False) for part in split_text(reply.text, limit)]
    sources = _sources_html(reply)
    if sources:
        if chunks and len(chunks[-1]) + 2 + len(sources) <= limit:
            chunks[-1] += "\n\n" + sources
        else:
            chunks.append(sources[:limit])
    return chunks or [html.escape("…")]


def split_text(text: str, limit: int) -> list[str]:
    """Pieces whose escaped length fits `limit`, cut at a paragraph, else a sentence, else a space."""
    text = text.strip()
    if _escaped_len(text) <= limit:
        return [text] if text else []
    cut = _cut_point(text, limit)
    return [text[:cut].rstrip(), *split_text(text[cut:], limit)]


def _cut_point(text: str, limit: int) -> int:
    fits = _longest_fitting_prefix(text, limit)
    for pattern in _BREAKS:
        ends = [m.end() for m in pattern.finditer(text, 0, fits) if m.start() > 0 and m.end() <= fits]
        if ends:
            return ends[-1]
    return fits


def _longest_fitting_prefix(text: str, limit: int) -> int:
    size = 0
    for index, char in enumerate(text):
        size += _escaped_len(char)
        if size > limit:
            return max(index, 1)
    return len(text)


def _escaped_len(text: str) -> int:
    return len(html.escape(text, quote=False))


def _sources_html(reply: Reply) -> str:
    lines = []
    for number, citation in enumerate(reply.citations, start=1):
        title = html.escape(citation.title or citation.source or "source", quote=False)
        if citation.url.startswith(("https://", "http://")):
            lines.append(f'{number}. <a href="{html.escape(citation.url, quote=True)}">{title}</a>')
        else:
            lines.append(f"{number}. {title}")
    return ("<b>Sources</b>\n" + "\n".join(lines)) if lines else ""
