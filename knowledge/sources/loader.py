"""Walks a source directory and loads every file through the ordinary importers.

Layout: `faq/` (FAQ entries; HTML/Markdown FAQ pages too), `past_questions/` (question,faq_id rows),
`products/` (catalog exports and product documents), `pages/` (store pages: shipping, returns,
privacy…). Lenient by default: a file or row that cannot be used is skipped with a warning naming file
and line; `strict` turns warnings into a failed build. Data that would be wrong (unparseable files,
bad encoding, duplicate ids, non-numeric prices) is always a SourceError.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from knowledge.sources.faq_loader import load_faq_file, load_past_questions_file
from knowledge.sources.html_text import blocks_to_text
from knowledge.sources.markdown_text import markdown_blocks
from knowledge.sources.pages import PAGE_SUFFIXES, load_page_file
from knowledge.sources.product_loader import CATALOG_SUFFIXES, DOC_SUFFIXES, CatalogFields, load_product_file
from knowledge.sources.records import (
    Document,
    FaqEntry,
    LoadedSources,
    PastQuestion,
    ProductRecord,
    SourceError,
    SourceFile,
    SourceWarning,
)

FAQ_TABLE_SUFFIXES = frozenset({".csv", ".json", ".jsonl", ".yaml", ".yml"})
FAQ_PAGE_SUFFIXES = frozenset({".html", ".htm"})
FAQ_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
PAST_SUFFIXES = frozenset({".csv", ".json", ".jsonl"})
KINDS = ("faq", "past_questions", "products", "pages")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    max_file_bytes: int = 50 * 1024 * 1024
    catalog_fields: CatalogFields = field(default_factory=CatalogFields)
    currency: str = ""  # the store's currency, used where the data names none
    strict: bool = False  # warnings fail the load


class _Collected:
    def __init__(self) -> None:
        self.faqs: list[FaqEntry] = []
        self.past: list[PastQuestion] = []
        self.documents: list[Document] = []
        self.products: list[ProductRecord] = []
        self.files: list[SourceFile] = []
        self.warnings: list[SourceWarning] = []


def load_sources(root: Path, options: LoadOptions = LoadOptions()) -> LoadedSources:
    if not root.is_dir():
        raise SourceError(str(root), None, "source directory does not exist")
    got = _Collected()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not _hidden(p, root)):
        shown = path.relative_to(root).as_posix()
        kind = shown.split("/", 1)[0] if "/" in shown else ""
        if kind not in KINDS:
            got.warnings.append(SourceWarning(
                "skipped_file", shown, None, f"skipped, not under {', '.join(k + '/' for k in KINDS)}"))
            continue
        records = _load_file(path, shown, kind, options, got)
        if records is not None:
            got.files.append(SourceFile(shown, kind, _sha256(path), records))
    if not got.faqs and not got.documents and not got.products:
        raise SourceError(str(root), None, "no FAQ entries, products or pages found in the source directory")
    if not got.faqs:
        got.warnings.append(SourceWarning("no_faq", "faq/", None, "no FAQ entries: questions are answered from "
                                          "products and pages only"))
    _check_ids(got.faqs, got.past, got.products)
    if options.strict and got.warnings:
        first = got.warnings[0]
        raise SourceError(first.path, first.line, f"{first.message} (--strict: {len(got.warnings)} warning(s) "
                          "fail the build)")
    return LoadedSources(tuple(got.faqs), tuple(got.past), tuple(got.documents), tuple(got.files),
                         tuple(got.warnings), tuple(got.products))


def _load_file(path: Path, shown: str, kind: str, options: LoadOptions, got: _Collected) -> int | None:
    """Loads one file into `got`; returns its record count, or None when the file was skipped."""
    suffix = path.suffix.lower()
    limit = options.max_file_bytes
    if kind == "past_questions" and suffix in PAST_SUFFIXES:
        past = load_past_questions_file(path, shown, limit)
        got.past.extend(past)
        return len(past)
    if kind == "faq" and suffix in FAQ_TABLE_SUFFIXES | FAQ_MARKDOWN_SUFFIXES:
        faqs = load_faq_file(path, shown, limit)
        if suffix in FAQ_MARKDOWN_SUFFIXES:  # answers are shown as plain text on every platform
            faqs = [replace(f, answer=blocks_to_text(markdown_blocks(f.answer)) or f.answer) for f in faqs]
        if not faqs:
            got.warnings.append(SourceWarning("no_entries", shown, None, "no FAQ entries found (a Markdown FAQ "
                                              "needs question headings; a table needs question,answer rows)"))
        got.faqs.extend(faqs)
        return len(faqs)
    if (kind == "faq" and suffix in FAQ_PAGE_SUFFIXES) or (kind == "pages" and suffix in PAGE_SUFFIXES):
        pages = load_page_file(path, shown, limit)
        got.faqs.extend(pages.faqs)
        got.documents.extend(pages.documents)
        got.warnings.extend(pages.warnings)
        return len(pages.faqs) + len(pages.documents)
    if kind == "products" and suffix in DOC_SUFFIXES | CATALOG_SUFFIXES:
        read = load_product_file(path, shown, limit, options.catalog_fields, options.currency)
        got.products.extend(read.products)
        got.documents.extend(read.documents)
        got.warnings.extend(read.warnings)
        return len(read.products)
    got.warnings.append(SourceWarning("skipped_file", shown, None,
                                      f"skipped, unknown file type {path.suffix or '(none)'!r} for {kind}/"))
    return None


def warning_counts(warnings: tuple[SourceWarning, ...] | list[SourceWarning]) -> dict[str, int]:
    return dict(Counter(w.kind for w in warnings))


def warning_examples(warnings: tuple[SourceWarning, ...] | list[SourceWarning], per_kind: int) -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for warning in warnings:
        shown = examples.setdefault(warning.kind, [])
        if len(shown) < per_kind:
            shown.append(str(warning))
    return examples


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _check_ids(faqs: list[FaqEntry], past: list[PastQuestion], products: list[ProductRecord]) -> None:
    seen: dict[str, FaqEntry] = {}
    for entry in faqs:
        first = seen.setdefault(entry.id, entry)
        if first is not entry:
            raise SourceError(
                entry.origin.path, entry.origin.line,
                f"duplicate FAQ id {entry.id!r} (first at {first.origin.path}:{first.origin.line})",
            )
    for question in past:
        if question.faq_id not in seen:
            raise SourceError(
                question.origin.path, question.origin.line, f"unknown FAQ id {question.faq_id!r}"
            )
    products_seen: dict[str, ProductRecord] = {}
    for product in products:
        first_product = products_seen.setdefault(product.id, product)
        if first_product is not product:
            raise SourceError(
                product.origin.path, product.origin.line,
                f"duplicate product id {product.id!r} (first at {first_product.origin.path}:"
                f"{first_product.origin.line})",
            )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
