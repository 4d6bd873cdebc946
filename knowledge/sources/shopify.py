"""Shopify product CSV export → ProductRecords.

Rows are grouped by Handle (first-seen order, rows of a handle may be apart). Product fields (Title,
Body, Vendor, Type, Tags, option names) come from the first row that has them; every row with variant
data is a variant; rows with only an image are Shopify's way of listing extra images and are skipped.

Availability: "continue" selling when out of stock → available; inventory not tracked (empty tracker) →
available, stock unknown (Shopify sells untracked variants regardless); tracked → available when the
quantity is above 0. Without a tracker column a quantity alone decides; with neither it is unknown.
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
    record_metadata,
    split_list,
)
from knowledge.sources.prices import parse_price
from knowledge.sources.records import Origin, ProductOption, ProductRecord, SourceError, SourceWarning, Variant

# Column names, normalised; the second spelling is Shopify's newer (2024) export template.
_HANDLE = ("handle", "urlhandle")
_BODY = ("body(html)", "description")
_PRICE = ("variantprice", "price")
_COMPARE = ("variantcompareatprice", "compareatprice")
_SKU = ("variantsku", "sku")
_QTY = ("variantinventoryqty", "inventoryquantity")
_TRACKER = ("variantinventorytracker", "inventorytracker")
_POLICY = ("variantinventorypolicy", "continuesellingwhenoutofstock")
_BARCODE = ("variantbarcode", "barcode")
_GRAMS = ("variantgrams", "weightvalue(grams)")
_PUBLISHED = ("published", "publishedononlinestore")
_OPTIONS = (1, 2, 3)
_VARIANT_DATA = (*_PRICE, *_COMPARE, *_SKU, *_QTY, *_BARCODE, *(f"option{i}value" for i in _OPTIONS))
_PRODUCT_DATA = ("title", *_BODY, "vendor", "type", "tags")
# Standard columns that are not product facts (images, SEO, tax, per-market prices…); any other column
# (metafields, custom columns) becomes a product attribute.
_KNOWN = frozenset({*_HANDLE, *_BODY, *_PUBLISHED, *_PRODUCT_DATA, "productcategory", "status", "giftcard",
                    "costperitem", "sku", "barcode", "price", "compareatprice", "inventorytracker",
                    "inventoryquantity", "continuesellingwhenoutofstock", "weightvalue(grams)",
                    "weightunitfordisplay", "requiresshipping", "fulfillmentservice", "productimageurl",
                    "chargetax", "taxcode"})
_KNOWN_PREFIXES = ("variant", "option", "image", "seo", "googleshopping", "price/", "compareatprice/",
                   "included/", "unitprice")
_METAFIELD = re.compile(r"\s*\((?:product|variant)\.metafields\.[^)]*\)")


@dataclass(frozen=True, slots=True)
class _Context:
    shown: str
    currency: str
    url: tuple[str, ...]  # the configured URL columns, normalised
    tracked_column: bool  # the export has an inventory-tracker column


def read_shopify(rows: Sequence[Cells], shown: str, fields: CatalogFields, currency: str) -> ProductsRead:
    groups: dict[str, list[Cells]] = {}
    warnings: list[SourceWarning] = []
    for cells in rows:
        handle = cells.get(*_HANDLE)
        if handle:
            groups.setdefault(handle, []).append(cells)
        else:
            warnings.append(SourceWarning("empty_row", shown, cells.line, "row without a Handle skipped"))
    ctx = _Context(shown, currency, tuple(norm(n) for n in fields.url), any(cells.has(*_TRACKER) for cells in rows))
    records = [r for handle, group in groups.items() if (r := _product(handle, group, ctx, warnings))]
    return read_result(records, [product_document(r, record_metadata(r)) for r in records], warnings)


def _first(group: Sequence[Cells], *names: str) -> str:
    return next((value for cells in group if (value := cells.get(*names))), "")


def _product(handle: str, group: list[Cells], ctx: _Context, warnings: list[SourceWarning]) -> ProductRecord | None:
    title, body = one_line(_first(group, "title")), _first(group, *_BODY)
    head = next((c.line for c in group if any(c.get(n) for n in (*_PRODUCT_DATA, *_VARIANT_DATA))), group[0].line)
    skipped = _unpublished(group)
    if skipped:
        warnings.append(SourceWarning("unpublished", ctx.shown, head, f"{title or handle!r} skipped: {skipped}"))
        return None
    if not title and not body:
        warnings.append(SourceWarning("no_text", ctx.shown, head,
                                      f"product {handle!r} has no Title and no Body (HTML); skipped"))
        return None
    options = _options(group)
    variants, currency = _variants(handle, group, options, ctx, warnings)
    return ProductRecord(
        id=handle, title=title or handle.replace("-", " "), origin=Origin(ctx.shown, head),
        description=clean_text(body), url=_first(group, *ctx.url), vendor=one_line(_first(group, "vendor")),
        category=_first(group, "type") or leaf_categories(_first(group, "productcategory")),
        tags=split_list(_first(group, "tags"), ","), options=tuple(o for _, o in options), variants=variants,
        currency=currency or ctx.currency, attributes=_attributes(group, ctx.url),
    )


def _variants(handle: str, group: list[Cells], options: Sequence[tuple[int, ProductOption]], ctx: _Context,
              warnings: list[SourceWarning]) -> tuple[tuple[Variant, ...], str]:
    """The product's variants and the currency their prices name ("" when none does)."""
    variants: list[Variant] = []
    firsts: dict[tuple[tuple[str, str], ...], int] = {}
    currencies: list[str] = []
    for cells in group:
        if not any(cells.get(n) for n in _VARIANT_DATA):
            if not any(cells.get(n) for n in _PRODUCT_DATA):
                warnings.append(_extra_row(handle, cells, ctx.shown))
            continue
        variant, currency = _variant(cells, options, ctx)
        first = firsts.setdefault(variant.options, cells.line)
        if first != cells.line:  # two rows for one option combination: which price is right?
            named = ", ".join(f"{n}={v}" for n, v in variant.options) or "(no options)"
            raise SourceError(ctx.shown, cells.line,
                              f"duplicate variant {named} of {handle!r} (first at {ctx.shown}:{first})")
        variants.append(variant)
        currencies.append(currency)
    return tuple(variants), next((c for c in currencies if c), "")


def _unpublished(group: Sequence[Cells]) -> str:
    status = _first(group, "status").lower()
    if status in ("draft", "archived"):
        return f"status {status}"
    if parse_flag(_first(group, *_PUBLISHED)) is False:
        return "not published"
    return ""


def _options(group: Sequence[Cells]) -> list[tuple[int, ProductOption]]:
    """Real options with their column number. `Title` = `Default Title` is Shopify's "no options"."""
    found: list[tuple[int, ProductOption]] = []
    for i in _OPTIONS:
        values = tuple(dict.fromkeys(v for cells in group if (v := cells.get(f"option{i}value"))))
        name = one_line(_first(group, f"option{i}name")) or f"Option {i}"
        if values and not (name.lower() == "title" and values == ("Default Title",)):
            found.append((i, ProductOption(name, values)))
    return found


def _variant(cells: Cells, options: Sequence[tuple[int, ProductOption]], ctx: _Context) -> tuple[Variant, str]:
    shown, line = ctx.shown, cells.line
    price = parse_price(cells.get(*_PRICE), shown, line, ctx.currency)
    compare = parse_price(cells.get(*_COMPARE), shown, line, ctx.currency, what="compare-at price").amount
    # Shopify shows a compare-at price only when it is above the price.
    was = compare if compare is not None and price.amount is not None and compare > price.amount else None
    stock, available = _stock(cells, ctx)
    grams = parse_count(cells.get(*_GRAMS), shown, line, "weight in grams")
    variant = Variant(
        options=tuple((o.name, v) for i, o in options if (v := cells.get(f"option{i}value"))),
        sku=cells.get(*_SKU), price=price.amount, compare_at_price=was, stock=stock, available=available,
        barcode=cells.get(*_BARCODE), grams=grams or None,  # 0 g is "not set" in exports
        line=line,
    )
    return variant, price.currency


def _stock(cells: Cells, ctx: _Context) -> tuple[int | None, bool | None]:
    qty = parse_count(cells.get(*_QTY), ctx.shown, cells.line, "inventory quantity")
    policy = cells.get(*_POLICY).lower()
    keeps_selling = policy == "continue" or parse_flag(policy) is True
    if ctx.tracked_column and not cells.get(*_TRACKER):
        return None, True  # not tracked: Shopify keeps selling it
    if keeps_selling:
        return qty, True
    return qty, (qty > 0) if qty is not None else None


def _extra_row(handle: str, cells: Cells, shown: str) -> SourceWarning:
    if cells.get("imagesrc", "productimageurl"):
        return SourceWarning("image_only_row", shown, cells.line,
                             f"extra image of {handle!r} (no variant data), not a product: skipped")
    return SourceWarning("empty_row", shown, cells.line, f"row of {handle!r} without product or variant data skipped")


def _attributes(group: Sequence[Cells], url: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Non-standard columns (metafields, custom columns) as named facts, first filled value per product."""
    found: dict[str, str] = {}
    for cells in group:
        for name, value in cells.values.items():
            if value and name not in _KNOWN and name not in url and not name.startswith(_KNOWN_PREFIXES):
                found.setdefault(_METAFIELD.sub("", cells.names[name]).strip(), value)
    return tuple(found.items())
