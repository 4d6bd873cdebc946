"""Markdown (and plain text) → clean text blocks with their source lines, without converting to HTML.

Gives the same `Block`s as `html_text.html_blocks` (heading, paragraph, item, row), each with its
1-based line, so a page cites where a section starts. Inline markup is removed: `**`, `_`, code
spans, `[text](url)` → text, images → alt text, HTML tags and entities, backslash escapes.
"""

from __future__ import annotations

import html
import re

from knowledge.sources.faq_loader import MD_BOLD_LINE, MD_FENCE, MD_HEADING
from knowledge.sources.html_text import Block

_QUOTE = re.compile(r"^ {0,3}> ?")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_ITEM = re.compile(r"^[ \t]*(?:[-*+]|(\d{1,9}[.)]))[ \t]+(.*)$")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*\S+")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")

_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
_CODE = re.compile(r"(`+)(.+?)\1")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])"
                       r"|(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")
_SPACE = re.compile(r"\s+")
# Characters that are markup when bare: inside code or after a backslash they are kept literally, parked
# in the Private Use Area while the markup is removed.
_PARK = str.maketrans({c: chr(0xE000 + ord(c)) for c in "\\`*_{}[]()#+-.!|<>~&"})
_UNPARK = str.maketrans({chr(0xE000 + ord(c)): c for c in "\\`*_{}[]()#+-.!|<>~&"})


def clean_inline(text: str) -> str:
    """One line of Markdown as plain text."""
    text = _ESCAPED.sub(lambda m: m.group(1).translate(_PARK), text)
    text = _CODE.sub(lambda m: m.group(2).strip().translate(_PARK), text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(lambda m: m.group(1).translate(_PARK), text)
    text = _TAG.sub(" ", text)
    text = _STRONG.sub(r"\2", text)
    text = _STRIKE.sub(r"\1", text)
    text = _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)
    return _SPACE.sub(" ", html.unescape(text)).strip().translate(_UNPARK)


def markdown_blocks(text: str, plain: bool = False) -> list[Block]:
    """Blocks in document order. `plain` (a .txt page): a line ending in "?" that opens a paragraph is
    its own `strong` block, the way a bold line is in Markdown."""
    # Comments go, their newlines stay, so later lines keep their numbers.
    lines = _COMMENT.sub(lambda m: "\n" * m.group().count("\n"), text).splitlines()
    reader = _Reader(plain)
    skip = _front_matter_end(lines)
    for number, line in enumerate(lines[skip:], start=skip + 1):
        reader.line(number, line)
    reader.flush()
    return reader.blocks


class _Reader:
    def __init__(self, plain: bool) -> None:
        self.blocks: list[Block] = []
        self._plain = plain
        self._para: list[str] = []
        self._para_line = 0
        self._fence = ""
        self._table = False
        self._item = False

    def line(self, number: int, line: str) -> None:
        if self._code(number, line):
            return
        while _QUOTE.match(line):
            line = _QUOTE.sub("", line, count=1)
        if not line.strip():
            self.flush()
        elif not self._structure(number, line):
            self._text(number, line)

    def _code(self, number: int, line: str) -> bool:
        """Fenced code: every line kept as it is, on its own line."""
        opened = MD_FENCE.match(line)
        if opened and (not self._fence or opened.group(1).startswith(self._fence)):
            self.flush()
            self._fence = "" if self._fence else opened.group(1)[:3]
            return True
        if self._fence and line.strip():
            self.blocks.append(Block("row", line.rstrip(), line=number))
        return bool(self._fence)

    def _structure(self, number: int, line: str) -> bool:
        """Headings, rules, tables, list items; False for a line of running text."""
        heading = MD_HEADING.match(line)
        setext = _SETEXT.match(line)
        if heading:
            self._add(Block("heading", clean_inline(heading.group(2)), len(heading.group(1)), line=number))
        elif setext and self._para and not self._table:
            text, start = " ".join(self._para), self._para_line
            self._para = []
            self._add(Block("heading", clean_inline(text), 1 if "=" in setext.group(1) else 2, line=start))
        elif _RULE.match(line) or _LINK_DEFINITION.match(line):
            self.flush()
        elif _TABLE_RULE.match(line):  # under a header row `a | b`: the header is the table's first row
            if len(self._para) == 1 and "|" in self._para[0]:
                header, self._para = self._para[0], []
                self._add(_row(header, self._para_line), table=True)
            self._table = True
        elif (self._table and "|" in line) or (line.strip().startswith("|") and line.rstrip().endswith("|")):
            self._add(_row(line, number), table=True)
        else:
            return self._list_item(number, line)
        return True

    def _list_item(self, number: int, line: str) -> bool:
        item = _ITEM.match(line)
        if item:
            mark = f"{item.group(1)} " if item.group(1) else ""  # ordered lists keep their numbers
            self._add(Block("item", clean_inline(mark + item.group(2)), line=number), item=True)
            return True
        if self._item and line[:1] in " \t":  # an indented line continues the item
            last = self.blocks[-1]
            self.blocks[-1] = Block("item", f"{last.text} {clean_inline(line)}".strip(), line=last.line)
            return True
        return False

    def _text(self, number: int, line: str) -> None:
        self._table = self._item = False
        bold = MD_BOLD_LINE.match(line)
        asks = self._plain and not self._para and line.rstrip().endswith("?")
        if bold or asks:
            self._add(Block("paragraph", clean_inline(line), strong=True, line=number))
            return
        if not self._para:
            self._para_line = number
        self._para.append(line.strip())

    def _add(self, block: Block, table: bool = False, item: bool = False) -> None:
        self._flush_paragraph()
        self._table, self._item = table, item and bool(block.text)
        if block.text:
            self.blocks.append(block)

    def flush(self) -> None:
        self._flush_paragraph()
        self._table = self._item = False

    def _flush_paragraph(self) -> None:
        text = clean_inline(" ".join(self._para))
        if text:
            self.blocks.append(Block("paragraph", text, line=self._para_line))
        self._para = []


def _front_matter_end(lines: list[str]) -> int:
    """Lines taken by a leading `---` … `---` YAML block (metadata, not page text)."""
    if not lines or lines[0].strip() != "---":
        return 0
    return next((i + 1 for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), 0)


def _row(line: str, number: int) -> Block:
    cells = [clean_inline(c) for c in _CELL_SPLIT.split(line.strip().strip("|"))]
    return Block("row", " | ".join(c for c in cells if c), line=number)
