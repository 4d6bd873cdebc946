"""Typed records the loaders produce, and the one error they raise."""

from __future__ import annotations

from dataclasses import dataclass, field


class SourceError(Exception):
    """A knowledge source file cannot be used; names the file and line so ops can fix it."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


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
class ProductDoc:
    """One product document or catalog row; `metadata` holds the non-text fields (sku, price...)."""

    id: str
    title: str
    text: str
    origin: Origin
    url: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    kind: str  # "faq" | "past_questions" | "products"
    sha256: str
    records: int


@dataclass(frozen=True, slots=True)
class LoadedSources:
    faqs: tuple[FaqEntry, ...]
    past_questions: tuple[PastQuestion, ...]
    products: tuple[ProductDoc, ...]
    files: tuple[SourceFile, ...]
    warnings: tuple[str, ...] = ()
