"""Calibrates the FAQ confidence threshold from the store's own past questions.

A past question stands in for a covered shopper question (its best match among the other
phrasings of its own entry) and, with its own entry hidden, for a question the FAQ does not
cover (its best match among every other entry). The threshold is the similarity that declines
`decline_share` of the stand-ins for uncovered questions.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from knowledge.index.embedding import Vectors
from knowledge.index.nodes import SearchKey

SAMPLE = 3000
MIN_PAST_QUESTIONS = 50
FAQ_KEY_KINDS = frozenset({"question", "alternate", "past_question", "answer"})


def calibrate_faq_threshold(keys: list[SearchKey], vectors: Vectors, decline_share: float) -> float | None:
    """The calibrated threshold, or None when there are too few past questions to calibrate from."""
    faq_rows = np.asarray([i for i, k in enumerate(keys) if k.kind in FAQ_KEY_KINDS], dtype=np.int64)
    past_rows = np.asarray([i for i, k in enumerate(keys) if k.kind == "past_question"], dtype=np.int64)
    if len(past_rows) < MIN_PAST_QUESTIONS or len({keys[i].node for i in past_rows}) < 2:
        return None
    sample = np.random.default_rng(0).choice(past_rows, size=min(SAMPLE, len(past_rows)), replace=False)
    node_of = np.asarray([k.node for k in keys], dtype=np.int64)
    similarity = vectors[sample] @ vectors[faq_rows].T
    same_entry: npt.NDArray[np.bool_] = node_of[sample][:, None] == node_of[faq_rows][None, :]
    uncovered_best = np.where(same_entry, -1.0, similarity).max(axis=1)
    return float(np.clip(np.quantile(uncovered_best, decline_share), 0.3, 0.95))
