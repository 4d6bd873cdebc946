"""Clean text → passages of at most `max_words` words, cut only where the text has a boundary.

Cuts fall, in order of preference, between paragraphs (blank lines), between lines (list items,
table rows, variant lines), between sentences, and only as a last resort between words of one
over-long sentence. Cuts are made at whitespace only, so a number (`$49.00`, `1,299.00`) is never cut,
and a sentence end is never guessed after an abbreviation (`e.g.`, `approx.`, `No. 5`) or an
initial. Passages do not overlap: each starts at a paragraph, line or sentence, and the caller puts
the page or product title in front of each for matching.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Words that end with a period without ending a sentence (compared lower-case, without the period).
_ABBREVIATIONS = frozenset({
    "approx", "ca", "cf", "co", "corp", "dept", "dr", "esp", "est", "excl", "fig", "ft", "hr", "hrs", "inc",
    "incl", "jr", "lb", "lbs", "ltd", "max", "min", "mr", "mrs", "ms", "mt", "no", "nos", "nr", "oz", "p", "pp",
    "prof", "ref", "sr", "st", "tel", "vol", "vs", "wt",
})
_CURRENCY = frozenset("$€£¥₹")
_PARAGRAPHS = re.compile(r"\n[ \t]*\n\s*")
# A sentence may end after . ! ? or … (plus closing quotes/brackets) before whitespace and a word that
# does not start lower-case; the word before the mark decides whether it really ends there.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+[\"'“‘(\[]?(?=\w)")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # "e.g", "i.e", "U.S" (the last period stripped)
_LAST_RESORT_BACKOFF = 8  # words a forced cut may move back to avoid splitting "3.5 kg" or "No. 5"

Piece = tuple[str, str, int]  # (separator before it, text, words)


def chunk_text(text: str, max_words: int = 160) -> list[str]:
    """Passages of at most `max_words` words; a text that fits comes back whole (stripped)."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return []
    if len(text.split()) <= max_words:  # the common case, kept cheap
        return [text]
    return _pack(_pieces(text, max(1, max_words)), max(1, max_words))


def _pack(pieces: Iterator[Piece], max_words: int) -> list[str]:
    """Greedy: pieces join the current passage, with their separator, while it stays within the limit."""
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for separator, piece, words in pieces:
        if current and count + words > max_words:
            chunks.append("".join(current))
            current, count = [], 0
        current.append(f"{separator}{piece}" if current else piece)
        count += words
    if current:
        chunks.append("".join(current))
    return chunks


def _pieces(text: str, max_words: int) -> Iterator[Piece]:
    """The largest units that fit: whole paragraphs, else their lines, else sentences, else word runs."""
    for paragraph in _PARAGRAPHS.split(text):
        words = len(paragraph.split())
        if words <= max_words:
            yield "\n\n", paragraph.strip(), words
            continue
        separator = "\n\n"
        for line in paragraph.split("\n"):
            if line.strip():
                yield from _line_pieces(line.strip(), separator, max_words)
                separator = "\n"


def _line_pieces(line: str, separator: str, max_words: int) -> Iterator[Piece]:
    words = len(line.split())
    if words <= max_words:
        yield separator, line, words
        return
    for sentence in sentences(line):
        count = len(sentence.split())
        if count <= max_words:
            yield separator, sentence, count
        else:
            for run in _word_runs(sentence.split(), max_words):
                yield separator, " ".join(run), len(run)
                separator = " "
        separator = " "


def sentences(line: str) -> list[str]:
    """The sentences of one line, each with its closing punctuation."""
    found: list[str] = []
    start = 0
    for end in _SENTENCE_END.finditer(line):
        # The word before the mark is all that decides; a bounded look back keeps long lines linear.
        if not line[end.end()].islower() and _ends_sentence(line[max(start, end.start() - 40):end.start() + 1]):
            cut = end.start() + len(end.group().rstrip("\"'“‘(["))  # an opening quote starts the next one
            found.append(line[start:cut].strip())
            start = cut
    found.append(line[start:].strip())
    return [s for s in found if s]


def _ends_sentence(text: str) -> bool:
    """Whether the period (or ! ? …) closing `text` closes a sentence."""
    if text[-1] != ".":
        return True
    word = text.rsplit(None, 1)[-1].lstrip("\"'“‘([").rstrip(".").lower()
    if word in _ABBREVIATIONS or _DOTTED.fullmatch(word):  # "approx.", "No. 5", "e.g.", "U.S."
        return False
    return not (len(word) == 1 and word.isalpha())  # an initial: "J. Smith"


def _word_runs(words: list[str], max_words: int) -> Iterator[list[str]]:
    """Runs of at most `max_words` words, cut where no number, unit or abbreviation is split."""
    start = 0
    while len(words) - start > max_words:
        cut = start + max_words
        for candidate in range(cut, max(start + 1, cut - _LAST_RESORT_BACKOFF) - 1, -1):
            if not _binds(words[candidate - 1]):
                cut = candidate
                break
        yield words[start:cut]
        start = cut
    yield words[start:]


def _binds(word: str) -> bool:
    """A word that belongs with the next one: a number before its unit, "No." before its number, "$ 5"."""
    bare = word.rstrip(".,;:")
    return (bool(bare) and bare[-1].isdigit() and word[-1] not in ".;:") or word in _CURRENCY \
        or (word.endswith(".") and not _ends_sentence(word))
