"""The default answerer: the best FAQ answer or product passages, verbatim, with sources; no LLM."""

from __future__ import annotations

from bot.types import PassageSearch, Reply, Turn, citation_of
from knowledge.retrieval import Passage

DECLINE = ("I'm not sure about that one, and I'd rather not guess. "
           "Would you like me to connect you with a person from our team?")
COMBINE_WITHIN = 0.05  # product passages this close to the best one are shown together
MAX_COMBINED = 3


class ExtractiveAnswerer:
    def __init__(self, search: PassageSearch, top_k: int = 5) -> None:
        self._search = search
        self._top_k = top_k

    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        passages = await self._search.asearch(question, self._top_k)
        if not passages or not passages[0].confident:
            return Reply(DECLINE, confident=False)
        best = passages[0]
        if best.kind == "faq":
            return Reply(best.text, (citation_of(best),))
        chosen = _strong_product_passages(best, passages)
        body = "\n\n".join(p.text for p in chosen)
        return Reply(f"{best.title}:\n{body}" if best.title else body, tuple(citation_of(p) for p in chosen))


def _strong_product_passages(best: Passage, passages: list[Passage]) -> list[Passage]:
    close = [p for p in passages if best.similarity - p.similarity <= COMBINE_WITHIN]
    same_product = [p for p in close if p.kind == "product" and p.confident and p.title == best.title]
    return same_product[:MAX_COMBINED]
