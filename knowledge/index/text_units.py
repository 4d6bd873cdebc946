"""Sentences, clauses and table rows: the units an answer quotes, and the build embeds ahead of time.

Both the build (to embed them once) and the answerers (to rank them) cut text here, so a unit's vector
is found by its text at answer time.
"""

from __future__ import annotations

import re

from knowledge.sources.records import ProductRecord

# A sentence ends at . ! ? followed by a space and a capital, digit or quote — never inside "$49.00",
# "e.g. this" or "No. 5".
_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(•])")
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|approx|vs|no|nr|ca|incl|excl|dr|mr|mrs|ms|st|inc|ltd)\.$", re.I)
MAX_SENTENCE_CHARS = 400
MAX_ATTRIBUTE_CHARS = 200
CLAUSE_WORDS = 14  # sentences longer than this are also scored clause by clause
_CLAUSE_BREAK = re.compile(r"[,;:]\s+|\s+(?:with|and|while|but|so)\s+")


def product_units(product: ProductRecord) -> list[str]:
    """What a product answer may quote: its description's sentences and its named attributes."""
    return split_sentences(product.description) + [
        f"{name}: {value}" for name, value in product.attributes if len(value) < MAX_ATTRIBUTE_CHARS]


def passage_units(text: str) -> tuple[list[str], list[str]]:
    """A passage's sentences, and its table's rows read as sentences under their header."""
    plain = "\n".join(line for line in text.splitlines() if "|" not in line)
    return split_sentences(plain), labelled_rows([line for line in text.splitlines() if "|" in line])


def with_clauses(units: list[str]) -> list[str]:
    return units + [c for u in units for c in clauses(u)]


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip(" \t•-*")
        if not line:
            continue
        pending = ""
        for piece in _END.split(line):
            pending = f"{pending} {piece}".strip() if pending else piece.strip()
            if _ABBREVIATION.search(pending):
                continue
            sentences.append(pending)
            pending = ""
        if pending:
            sentences.append(pending)
    return [s if len(s) <= MAX_SENTENCE_CHARS else s[:MAX_SENTENCE_CHARS].rsplit(" ", 1)[0] + "…"
            for s in sentences if len(s) > 2 and not _heading(s)]


def clauses(sentence: str) -> list[str]:
    if len(sentence.split()) <= CLAUSE_WORDS:
        return []
    return [c for c in _CLAUSE_BREAK.split(sentence) if len(c.split()) >= 2]


def _heading(line: str) -> bool:
    """"Overview", "Shipping and Delivery": a section label left in the text, not a fact."""
    words = line.split()
    if len(words) > 5 or re.search(r"[.!?:;,\d]", line):
        return False
    return len(words) <= 2 or all(w[0].isupper() for w in words if len(w) > 3)


def labelled_rows(lines: list[str]) -> list[str]:
    """"Merchandise total | STANDARD" + "Up to $200 | $16" → "Merchandise total Up to $200: STANDARD $16."."""
    if len(lines) < 2:
        return []
    header = [_clean_cell(c) for c in lines[0].split("|")]
    rows = []
    for line in lines[1:]:
        cells = [_clean_cell(c) for c in line.split("|")]
        pairs = [f"{h} {v}".strip() for h, v in zip(header[1:], cells[1:], strict=False)]
        rows.append(f"{header[0]} {cells[0]}: " + ", ".join(pairs) + ".")
    return rows


def _clean_cell(cell: str) -> str:
    return re.sub(r"\s*\*+\s*$", "", cell.strip()).strip()
