"""`kb build`: sources → nodes → cached embeddings → hybrid index → a new published version.

Everything is written to a staging directory first; any failure discards it and leaves the
live version untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from knowledge.index.calibration import calibrate_faq_threshold
from knowledge.index.catalog import save_products
from knowledge.index.embedding import Embedder, EmbeddingCache
from knowledge.index.hybrid import HybridIndex
from knowledge.index.nodes import build_nodes
from knowledge.index.sentence_vectors import SentenceVectors, quotable_texts
from knowledge.index.versions import Manifest, VersionStore
from knowledge.sources.loader import LoadOptions, load_sources, warning_counts, warning_examples


@dataclass(frozen=True, slots=True)
class BuildOptions:
    load: LoadOptions = field(default_factory=LoadOptions)
    decline_share: float = 0.9  # share of uncovered questions the calibrated threshold declines
    faq_threshold: float = 0.6  # used when there are too few past questions to calibrate
    product_threshold: float = 0.45


class BuildRefused(Exception):
    """The build's gate refused the new version (e.g. it failed the store's conversation tests)."""


MAX_LISTED_WARNINGS = 200  # the manifest keeps counts of all, and the first ones in full
EXAMPLES_PER_KIND = 5
Progress = Callable[[str, int, int], None]  # (stage, done, total)
Gate = Callable[[str, Manifest], None]  # (staged version name, manifest); raises to refuse the version


def build_version(
    source_dir: Path,
    store: VersionStore,
    embedder: Embedder,
    cache: EmbeddingCache,
    options: BuildOptions = BuildOptions(),
    progress: Progress | None = None,
    gate: Gate | None = None,
) -> Manifest:
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    sources = load_sources(source_dir, options.load)
    nodes, keys = build_nodes(sources)
    done = 0

    quotable = quotable_texts(sources, nodes)
    total = len(keys) + len(quotable)

    def embedded(count: int) -> None:  # keys and quotable sentences are embedded in one pass
        nonlocal done
        done += count
        report("embedding", done, total)

    everything, computed = cache.embed(embedder, [k.text for k in keys] + quotable, embedded)
    vectors, sentence_vectors = everything[:len(keys)], everything[len(keys):]
    report("indexing", 0, 1)
    index = HybridIndex.build(nodes, keys, vectors)
    calibrated = calibrate_faq_threshold(keys, vectors, options.decline_share)
    thresholds = {
        "faq": options.faq_threshold if calibrated is None else calibrated,
        "product": options.product_threshold,
        "page": options.product_threshold,
    }
    version = store.new_version_id()
    staging = store.staging_dir(version)
    try:
        index.save(staging)
        save_products(staging, sources.products)
        SentenceVectors(quotable, sentence_vectors).save(staging)
        manifest = Manifest(
            version=version,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            build_seconds=round(time.perf_counter() - started, 3),
            embedding_model=embedder.model_id,
            dims=embedder.dims,
            counts={
                "faq_entries": len(sources.faqs),
                "past_questions": len(sources.past_questions),
                "products": len(sources.products),
                "variants": sum(len(p.variants) for p in sources.products),
                "product_docs": sum(1 for d in sources.documents if d.kind == "product"),
                "page_sections": sum(1 for d in sources.documents if d.kind == "page"),
                "page_files": sum(1 for f in sources.files if f.kind == "pages"),
                "nodes": len(nodes),
                "search_keys": len(keys),
                "quotable_sentences": len(quotable),
            },
            sources=[asdict(f) for f in sources.files],
            thresholds=thresholds,
            embedded=computed,
            warnings=[str(w) for w in sources.warnings[:MAX_LISTED_WARNINGS]],
            warning_counts=warning_counts(sources.warnings),
            warning_examples=warning_examples(sources.warnings, EXAMPLES_PER_KIND),
            faq_threshold_calibrated=calibrated is not None,
        )
        manifest.write(staging)
        if gate is not None:
            report("testing", 0, 1)
            gate(staging.name, manifest)
        store.publish(staging, version)
    except BaseException:
        store.discard(staging)
        raise
    report("done", 1, 1)
    return manifest
