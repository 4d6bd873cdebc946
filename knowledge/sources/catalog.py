"""What every catalog importer shares: column lookup by loose name, list and number cells, clean text,
the Document a product is indexed as, and the duplicate-id check."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from knowledge.sources.html_text import html_to_text, looks_like_html
from knowledge.sources.records import Document, ProductOption, ProductRecord, SourceError, SourceWarning


@dataclass(frozen=True, slots=True)
class CatalogFields:
    """Which generic-catalog columns are text (joined into the document), name the product, id it and
    link to it. Matched case-insensitively, ignoring spaces, `_` and `-`."""

    text: tuple[str, ...] = ("text", "description", "body", "content", "details", "features")
    title: tuple[str, ...] = ("title", "name", "product_name")
    id: tuple[str, ...] = ("id", "sku", "product_id")
    url: tuple[str, ...] = ("url", "link")


@dataclass(frozen=True, slots=True)
class ProductsRead:
    products: tuple[ProductRecord, ...]
    documents: tuple[Document, ...]  # one per product: its text to index
    warnings: tuple[SourceWarning, ...]


@functools.lru_cache(maxsize=4096)  # a file repeats its few column names on every row
def norm(name: str) -> str:
    """A column name as matched: "Variant SKU", "variant_sku" and "VARIANT-SKU" are one column."""
    return re.sub(r"[\s_\-]+", "", name).lower()


def flat(value: Any) -> str:
    """A cell as text; a JSON list becomes one item per line."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(flat(v) for v in value)
    return str(value).strip()


@dataclass(frozen=True, slots=True)
class Cells:
    """One row, looked up by normalised column name. `names` maps those back to the header as written."""

    line: int
    values: dict[str, str]
    names: dict[str, str]
    raw: dict[str, Any]

    @classmethod
    def of(cls, line: int, row: dict[str, Any]) -> Cells:
        values: dict[str, str] = {}
        names: dict[str, str] = {}
        raw: dict[str, Any] = {}
        for key, value in row.items():
            if key is None:
                continue
            name = norm(str(key))
            if name not in names:  # "Title" and "title" in one header: the first wins
                names[name], values[name], raw[name] = str(key), flat(value), value
        return cls(line, values, names, raw)

    def get(self, *names: str) -> str:
        """The first filled cell among `names` (normalised), or ""."""
        return next((self.values[n] for n in names if self.values.get(n)), "")

    def has(self, *names: str) -> bool:
        return any(n in self.values for n in names)


def columns_of(rows: Sequence[Cells]) -> set[str]:
    return {name for cells in rows for name in cells.values}


def detect_format(columns: set[str]) -> str:
    """The export's layout ("shopify", "woocommerce" or "generic"), by its columns only, never its file name."""
    if columns & {"handle", "urlhandle"} and columns & {"title", "body(html)", "variantprice"}:
        return "shopify"
    if {"type", "name"} <= columns and columns & {"regularprice", "parent"}:
        return "woocommerce"
    return "generic"


def split_list(text: str, separators: str = "|,") -> tuple[str, ...]:
    """Items of a list cell, split on the first separator present ("a|b", else "a, b"); `\\,` (WooCommerce's
    escaped comma) stays in the item. Empty and repeated items are dropped."""
    separator = next((s for s in separators if s in text), "")
    if not separator:
        parts = text.splitlines()  # a JSON list arrives one item per line (see `flat`)
    else:
        parts = [p.replace("\\" + separator, separator) for p in re.split(rf"(?<!\\){re.escape(separator)}", text)]
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def clean_text(text: str) -> str:
    """Plain text of a description: HTML through the real parser; plain text only trimmed (kept as written)."""
    return html_to_text(text) if looks_like_html(text) else text.strip()


def one_line(text: str) -> str:
    """Titles and names with runs of whitespace collapsed ("Frankie  Sweatshirt" → "Frankie Sweatshirt")."""
    return " ".join(text.split())


def parse_count(raw: str, shown: str, line: int, what: str) -> int | None:
    """A whole number ("100", "100.0"); empty → None; anything else is a SourceError."""
    text = raw.strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise SourceError(shown, line, f"{what} {raw!r} is not a whole number") from None
    if number != number.to_integral_value():
        raise SourceError(shown, line, f"{what} {raw!r} is not a whole number")
    return int(number)


_TRUE = frozenset({"1", "true", "yes", "y", "instock", "available", "onbackorder", "backorder"})
_FALSE = frozenset({"0", "false", "no", "n", "outofstock", "soldout", "unavailable"})


def parse_flag(raw: str) -> bool | None:
    """Yes/no cells ("1", "TRUE", "in stock", "out of stock"…); None when the cell says neither."""
    text = norm(raw)
    return True if text in _TRUE else False if text in _FALSE else None


def leaf_categories(text: str) -> str:
    """"Clothing > Tshirts, Music" → "Tshirts, Music": the most specific name of each category path."""
    return ", ".join(dict.fromkeys(path.rsplit(">", 1)[-1].strip() for path in split_list(text, ",")))


def fact_line(title: str, category: str, options: Iterable[ProductOption]) -> str:
    """Text for a product without a description, so it can still be found: "Mug. Category: kitchen. …"."""
    parts = [title.rstrip(".") + "."] if title else []
    if category:
        parts.append(f"Category: {category}.")
    parts.extend(f"{o.name}: {', '.join(o.values)}." for o in options if o.values)
    return " ".join(parts)


def record_metadata(record: ProductRecord) -> dict[str, str]:
    """Flat fields of a shop-export product for the index: category, vendor, tags, one price/SKU."""
    meta = {"category": record.category, "vendor": record.vendor, "tags": ", ".join(record.tags),
            "currency": record.currency}
    prices = {v.price for v in record.variants if v.price is not None}
    if len(prices) == 1:  # one price for every variant: a fact worth indexing
        meta["price"] = str(prices.pop())
    if len(record.variants) == 1:
        meta["sku"] = record.variants[0].sku
    meta.update(record.attributes)
    return {k: v for k, v in meta.items() if v}


def product_document(record: ProductRecord, metadata: dict[str, str]) -> Document:
    text = record.description or fact_line(record.title, record.category, record.options)
    return Document(id=record.id, title=record.title, text=text, origin=record.origin, url=record.url,
                    metadata=metadata, kind="product", product_id=record.id)


def check_unique_ids(records: Iterable[ProductRecord]) -> None:
    """Two products with one id in a file would answer for each other: the build fails instead."""
    seen: dict[str, ProductRecord] = {}
    for record in records:
        first = seen.setdefault(record.id, record)
        if first is not record:
            raise SourceError(record.origin.path, record.origin.line,
                              f"duplicate product id {record.id!r} (first at {first.origin.path}:{first.origin.line})")


def read_result(records: Sequence[ProductRecord], documents: Sequence[Document],
                warnings: Sequence[SourceWarning]) -> ProductsRead:
    check_unique_ids(records)
    return ProductsRead(tuple(records), tuple(documents), tuple(warnings))
