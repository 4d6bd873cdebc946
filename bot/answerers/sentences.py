"""The one to three sentences of a text that answer a question, not the whole chunk.

Sentences are ranked by the embedding similarity to the question (the same model as retrieval), with a
small bonus for shared words; below `min_similarity` nothing answers and the caller declines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from knowledge.index.embedding import Vectors
from knowledge.index.text_units import clauses, split_sentences
from knowledge.index.tokens import Tokenizer

Embed = Callable[[list[str]], Awaitable[Vectors]]

WORD_BONUS = 0.04  # per shared content word, at most 3
CLAUSE_DISCOUNT = 0.02


@dataclass(frozen=True, slots=True)
class Ranked:
    index: int
    text: str
    similarity: float


class SentencePicker:
    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._tokenize = Tokenizer()

    async def rank(self, question: str, sentences: list[str]) -> list[Ranked]:
        """Sentences by closeness to the question. A long sentence also scores as its best clause, so
        "how heavy is it?" finds "…, weighing 2.1 kg, …" inside a sentence about everything else."""
        if not sentences:
            return []
        parts = [(i, c) for i, s in enumerate(sentences) for c in clauses(s)]
        vectors = await self._embed([question, *sentences, *(c for _, c in parts)])
        similarity = (vectors[1:] @ vectors[0]).tolist()
        best = similarity[:len(sentences)]
        for (index, _), score in zip(parts, similarity[len(sentences):], strict=True):
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


__all__ = ["Ranked", "SentencePicker", "split_sentences"]
