"""Typed records the loaders produce, and the one error they raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


class SourceError(Exception):
    """A knowledge source file cannot be used; names the file and line so ops can fix it."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class SourceWarning:
    """A row or file that was skipped (or read with a caveat); `--strict` turns these into errors.

    `kind` groups warnings in the build summary: "empty_row", "image_only_row", "no_text", "empty_file",
    "no_entries", "skipped_file", ...
    """

    kind: str
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from: file path (relative to the source root) and 1-based line."""

    path: str
    line: int


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    origin: Origin
    alternates: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    url: str = ""


@dataclass(frozen=True, slots=True)
class PastQuestion:
    """A question a shopper asked before, matched to the FAQ entry that answered it.

    Used only to find the entry (as an extra phrasing); never shown as an answer.
    """

    question: str
    faq_id: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class Document:
    """Text to index: a product's description (`kind="product"`, `product_id` set) or a section of a
    store page such as shipping or returns (`kind="page"`). `metadata` holds flat extra fields."""

    id: str
    title: str
    text: str
    origin: Origin
    url: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    kind: str = "product"  # "product" | "page"
    product_id: str = ""  # the ProductRecord this text describes


@dataclass(frozen=True, slots=True)
class ProductOption:
    name: str  # "Size", "Color"
    values: tuple[str, ...]  # in the order the store lists them


@dataclass(frozen=True, slots=True)
class Variant:
    """One buyable variant. `options` pairs option names with this variant's values, in option order."""

    options: tuple[tuple[str, str], ...] = ()
    sku: str = ""
    price: Decimal | None = None
    compare_at_price: Decimal | None = None  # the "was" price when on sale
    stock: int | None = None  # units on hand; None when the store does not track it
    available: bool | None = None  # None: the data does not say
    barcode: str = ""
    grams: int | None = None
    line: int = 0  # the row it came from


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """A product as facts: what answers state prices, options, SKUs and stock from."""

    id: str  # handle, SKU or the export's id: unique within a build
    title: str
    origin: Origin
    description: str = ""  # clean text, no markup
    url: str = ""
    vendor: str = ""
    category: str = ""  # product type or categories
    tags: tuple[str, ...] = ()
    options: tuple[ProductOption, ...] = ()
    variants: tuple[Variant, ...] = ()
    currency: str = ""  # ISO code from the data, else the store's setting; "" when unknown
    attributes: tuple[tuple[str, str], ...] = ()  # other named facts from the export (material, weight…)

    def price_range(self) -> tuple[Decimal, Decimal] | None:
        prices = [v.price for v in self.variants if v.price is not None]
        return (min(prices), max(prices)) if prices else None


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    kind: str  # "faq" | "past_questions" | "products" | "pages"
    sha256: str
    records: int


@dataclass(frozen=True, slots=True)
class LoadedSources:
    faqs: tuple[FaqEntry, ...]
    past_questions: tuple[PastQuestion, ...]
    documents: tuple[Document, ...]
    files: tuple[SourceFile, ...]
    warnings: tuple[SourceWarning, ...] = ()
    products: tuple[ProductRecord, ...] = ()
