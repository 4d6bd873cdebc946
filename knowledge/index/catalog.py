"""The product records of one knowledge-base version: saved beside its index, loaded with it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from knowledge.sources.records import Origin, ProductOption, ProductRecord, Variant

PRODUCTS_FILE = "products.jsonl"


def save_products(directory: Path, products: Iterable[ProductRecord]) -> None:
    with (directory / PRODUCTS_FILE).open("w", encoding="utf-8") as out:
        for product in products:
            out.write(json.dumps(_to_json(product), ensure_ascii=False) + "\n")


def load_products(directory: Path) -> tuple[ProductRecord, ...]:
    path = directory / PRODUCTS_FILE
    if not path.is_file():  # a version built before product records existed
        return ()
    with path.open(encoding="utf-8") as lines:
        return tuple(_from_json(json.loads(line)) for line in lines if line.strip())


class Catalog:
    """Product records by id and by SKU."""

    def __init__(self, products: tuple[ProductRecord, ...]) -> None:
        self.products = products
        self._by_id = {p.id: p for p in products}
        self._by_sku = {v.sku.lower(): p for p in products for v in p.variants if v.sku}

    def __len__(self) -> int:
        return len(self.products)

    def __iter__(self) -> Iterator[ProductRecord]:
        return iter(self.products)

    def get(self, product_id: str) -> ProductRecord | None:
        return self._by_id.get(product_id)

    def by_sku(self, sku: str) -> ProductRecord | None:
        return self._by_sku.get(sku.lower())


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _to_json(p: ProductRecord) -> dict[str, Any]:
    return {
        "id": p.id, "title": p.title, "origin": [p.origin.path, p.origin.line], "description": p.description,
        "url": p.url, "vendor": p.vendor, "category": p.category, "tags": list(p.tags),
        "options": [[o.name, list(o.values)] for o in p.options],
        "variants": [
            {"options": [list(pair) for pair in v.options], "sku": v.sku, "price": _money(v.price),
             "compare_at_price": _money(v.compare_at_price), "stock": v.stock, "available": v.available,
             "barcode": v.barcode, "grams": v.grams, "line": v.line}
            for v in p.variants
        ],
        "currency": p.currency, "attributes": [list(pair) for pair in p.attributes],
    }


def _from_json(raw: dict[str, Any]) -> ProductRecord:
    return ProductRecord(
        id=raw["id"], title=raw["title"], origin=Origin(raw["origin"][0], int(raw["origin"][1])),
        description=raw["description"], url=raw["url"], vendor=raw["vendor"], category=raw["category"],
        tags=tuple(raw["tags"]),
        options=tuple(ProductOption(name, tuple(values)) for name, values in raw["options"]),
        variants=tuple(
            Variant(options=tuple((a, b) for a, b in v["options"]), sku=v["sku"], price=_decimal(v["price"]),
                    compare_at_price=_decimal(v["compare_at_price"]), stock=v["stock"], available=v["available"],
                    barcode=v["barcode"], grams=v["grams"], line=v["line"])
            for v in raw["variants"]
        ),
        currency=raw["currency"], attributes=tuple((a, b) for a, b in raw["attributes"]),
    )
