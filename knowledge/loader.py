"""Walks a source directory and loads every file through the ordinary loaders.

Layout: `faq/` (FAQ entries), `past_questions/` (question,faq_id rows), `products/` (documents and
catalogs). Unknown file types are skipped with a warning; anything malformed is a SourceError.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.faq_loader import load_faq_file, load_past_questions_file
from knowledge.product_loader import CATALOG_SUFFIXES, DOC_SUFFIXES, CatalogFields, load_product_file
from knowledge.records import FaqEntry, LoadedSources, PastQuestion, ProductDoc, SourceError, SourceFile

FAQ_SUFFIXES = frozenset({".csv", ".json", ".jsonl", ".yaml", ".yml", ".md"})
PAST_SUFFIXES = frozenset({".csv", ".json", ".jsonl"})
KINDS = ("faq", "past_questions", "products")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    max_file_bytes: int = 50 * 1024 * 1024
    catalog_fields: CatalogFields = field(default_factory=CatalogFields)


def load_sources(root: Path, options: LoadOptions = LoadOptions()) -> LoadedSources:
    if not root.is_dir():
        raise SourceError(str(root), None, "source directory does not exist")
    faqs: list[FaqEntry] = []
    past: list[PastQuestion] = []
    products: list[ProductDoc] = []
    files: list[SourceFile] = []
    warnings: list[str] = []
    loaders: dict[str, tuple[frozenset[str], Callable[[Path, str], Sequence[Any]], list[Any]]] = {
        "faq": (FAQ_SUFFIXES, lambda p, s: load_faq_file(p, s, options.max_file_bytes), faqs),
        "past_questions": (
            PAST_SUFFIXES, lambda p, s: load_past_questions_file(p, s, options.max_file_bytes), past
        ),
        "products": (
            DOC_SUFFIXES | CATALOG_SUFFIXES,
            lambda p, s: load_product_file(p, s, options.max_file_bytes, options.catalog_fields),
            products,
        ),
    }
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not _hidden(p, root)):
        shown = path.relative_to(root).as_posix()
        kind = shown.split("/", 1)[0] if "/" in shown else ""
        if kind not in loaders:
            warnings.append(f"{shown}: skipped, not under {', '.join(k + '/' for k in KINDS)}")
            continue
        suffixes, load, sink = loaders[kind]
        if path.suffix.lower() not in suffixes:
            warnings.append(f"{shown}: skipped, unknown file type {path.suffix or '(none)'!r} for {kind}/")
            continue
        records = load(path, shown)
        sink.extend(records)
        files.append(SourceFile(shown, kind, _sha256(path), len(records)))
    if not faqs and not products:
        raise SourceError(str(root), None, "no FAQ entries or product documents found in the source directory")
    _check_ids(faqs, past)
    return LoadedSources(tuple(faqs), tuple(past), tuple(products), tuple(files), tuple(warnings))


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _check_ids(faqs: list[FaqEntry], past: list[PastQuestion]) -> None:
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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
