"""HTML → clean text blocks with a real parser (selectolax/Lexbor).

Headings, paragraphs, list items and table rows become separate blocks, so a list item or a table
cell never runs into the next one; scripts, styles, forms, hidden elements and navigation (menus,
breadcrumbs, tables of contents) are dropped. A block that is wholly bold, a definition term or an
accordion `<summary>` is marked `strong`: pages read such a block as a question heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

_SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe", "form", "button",
                   "select", "input", "textarea", "object", "embed", "canvas", "nav"})
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = frozenset({"p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote",
                     "ul", "ol", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "pre", "address",
                     "figure", "figcaption", "details", "summary", "center", "body", "html"})
_STRONG = frozenset({"strong", "b"})
_STRONG_BLOCKS = frozenset({"dt", "summary"})  # FAQ markup: <dt>Q?</dt><dd>A</dd>, <details><summary>Q?…
_NAV_ROLES = frozenset({"navigation", "menu", "menubar", "doc-toc"})
# A class/id token that ends in a navigation word ("site-nav", "main-menu", "breadcrumbs") names a menu;
# state classes such as "nav-open" or "menu-drawer-open" on page wrappers do not end in one.
_NAV_NAME = re.compile(r"(?:^|[_-])(?:nav|navbar|navigation|menu|breadcrumbs?|toc)$", re.IGNORECASE)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[•·▪◦●■\-*–]|&bull;)\s+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # "heading" | "paragraph" | "item" | "row"
    text: str
    level: int = 0  # heading level 1–6
    strong: bool = False  # the whole block is bold (or a <dt>/<summary>)
    line: int = 0  # 1-based source line when the reader knows it (Markdown); 0 = unknown


def html_blocks(html: str) -> list[Block]:
    """The page's visible text as blocks, in document order."""
    tree = LexborHTMLParser(html)
    root = tree.body or tree.root
    if root is None:
        return []
    out = _Collector()
    out.walk(root)
    out.flush()
    return out.blocks


def html_to_text(html: str) -> str:
    """Clean text: one line per paragraph, list item or table row; a blank line between paragraphs."""
    return blocks_to_text(html_blocks(html))


def blocks_to_text(blocks: list[Block]) -> str:
    lines: list[str] = []
    previous = ""
    for block in blocks:
        # Consecutive items or rows stay together; anything else starts a new paragraph.
        if lines and not (block.kind == previous and block.kind in ("item", "row")):
            lines.append("")
        lines.append(block.text)
        previous = block.kind
    return "\n".join(lines).strip()


def looks_like_html(text: str) -> bool:
    return bool(re.search(r"<\s*(?:p|div|br|li|ul|ol|table|span|b|strong|em|i|a|h[1-6]|img)\b[^>]*>", text,
                          re.IGNORECASE))


def _hidden(node: LexborNode) -> bool:
    attrs = node.attributes
    if "hidden" in attrs or attrs.get("aria-hidden") == "true" or attrs.get("role") in _NAV_ROLES:
        return True
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".split()
    if any(_NAV_NAME.search(name) for name in names):
        return True
    style = attrs.get("style") or ""
    return bool(_HIDDEN_STYLE.search(style))


class _Collector:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._inline: list[str] = []
        self._kind = "paragraph"
        self._level = 0
        self._bold = 0  # depth inside <strong>/<b>
        self._plain = False  # some text of the current block is not bold

    def walk(self, node: LexborNode) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag or ""
            if tag == "-text":
                text = child.text_content or ""
                self._inline.append(text)
                self._plain = self._plain or (not self._bold and bool(text.strip()))
                continue
            if tag in _SKIP or tag.startswith("-") or _hidden(child):
                continue
            if tag == "br":
                self.flush()
                continue
            if tag in _HEADINGS:
                self._block(child, "heading", _HEADINGS[tag])
            elif tag == "li":
                self._block(child, "item")
            elif tag == "tr":
                self._row(child)
            elif tag in _STRONG_BLOCKS:
                self.flush()
                self._bold += 1
                self.walk(child)
                self.flush()
                self._bold -= 1
            elif tag in _BLOCKS:
                self.flush()
                self.walk(child)
                self.flush()
            else:  # inline: b, span, a, strong, em…
                self._bold += tag in _STRONG
                self.walk(child)
                self._bold -= tag in _STRONG

    def _block(self, node: LexborNode, kind: str, level: int = 0) -> None:
        self.flush()
        self._kind, self._level = kind, level
        self.walk(node)
        self.flush()

    def _row(self, node: LexborNode) -> None:
        self.flush()
        cells: list[str] = []
        for cell in node.iter():
            if cell.tag in ("td", "th") and not _hidden(cell):
                inner = _Collector()
                inner.walk(cell)
                inner.flush()
                text = " ".join(b.text for b in inner.blocks)
                if text:
                    cells.append(text)
        if cells:
            self.blocks.append(Block("row", " | ".join(cells)))

    def flush(self) -> None:
        text = _SPACE.sub(" ", "".join(self._inline)).strip()
        strong = not self._plain
        self._inline, self._plain = [], False
        kind, level = self._kind, self._level
        self._kind, self._level = "paragraph", 0
        if not text:
            return
        if kind == "paragraph" and _BULLET.match(text):
            kind, text = "item", _BULLET.sub("", text, count=1)
        self.blocks.append(Block(kind, text, level, strong))
