"""Generic catalogs (any CSV/JSON/JSONL with a row per product) → ProductRecords.

Columns are found by loose name (case, spaces, `_` and `-` ignored): title/id/url/text by CatalogFields;
`price` → one variant; `sku`, `stock`/`quantity`/`inventory`, `currency`, `category`/`type`,
`vendor`/`brand`, `tags`; option words (size, colour…) listed `a|b|c` (or `a, b`) → options on the
record, without per-variant combinations. Every other filled column is a named attribute.
`Document.metadata` keeps every filled column that is not text, title or URL, under its header as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.sources.catalog import (
    CatalogFields,
    Cells,
    ProductsRead,
    clean_text,
    leaf_categories,
    norm,
    one_line,
    parse_count,
    parse_flag,
    product_document,
    read_result,
    split_list,
)
from knowledge.sources.prices import parse_price
from knowledge.sources.records import Document, Origin, ProductOption, ProductRecord, SourceWarning, Variant

_PRICE = ("price",)
_COMPARE = ("compareatprice", "wasprice", "listprice")
_SKU = ("sku",)
_STOCK = ("stock", "quantity", "qty", "inventory")
_AVAILABLE = ("available", "availability", "instock")
_CURRENCY = ("currency",)
_CATEGORY = ("category", "categories", "type", "producttype")
_VENDOR = ("vendor", "brand")
_TAGS = ("tags",)
# Columns whose values are a product's choices; a small explicit list so "material" stays an attribute.
_OPTION_WORDS = {"size": "Size", "sizes": "Size", "color": "Color", "colors": "Color", "colour": "Colour",
                 "colours": "Colour", "style": "Style", "styles": "Style", "width": "Width", "widths": "Width",
                 "length": "Length", "lengths": "Length", "flavor": "Flavor", "flavors": "Flavor",
                 "flavour": "Flavour", "flavours": "Flavour"}
_COUNT = re.compile(r"[+-]?\d+(?:\.0*)?")
_FACTS = frozenset({*_PRICE, *_COMPARE, *_SKU, *_STOCK, *_AVAILABLE, *_CURRENCY, *_CATEGORY, *_VENDOR, *_TAGS,
                    *_OPTION_WORDS})


@dataclass(frozen=True, slots=True)
class _Names:
    """The configured CatalogFields, normalised."""

    text: tuple[str, ...]
    title: tuple[str, ...]
    id: tuple[str, ...]
    url: tuple[str, ...]

    @classmethod
    def of(cls, fields: CatalogFields) -> _Names:
        return cls(*(tuple(dict.fromkeys(norm(n) for n in names))
                     for names in (fields.text, fields.title, fields.id, fields.url)))


def read_generic(rows: Sequence[Cells], shown: str, fields: CatalogFields, currency: str) -> ProductsRead:
    names = _Names.of(fields)
    records: list[ProductRecord] = []
    documents: list[Document] = []
    warnings: list[SourceWarning] = []
    for cells in rows:
        text = "\n".join(clean_text(cells.values[n]) for n in names.text if cells.values.get(n))
        title = one_line(cells.get(*names.title))
        if not text and not title:
            warnings.append(SourceWarning("no_text", shown, cells.line, "row skipped: no title and no text "
                                          f"(looked for {', '.join(fields.title + fields.text)})"))
            continue
        record = _record(cells, shown, names, currency, title, text)
        records.append(record)
        skip = {*names.text, *names.title, *names.url}
        metadata = {cells.names[n]: v for n, v in cells.values.items() if n not in skip and v}
        documents.append(product_document(record, metadata))
    return read_result(records, documents, warnings)


def _record(cells: Cells, shown: str, names: _Names, currency: str, title: str, text: str) -> ProductRecord:
    line = cells.line
    price = parse_price(cells.get(*_PRICE), shown, line, currency)
    compare = parse_price(cells.get(*_COMPARE), shown, line, currency, what="compare-at price")
    stock, available = _stock(cells, shown, line)
    sku = cells.get(*_SKU)
    has_variant = price.amount is not None or sku or stock is not None or available is not None
    variant = Variant(sku=sku, price=price.amount, compare_at_price=compare.amount, stock=stock,
                      available=available, line=line)
    used = {*names.text, *names.title, *names.url, *names.id, *_FACTS}
    return ProductRecord(
        id=cells.get(*names.id) or f"{shown}:{line}", title=title, origin=Origin(shown, line),
        description=text, url=cells.get(*names.url), vendor=one_line(cells.get(*_VENDOR)),
        category=leaf_categories(cells.get(*_CATEGORY)), tags=split_list(cells.get(*_TAGS)),
        options=_options(cells), variants=(variant,) if has_variant else (),
        currency=cells.get(*_CURRENCY).upper() or price.currency or currency,
        attributes=tuple((cells.names[n], v) for n, v in cells.values.items() if v and n not in used),
    )


def _stock(cells: Cells, shown: str, line: int) -> tuple[int | None, bool | None]:
    """Units on hand and availability: an availability column, else stock above 0."""
    cell = cells.get(*_STOCK)
    available = parse_flag(cells.get(*_AVAILABLE))
    flag = parse_flag(cell)
    if flag is not None and not _COUNT.fullmatch(cell):  # "in stock" / "sold out": no count given
        return None, flag if available is None else available
    stock = parse_count(cell, shown, line, "stock")
    if available is None and stock is not None:
        available = stock > 0
    return stock, available


def _options(cells: Cells) -> tuple[ProductOption, ...]:
    found: dict[str, tuple[str, ...]] = {}
    for column, value in cells.values.items():  # in the file's column order
        name = _OPTION_WORDS.get(column, "")
        if name and name not in found and (values := split_list(value)):
            found[name] = values
    return tuple(ProductOption(name, values) for name, values in found.items())
