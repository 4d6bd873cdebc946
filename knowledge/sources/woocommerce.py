"""WooCommerce product CSV export → ProductRecords.

simple/external products are one variant; grouped products none (they list other products); a variable
product's variants are its `variation` rows, found by `Parent` (`id:NNN` or the parent's SKU). On a
variation an empty attribute means "any value" and is left out of the variant's options.

Price = `Sale price` when set, else `Regular price` (then the "was" price). `In stock?` decides
availability ("backorder" counts as available); without it a `Stock` above 0 does. Drafts (-1), private
products (0) and products hidden from the catalogue are skipped. id = SKU, else `woo-<ID>`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

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
from knowledge.sources.html_text import looks_like_html
from knowledge.sources.prices import Price, parse_price
from knowledge.sources.records import Origin, ProductOption, ProductRecord, SourceError, SourceWarning, Variant

# Columns that are bookkeeping, not product facts; any other filled column (weight, dimensions,
# shipping class, purchase note, grouped products…) becomes a product attribute.
_GTIN = "gtin,upc,ean,orisbn"  # "GTIN, UPC, EAN, or ISBN" (WooCommerce 9.2+): the barcode
_KNOWN = frozenset({"id", "type", "sku", "name", "published", "isfeatured?", "visibilityincatalog",
                    "shortdescription", "description", "taxstatus", "taxclass", "instock?", "stock",
                    "lowstockamount", "backordersallowed?", "soldindividually?", "allowcustomerreviews?",
                    "saleprice", "regularprice", "categories", "tags", "images", "downloadlimit",
                    "downloadexpirydays", "parent", "upsells", "crosssells", "externalurl", "buttontext",
                    "position", "brands", "brand", _GTIN})
_KNOWN_PREFIX = re.compile(r"attribute\d|meta:|download\d")
_ATTRIBUTE = re.compile(r"attribute(\d+)name")


@dataclass(frozen=True, slots=True)
class _Parent:
    """A non-variation row, read; its variations are attached after the whole file is read."""

    record: ProductRecord  # without variants yet
    own: Variant | None  # the row's own price/stock: a simple product's only variant
    skipped: bool  # hidden or unpublished: its variations are dropped with it


def read_woocommerce(rows: Sequence[Cells], shown: str, fields: CatalogFields, currency: str) -> ProductsRead:
    warnings: list[SourceWarning] = []
    parents: list[_Parent] = []
    refs: dict[str, int] = {}  # `Parent` reference → index in parents
    url = tuple(norm(n) for n in fields.url)
    for cells in (c for c in rows if _type(c) != "variation"):
        refs.update(dict.fromkeys(_refs(cells), len(parents)))
        parents.append(_parent(cells, shown, url, currency, warnings))
    variations: dict[int, list[Variant]] = {}
    for cells in (c for c in rows if _type(c) == "variation"):
        ref = cells.get("parent")
        index = refs.get(ref, refs.get(ref.lower()))
        if index is None:
            raise SourceError(shown, cells.line, f"variation's parent {ref!r} is not in the file")
        if parents[index].skipped:
            continue  # the parent's own warning covers its variations
        if reason := _hidden(cells):
            warnings.append(SourceWarning("unpublished", shown, cells.line, f"variation skipped: {reason}"))
            continue
        variations.setdefault(index, []).append(_variant(cells, shown, currency, with_options=True))
    records = [_finish(p, variations.get(i, [])) for i, p in enumerate(parents) if not p.skipped]
    records = _with_members(records, [c for c in rows if _type(c) == "grouped"], parents, refs)
    return read_result(records, [product_document(r, record_metadata(r)) for r in records], warnings)


def _with_members(records: list[ProductRecord], grouped: list[Cells], parents: list[_Parent],
                  refs: dict[str, int]) -> list[ProductRecord]:
    """A grouped product's description names what it groups ("Includes: Hoodie with Logo, …"), so a
    shopper asking what is in it gets names, not the export's ids."""
    members: dict[str, list[str]] = {}  # grouped product id → member titles
    for cells in grouped:
        own = next((refs[r] for r in _refs(cells) if r in refs), None)
        titles = [parents[i].record.title for ref in split_list(cells.get("groupedproducts"), ",")
                  if (i := refs.get(ref, refs.get(ref.lower()))) is not None and not parents[i].skipped]
        if own is not None and titles:
            members[parents[own].record.id] = titles
    return [replace(r, description=f"Includes: {', '.join(members[r.id])}.\n\n{r.description}".strip())
            if r.id in members else r for r in records]


def _type(cells: Cells) -> str:
    """The main product type; "simple, downloadable, virtual" is simple."""
    types = split_list(cells.get("type").lower(), ",")
    return next((t for t in ("variation", "variable", "grouped", "external") if t in types), "simple")


def _refs(cells: Cells) -> list[str]:
    """How a variation may name this product in `Parent`: `id:NNN` or the SKU."""
    refs = [f"id:{cells.get('id')}"] if cells.get("id") else []
    return refs + ([cells.get("sku"), cells.get("sku").lower()] if cells.get("sku") else [])


def _hidden(cells: Cells) -> str:
    published = cells.get("published")
    if published == "-1":
        return "a draft"
    if published == "0":
        return "private (not published)"
    if cells.get("visibilityincatalog").lower() == "hidden":
        return "hidden from the catalogue"
    return ""


def _parent(cells: Cells, shown: str, url: tuple[str, ...], currency: str,
            warnings: list[SourceWarning]) -> _Parent:
    kind = _type(cells)
    title = one_line(cells.get("name"))
    description = "\n\n".join(_description(cells.get(n)) for n in ("shortdescription", "description")
                              if cells.get(n))
    own = _variant(cells, shown, currency, with_options=False)
    record = ProductRecord(
        id=cells.get("sku") or (f"woo-{cells.get('id')}" if cells.get("id") else f"{shown}:{cells.line}"),
        title=title, origin=Origin(shown, cells.line), description=description,
        url=cells.get("externalurl", *url), vendor=one_line(cells.get("brands", "brand")),
        category=leaf_categories(cells.get("categories")), tags=split_list(cells.get("tags"), ","),
        options=tuple(ProductOption(name, values) for name, values in _attribute_lists(cells) if values),
        currency=_currency(cells, shown, currency), attributes=_attributes(cells, url),
    )
    hidden = _hidden(cells)
    skipped = hidden or ("" if title or description else "it has no name and no description")
    if skipped:
        warnings.append(SourceWarning("unpublished" if hidden else "no_text", shown, cells.line,
                                      f"{title or record.id!r} skipped: {skipped}"))
    has_own = kind not in ("variable", "grouped") or own.price is not None
    return _Parent(record, own if has_own else None, bool(skipped))


def _finish(parent: _Parent, variations: list[Variant]) -> ProductRecord:
    variants = variations or ([parent.own] if parent.own else [])
    return replace(parent.record, variants=tuple(variants), options=_merge(parent.record.options, variations))


def _merge(options: tuple[ProductOption, ...], variants: list[Variant]) -> tuple[ProductOption, ...]:
    """The parent's options plus any value (or option) only a variation names."""
    merged = {o.name: list(o.values) for o in options}
    for variant in variants:
        for name, value in variant.options:
            values = merged.setdefault(name, [])
            if value not in values:
                values.append(value)
    return tuple(ProductOption(name, tuple(values)) for name, values in merged.items())


def _attribute_lists(cells: Cells) -> list[tuple[str, tuple[str, ...]]]:
    numbers = sorted(int(m.group(1)) for name in cells.values if (m := _ATTRIBUTE.fullmatch(name)))
    found = [(one_line(cells.get(f"attribute{n}name")), cells.get(f"attribute{n}value(s)")) for n in numbers]
    return [(name, split_list(values, ",")) for name, values in found if name]


def _variant(cells: Cells, shown: str, currency: str, with_options: bool) -> Variant:
    sale, regular = _price(cells, "saleprice", shown, currency), _price(cells, "regularprice", shown, currency)
    on_sale = sale.amount is not None
    stock = parse_count(cells.get("stock"), shown, cells.line, "stock")
    available = parse_flag(cells.get("instock?"))
    if available is None and stock is not None:
        available = stock > 0
    # A variation's attribute value is its option; empty means "any", so it is left out.
    options = tuple((name, values[0]) for name, values in _attribute_lists(cells) if len(values) == 1)
    return Variant(
        options=options if with_options else (), sku=cells.get("sku"),
        price=sale.amount if on_sale else regular.amount,
        compare_at_price=regular.amount if on_sale and regular.amount != sale.amount else None,
        stock=stock, available=available, barcode=cells.get(_GTIN), line=cells.line,
    )


def _price(cells: Cells, column: str, shown: str, currency: str) -> Price:
    what = "sale price" if column == "saleprice" else "price"
    return parse_price(cells.get(column), shown, cells.line, currency, what=what)


def _currency(cells: Cells, shown: str, currency: str) -> str:
    return (cells.get("currency").upper() or _price(cells, "saleprice", shown, currency).currency
            or _price(cells, "regularprice", shown, currency).currency or currency)


def _description(text: str) -> str:
    """WooCommerce writes line breaks as a literal `\\n`, and shows them as breaks even in HTML (wpautop)."""
    text = text.replace("\\n", "\n")
    return clean_text(text.replace("\n", "<br>") if looks_like_html(text) else text)


def _attributes(cells: Cells, url: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((cells.names[name], value) for name, value in cells.values.items()
                 if value and name not in _KNOWN and name not in url and name != "currency"
                 and not _KNOWN_PREFIX.match(name))
