"""Product documents (Markdown/HTML/text with optional front matter) and catalogs (CSV/JSON/JSONL)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from knowledge.readers import TextLoader, read_text, tabular_rows
from knowledge.records import Origin, ProductDoc, SourceError


@dataclass(frozen=True, slots=True)
class CatalogFields:
    """Which catalog columns are text (joined into the document) and which name the product."""

    text: tuple[str, ...] = ("text", "description", "body", "content", "details", "features")
    title: tuple[str, ...] = ("title", "name", "product_name")
    id: tuple[str, ...] = ("id", "sku", "product_id")
    url: tuple[str, ...] = ("url", "link")


DOC_SUFFIXES = frozenset({".md", ".markdown", ".html", ".htm", ".txt"})
CATALOG_SUFFIXES = frozenset({".csv", ".json", ".jsonl"})


def load_product_file(
    path: Path, shown: str, max_bytes: int, fields: CatalogFields
) -> list[ProductDoc]:
    if path.suffix.lower() in CATALOG_SUFFIXES:
        return [_catalog_row(line, row, shown, fields) for line, row in tabular_rows(path, shown, max_bytes)]
    return [_document(path, shown, read_text(path, shown, max_bytes))]


def _first(row: dict[str, str], names: tuple[str, ...]) -> str:
    return next((row[n] for n in names if row.get(n)), "")


def _catalog_row(line: int, raw: dict[str, Any], shown: str, fields: CatalogFields) -> ProductDoc:
    row = {str(k): _flat(v) for k, v in raw.items() if k is not None}
    text = "\n".join(row[name] for name in fields.text if row.get(name))
    title = _first(row, fields.title)
    if not text:
        raise SourceError(shown, line, f"no text: none of the text fields ({', '.join(fields.text)}) is filled")
    named = set(fields.text) | set(fields.title) | set(fields.url)
    metadata = {k: v for k, v in row.items() if k not in named and v}
    return ProductDoc(
        id=_first(row, fields.id) or f"{shown}:{line}",
        title=title,
        text=text,
        origin=Origin(shown, line),
        url=_first(row, fields.url),
        metadata=metadata,
    )


def _flat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(_flat(v) for v in value)
    return str(value).strip()


_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


def _document(path: Path, shown: str, text: str) -> ProductDoc:
    meta: dict[str, str] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            parsed = yaml.load(match.group(1), Loader=TextLoader) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            raise SourceError(shown, (mark.line + 2) if mark else 1, f"unparseable front matter: {err}") from None
        if not isinstance(parsed, dict):
            raise SourceError(shown, 1, "front matter must be key: value pairs")
        meta = {str(k): _flat(v) for k, v in parsed.items()}
        text = text[match.end():]
    suffix = path.suffix.lower()
    body, heading = _html_text(text) if suffix in {".html", ".htm"} else (text, _md_title(text))
    if not body.strip():
        raise SourceError(shown, 1, "the document has no text")
    title = meta.pop("title", "") or heading or path.stem.replace("-", " ").replace("_", " ")
    return ProductDoc(
        id=meta.get("sku") or shown,
        title=title,
        text=body.strip(),
        origin=Origin(shown, 1),
        url=meta.pop("url", ""),
        metadata=meta,
    )


def _md_title(text: str) -> str:
    match = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "noscript", "template"})
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "section", "article"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        if tag in ("title", "h1") and not self.title:
            self._in_title = True
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        if tag in ("title", "h1"):
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self._skipping:
            self.parts.append(data)


def _html_text(html: str) -> tuple[str, str]:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = re.sub(r"[ \t]+", " ", "".join(parser.parts))
    return re.sub(r"\n\s*\n+", "\n\n", text).strip(), " ".join(parser.title.split())
