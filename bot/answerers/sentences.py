"""The one to three sentences of a text that answer a question, not the whole chunk.

Sentences are ranked by the embedding similarity to the question (the same model as retrieval), with a
small bonus for shared words; below `min_similarity` nothing answers and the caller declines.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from knowledge.embedding import Vectors
from knowledge.tokens import Tokenizer

Embed = Callable[[list[str]], Awaitable[Vectors]]

# A sentence ends at . ! ? followed by a space and a capital, digit or quote — never inside "$49.00",
# "e.g. this" or "No. 5".
_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(•])")
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|approx|vs|no|nr|ca|incl|excl|dr|mr|mrs|ms|st|inc|ltd)\.$", re.I)
MAX_SENTENCE_CHARS = 400
WORD_BONUS = 0.04  # per shared content word, at most 3
CLAUSE_WORDS = 14  # sentences longer than this are also scored clause by clause
CLAUSE_DISCOUNT = 0.02
_CLAUSE_BREAK = re.compile(r"[,;:]\s+|\s+(?:with|and|while|but|so)\s+")


@dataclass(frozen=True, slots=True)
class Ranked:
    index: int
    text: str
    similarity: float


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip(" \t•-*")
        if not line:
            continue
        pending = ""
        for piece in _END.split(line):
            pending = f"{pending} {piece}".strip() if pending else piece.strip()
            if _ABBREVIATION.search(pending):
                continue
            sentences.append(pending)
            pending = ""
        if pending:
            sentences.append(pending)
    return [s if len(s) <= MAX_SENTENCE_CHARS else s[:MAX_SENTENCE_CHARS].rsplit(" ", 1)[0] + "…"
            for s in sentences if len(s) > 2 and not _heading(s)]


def _clauses(sentence: str) -> list[str]:
    if len(sentence.split()) <= CLAUSE_WORDS:
        return []
    return [c for c in _CLAUSE_BREAK.split(sentence) if len(c.split()) >= 2]


def _heading(line: str) -> bool:
    """"Overview", "Shipping and Delivery": a section label left in the text, not a fact."""
    words = line.split()
    if len(words) > 5 or re.search(r"[.!?:;,\d]", line):
        return False
    return len(words) <= 2 or all(w[0].isupper() for w in words if len(w) > 3)


class SentencePicker:
    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._tokenize = Tokenizer()

    async def rank(self, question: str, sentences: list[str]) -> list[Ranked]:
        """Sentences by closeness to the question. A long sentence also scores as its best clause, so
        "how heavy is it?" finds "…, weighing 2.1 kg, …" inside a sentence about everything else."""
        if not sentences:
            return []
        clauses = [(i, c) for i, s in enumerate(sentences) for c in _clauses(s)]
        vectors = await self._embed([question, *sentences, *(c for _, c in clauses)])
        similarity = (vectors[1:] @ vectors[0]).tolist()
        best = similarity[:len(sentences)]
        for (index, _), score in zip(clauses, similarity[len(sentences):], strict=True):
            best[index] = max(best[index], score - CLAUSE_DISCOUNT)
        asked = set(self._tokenize(question))
        ranked = []
        for index, (text, score) in enumerate(zip(sentences, best, strict=True)):
            shared = len(asked & set(self._tokenize(text)))
            ranked.append(Ranked(index, text, float(score) + WORD_BONUS * min(shared, 3)))
        return sorted(ranked, key=lambda r: r.similarity, reverse=True)

    async def pick(self, question: str, sentences: list[str], min_similarity: float, most: int = 3,
                   within: float = 0.08, max_chars: int = 500) -> list[Ranked]:
        """The best sentences (close to the best one, in their original order), or [] below the threshold."""
        ranked = await self.rank(question, sentences)
        if not ranked or ranked[0].similarity < min_similarity:
            return []
        chosen: list[Ranked] = []
        size = 0
        for r in ranked[:most]:
            if r.similarity < ranked[0].similarity - within or (chosen and size + len(r.text) > max_chars):
                break
            chosen.append(r)
            size += len(r.text) + 1
        return sorted(chosen, key=lambda r: r.index)
