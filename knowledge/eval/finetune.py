"""Fine-tunes the bundled embedding model on the store's own questions, on the CPU.

Pairs: each past question → the FAQ entry it was answered with, and each FAQ alternate → its entry.
The loss is sentence-transformers' MultipleNegativesRankingLoss (the other entries in a batch are the
negatives), so a batch never holds two pairs of the same entry. A share of the pairs is held back:
the manifest records how often they find their entry before and after training.

The model is written under a temporary name and renamed when complete; an interrupted run leaves
nothing an index could load.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from knowledge.index.embedding import BUNDLED_MODEL, model_path
from knowledge.sources.records import FaqEntry, LoadedSources

MANIFEST = "storebot-model.json"
MIN_PAIRS = 50
STAGING_PREFIX = ".staging-"

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class FineTuneError(ValueError):
    """The data cannot be used to fine-tune; the message says why and what is needed."""


@dataclass(frozen=True, slots=True)
class FineTuneOptions:
    epochs: int = 1
    learning_rate: float = 3e-5
    max_batch: int = 32  # capped by the number of FAQ entries: one pair per entry per batch
    validation_share: float = 0.1
    max_seq_length: int = 128
    seed: int = 0


@dataclass(frozen=True, slots=True)
class ModelManifest:
    model_id: str
    base_model: str
    data_sha256: str
    pairs_train: int
    pairs_validation: int
    faq_entries: int
    epochs: int
    learning_rate: float
    batch_size: int
    train_seconds: float
    validation_hit1_before: float
    validation_hit1_after: float
    created_at: str

    @classmethod
    def read(cls, directory: Path) -> ModelManifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise FineTuneError(f"{directory} is not a storebot fine-tuned model (no {MANIFEST})")
        return cls(**json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True, slots=True)
class Pair:
    question: str
    faq_id: str


def faq_text(entry: FaqEntry) -> str:
    return f"{entry.question}\n{entry.answer}"


def training_pairs(sources: LoadedSources) -> list[Pair]:
    pairs = [Pair(p.question, p.faq_id) for p in sources.past_questions]
    pairs += [Pair(alt, f.id) for f in sources.faqs for alt in f.alternates]
    return pairs


def fine_tune(sources: LoadedSources, out_dir: Path, options: FineTuneOptions = FineTuneOptions(),
              base_model: str = BUNDLED_MODEL, progress: Progress | None = None) -> tuple[Path, ModelManifest]:
    """Trains and saves `out_dir/<model id>/`; returns its path and manifest."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    report = progress or (lambda stage, done, total: None)
    faqs = {f.id: f for f in sources.faqs}
    pairs = training_pairs(sources)
    if len(faqs) < 2:
        raise FineTuneError(f"need at least 2 FAQ entries to fine-tune, got {len(faqs)}")
    if len(pairs) < MIN_PAIRS:
        raise FineTuneError(f"need at least {MIN_PAIRS} question → FAQ pairs (past questions or alternates) to "
                            f"fine-tune, got {len(pairs)}")
    train, held_back = _split(pairs, options.validation_share, options.seed)
    _remove_abandoned_staging(out_dir)
    model_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + _data_hash(sources)[:8]
    staging = out_dir / f"{STAGING_PREFIX}{model_id}"
    torch.manual_seed(options.seed)
    model = SentenceTransformer(model_path(base_model), device="cpu")
    model.max_seq_length = options.max_seq_length
    try:
        before = _hit_at_1(model, held_back, faqs)
        batch = max(2, min(options.max_batch, len(faqs)))
        loss = MultipleNegativesRankingLoss(model)
        optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate)
        started = time.perf_counter()
        rng = random.Random(options.seed)
        batches = [b for _ in range(options.epochs) for b in _distinct_entry_batches(train, batch, rng)]
        model.train()
        for step, group in enumerate(batches, start=1):
            features = [model.preprocess([p.question for p in group]),
                        model.preprocess([faq_text(faqs[p.faq_id]) for p in group])]
            value = loss(features, torch.empty(0))
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            report("training", step, len(batches))
        model.eval()
        trained = time.perf_counter() - started
        after = _hit_at_1(model, held_back, faqs)
        manifest = ModelManifest(
            model_id, _base_name(base_model), _data_hash(sources), len(train), len(held_back), len(faqs),
            options.epochs, options.learning_rate, batch, round(trained, 1), round(before, 4), round(after, 4),
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
        model.save(str(staging))
        (staging / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        final = out_dir / model_id
        staging.rename(final)  # complete, or not there at all
        return final, manifest
    finally:  # an error or Ctrl-C discards the half-written model
        shutil.rmtree(staging, ignore_errors=True)


def _split(pairs: list[Pair], share: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    shuffled = pairs[:]
    random.Random(seed).shuffle(shuffled)
    held = max(1, int(len(shuffled) * share))
    return shuffled[held:], shuffled[:held]


def _distinct_entry_batches(pairs: list[Pair], size: int, rng: random.Random) -> list[list[Pair]]:
    """Shuffled batches in which no two pairs share an FAQ entry (each other's negatives must be wrong)."""
    pending = pairs[:]
    rng.shuffle(pending)
    batches: list[list[Pair]] = []
    while pending:
        batch: list[Pair] = []
        seen: set[str] = set()
        rest: list[Pair] = []
        for pair in pending:
            if len(batch) < size and pair.faq_id not in seen:
                batch.append(pair)
                seen.add(pair.faq_id)
            else:
                rest.append(pair)
        if len(batch) >= 2:
            batches.append(batch)
        pending = rest if len(batch) >= 2 else []  # a lone leftover entry has no negatives: skip it
    return batches


def _hit_at_1(model: object, pairs: list[Pair], faqs: dict[str, FaqEntry]) -> float:
    ids = list(faqs)
    encode = model.encode  # type: ignore[attr-defined]
    entries = np.asarray(encode([faq_text(faqs[i]) for i in ids], normalize_embeddings=True))
    questions = np.asarray(encode([p.question for p in pairs], normalize_embeddings=True))
    best = (questions @ entries.T).argmax(axis=1)
    return float(np.mean([ids[b] == p.faq_id for b, p in zip(best, pairs, strict=True)]))


def _data_hash(sources: LoadedSources) -> str:
    digest = hashlib.sha256()
    for f in sorted(sources.files, key=lambda f: f.path):
        digest.update(f"{f.path}:{f.sha256}\n".encode())
    return digest.hexdigest()


def _base_name(base: str) -> str:
    if base == BUNDLED_MODEL:
        return base
    try:
        return ModelManifest.read(Path(base)).base_model  # fine-tuning a fine-tune keeps the original base
    except FineTuneError:
        return Path(base).name


def _remove_abandoned_staging(out_dir: Path) -> None:
    """A run killed outright (no finally) leaves a staging directory; nothing ever loads one."""
    if out_dir.is_dir():
        for leftover in out_dir.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
