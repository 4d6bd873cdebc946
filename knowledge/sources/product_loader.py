"""Product files → ProductRecords (facts: prices, options, SKUs, stock) and Documents (text to index).

Catalogs (CSV/JSON/JSONL) are read by their columns, never their file name: a Shopify product export,
a WooCommerce product export, or any other table with a row per product (see knowledge/sources/).
Product documents (Markdown/HTML/text with optional YAML front matter) are one product each.

Lenient: a row or file that cannot be used is skipped with a SourceWarning naming file and line. Data that
would be wrong (unparseable files, duplicate ids, prices that are not numbers, variations of an unknown
parent) is a SourceError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from selectolax.lexbor import LexborHTMLParser

from knowledge.sources.catalog import (
    CatalogFields,
    Cells,
    ProductsRead,
    columns_of,
    detect_format,
    fact_line,
    flat,
    one_line,
    split_list,
)
from knowledge.sources.generic import read_generic
from knowledge.sources.html_text import blocks_to_text, html_blocks
from knowledge.sources.markdown_text import markdown_blocks
from knowledge.sources.prices import parse_price
from knowledge.sources.readers import TextLoader, read_text, tabular_rows
from knowledge.sources.records import (
    Document,
    Origin,
    ProductOption,
    ProductRecord,
    SourceError,
    SourceWarning,
    Variant,
)
from knowledge.sources.shopify import read_shopify
from knowledge.sources.woocommerce import read_woocommerce

__all__ = ["CATALOG_SUFFIXES", "DOC_SUFFIXES", "CatalogFields", "ProductsRead", "load_product_file"]

DOC_SUFFIXES = frozenset({".md", ".markdown", ".html", ".htm", ".txt"})
CATALOG_SUFFIXES = frozenset({".csv", ".json", ".jsonl"})

_Importer = Callable[[Sequence[Cells], str, CatalogFields, str], ProductsRead]
_IMPORTERS: dict[str, _Importer] = {"shopify": read_shopify, "woocommerce": read_woocommerce,
                                    "generic": read_generic}


def load_product_file(
    path: Path, shown: str, max_bytes: int, fields: CatalogFields, currency: str = ""
) -> ProductsRead:
    """One product file; `currency` is the store's, used where the data names none."""
    if path.suffix.lower() in CATALOG_SUFFIXES:
        rows = [Cells.of(line, row) for line, row in tabular_rows(path, shown, max_bytes)]
        if not rows:
            return _nothing("empty_file", shown, "no product rows; nothing loaded")
        return _IMPORTERS[detect_format(columns_of(rows))](rows, shown, fields, currency)
    return _product_document(path, shown, read_text(path, shown, max_bytes), currency)


def _nothing(kind: str, shown: str, message: str) -> ProductsRead:
    return ProductsRead((), (), (SourceWarning(kind, shown, None, message),))


# --- Product documents -------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
_OPTION_KEYS = {"sizes": "Size", "size": "Size", "colors": "Color", "color": "Color", "colours": "Colour",
                "colour": "Colour"}
_RECORD_KEYS = frozenset({"sku", "id", "price", "category", "vendor", "brand", "tags", *_OPTION_KEYS})


def _product_document(path: Path, shown: str, text: str, currency: str) -> ProductsRead:
    if not text.strip():
        return _nothing("empty_file", shown, "empty file; nothing loaded")
    meta, raw, body_start = _front_matter(text, shown)
    body = text[body_start:]
    if path.suffix.lower() in {".html", ".htm"}:
        body, heading = _html_text(body)
    else:
        heading = _md_title(body)
        body = _plain_markdown(body, heading)
    title = one_line(meta.pop("title", "") or heading)
    if not body and not title:
        return _nothing("no_text", shown, "product document has no text and no title; skipped")
    title = title or path.stem.replace("-", " ").replace("_", " ")
    url = meta.pop("url", "")
    record = _doc_record(shown, meta, raw, text, title, body, url, currency)
    document = Document(id=record.id, title=title, text=body or fact_line(title, record.category, record.options),
                        origin=record.origin, url=url, metadata=meta, kind="product", product_id=record.id)
    return ProductsRead((record,), (document,), ())


def _front_matter(text: str, shown: str) -> tuple[dict[str, str], dict[str, Any], int]:
    """Flat front-matter fields, the parsed values (lists kept), and where the body starts."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, {}, 0
    try:
        parsed = yaml.load(match.group(1), Loader=TextLoader) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise SourceError(shown, (mark.line + 2) if mark else 1, f"unparseable front matter: {err}") from None
    if not isinstance(parsed, dict):
        raise SourceError(shown, 1, "front matter must be key: value pairs")
    raw = {str(k): v for k, v in parsed.items()}
    return {k: flat(v) for k, v in raw.items()}, raw, match.end()


def _doc_record(shown: str, meta: dict[str, str], raw: dict[str, Any], text: str, title: str, body: str,
                url: str, currency: str) -> ProductRecord:
    price = parse_price(meta.get("price", ""), shown, _key_line(text, "price"), currency)
    sku = meta.get("sku", "")
    options = tuple(ProductOption(name, values) for key, name in _OPTION_KEYS.items()
                    if (values := _values(raw.get(key))))
    has_variant = price.amount is not None or sku
    return ProductRecord(
        id=sku or meta.get("id", "") or shown, title=title, origin=Origin(shown, 1), description=body,
        url=url, vendor=meta.get("vendor") or meta.get("brand", ""),
        category=meta.get("category", ""), tags=_values(raw.get("tags")),
        options=tuple({o.name: o for o in options}.values()),
        variants=(Variant(sku=sku, price=price.amount, line=1),) if has_variant else (),
        currency=meta.get("currency", "").upper() or price.currency or currency,
        attributes=tuple((k, v) for k, v in meta.items() if v and k not in _RECORD_KEYS and k != "currency"),
    )


def _values(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(dict.fromkeys(s for v in value if (s := flat(v))))
    return split_list(flat(value))


def _key_line(text: str, key: str) -> int:
    """The file line of a front-matter key, so a bad price names where to fix it."""
    match = re.search(rf"^{re.escape(key)}\s*:", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _plain_markdown(body: str, heading: str) -> str:
    """Markdown as clean text (answers quote it), without the title heading it starts with."""
    blocks = markdown_blocks(body, plain=not body.lstrip().startswith("#") and "\n#" not in body)
    if blocks and blocks[0].kind == "heading" and blocks[0].text == heading:
        blocks = blocks[1:]
    return blocks_to_text(blocks)


def _md_title(text: str) -> str:
    match = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _html_text(html: str) -> tuple[str, str]:
    """Visible text and the title (`<title>`, else the first `<h1>`)."""
    blocks = html_blocks(html)
    node = LexborHTMLParser(html).css_first("title")
    title = one_line(node.text()) if node is not None else ""
    heading = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    return blocks_to_text(blocks), title or heading
