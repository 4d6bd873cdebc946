"""Retrieval quality on labelled question sets (the formats of the public eval data).

The data are staged into an ordinary source directory and built through the normal loaders;
nothing here knows the data sets beyond their documented file formats.
"""

from __future__ import annotations

import csv
import json
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from knowledge.index.retrieval import Passage

Search = Callable[[str, int], list[Passage]]


@dataclass(frozen=True, slots=True)
class EvalResult:
    name: str
    figures: dict[str, float]


def stage_store_faq(data_dir: Path, target: Path, with_history: bool) -> Path:
    (target / "faq").mkdir(parents=True)
    shutil.copy(data_dir / "faq.csv", target / "faq" / "faq.csv")
    if with_history:
        (target / "past_questions").mkdir()
        shutil.copy(data_dir / "history.csv", target / "past_questions" / "history.csv")
    return target


def stage_product_qa(data_dir: Path, target: Path) -> Path:
    (target / "products").mkdir(parents=True)
    shutil.copy(data_dir / "passages.jsonl", target / "products" / "passages.jsonl")
    return target


def rank_figures(ranks: list[int | None]) -> dict[str, float]:
    """hit@1, hit@5 and MRR@10 from the 0-based rank of the first correct hit (None: not in 10)."""
    n = len(ranks) or 1
    return {
        "hit@1": sum(r == 0 for r in ranks) / n,
        "hit@5": sum(r is not None and r < 5 for r in ranks) / n,
        "mrr@10": sum(1 / (r + 1) for r in ranks if r is not None and r < 10) / n,
    }


def _timed(search: Search, query: str) -> tuple[list[Passage], float]:
    started = time.perf_counter()
    passages = search(query, 10)
    return passages, (time.perf_counter() - started) * 1000


def evaluate_store_faq(search: Search, data_dir: Path) -> dict[str, float]:
    with (data_dir / "queries.csv").open(newline="", encoding="utf-8") as f:
        queries = [(row["query"], row["expected_id"].strip()) for row in csv.DictReader(f)]
    ranks: list[int | None] = []
    correct = wrong = declined = uncovered_declined = 0
    latencies: list[float] = []
    for query, expected in queries:
        passages, ms = _timed(search, query)
        latencies.append(ms)
        ids = [p.metadata.get("faq_id") for p in passages]
        if expected:
            ranks.append(ids.index(expected) if expected in ids else None)
        if not passages or not passages[0].confident:
            declined += 1
            uncovered_declined += not expected
        elif expected and ids[0] == expected:
            correct += 1
        else:
            wrong += 1
    total = len(queries) or 1
    return {
        **rank_figures(ranks),
        "answered_correctly": correct / total,
        "answered_wrongly": wrong / total,
        "declined": declined / total,
        "uncovered_declined": uncovered_declined / (sum(not e for _, e in queries) or 1),
        "p50_ms": statistics.median(latencies),
        "questions": float(len(queries)),
    }


def evaluate_product_qa(search: Search, data_dir: Path) -> dict[str, float]:
    with (data_dir / "passages.jsonl").open(encoding="utf-8") as f:
        passage_text = {row["id"]: row["text"] for row in map(json.loads, f)}
    with (data_dir / "queries.jsonl").open(encoding="utf-8") as f:
        queries = [json.loads(line) for line in f if line.strip()]
    ranks: list[int | None] = []
    right_product = 0
    latencies: list[float] = []
    for q in queries:
        passages, ms = _timed(search, f"{q['title']}: {q['question']}")
        latencies.append(ms)
        relevant = [passage_text[i] for i in q["relevant"] if i in passage_text]
        hits = [any(text in p.text for text in relevant) for p in passages]
        ranks.append(hits.index(True) if True in hits else None)
        right_product += bool(passages) and passages[0].metadata.get("asin") == q["asin"]
    return {
        **rank_figures(ranks),
        "product@1": right_product / (len(queries) or 1),
        "p50_ms": statistics.median(latencies),
        "questions": float(len(queries)),
    }
