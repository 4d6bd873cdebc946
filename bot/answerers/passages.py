"""Answers from retrieved passages (FAQ entries, page sections, and products found by their text): the
sentences that answer, a rate table's right row, or a decline when nothing is close enough."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from bot.answerers.phrasing import shorten
from bot.answerers.products import answer_product
from bot.answerers.replies import decline, product_reply
from bot.answerers.sentences import SentencePicker, split_sentences
from bot.types import Focus, Reply, citation_of
from knowledge.live import LiveIndex
from knowledge.retrieval import Passage

if TYPE_CHECKING:
    from bot.answerers.facts import Knowledge

MAX_REPLY_CHARS = 600
NEAR_THRESHOLD = 0.12  # a page or FAQ passage this far under its threshold may still hold the sentence
SENTENCE_CONFIDENT = 0.5  # ... when one of its sentences is at least this close to the question
PASSAGE_SENTENCE = 0.3  # in a confident passage, the best sentence only needs this
PRODUCT_MARGIN = 0.08  # an unnamed product passage gives way to a policy passage this close to it
_POLICY_QUESTION = re.compile(r"\b(?:ship\w*|deliver\w*|return\w*|refund\w*|exchange|gift|payment|pay|privacy|"
                              r"data|e-?mails?|order\w*|address|contact|call\w*|phone|card|secure|safe)\b", re.I)
_AMOUNT = re.compile(r"[$€£]\s?(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s?(?:dollars?|euros?|pounds?)")


class PassageAnswerer:
    def __init__(self, knowledge: Knowledge, picker: SentencePicker, top_k: int = 5) -> None:
        self._knowledge = knowledge
        self._picker = picker
        self._top_k = top_k

    async def answer(self, question: str, topic: Focus | None, live: LiveIndex, names_words: bool) -> Reply:
        query = f"{topic.question} {question}" if topic is not None and topic.question else question
        passages = await self._knowledge.asearch(query, self._top_k)
        if not passages:
            return decline()
        best = passages[0]
        texts = [p for p in passages if p.kind != "product"
                 and p.similarity >= live.manifest.thresholds.get(p.kind, 1.0) - NEAR_THRESHOLD]
        product = live.catalog.get(str(best.metadata.get("product_id", ""))) if best.kind == "product" else None
        if product is not None and best.confident:
            policy = texts[0] if texts and _POLICY_QUESTION.search(question) else None
            if policy is None or best.similarity - policy.similarity > PRODUCT_MARGIN:
                answer = await answer_product(product, question, self._picker)
                return product_reply(answer.text, product, answer.confident, answer.options)
        if not texts:
            return decline()
        if texts[0].kind == "faq" and texts[0].confident and len(texts[0].text) <= MAX_REPLY_CHARS and topic is None:
            return _from(texts[0].text, texts[0], query)
        return await self._sentences(question, texts[:3], query)

    async def _sentences(self, question: str, passages: list[Passage], query: str) -> Reply:
        units = [(p, s) for p in passages for s in split_sentences(p.text)]
        ranked = await self._picker.rank(question, [s for _, s in units])
        if not ranked:
            return decline()
        top_passage = units[ranked[0].index][0]
        needed = PASSAGE_SENTENCE if top_passage.confident else SENTENCE_CONFIDENT
        if ranked[0].similarity < needed:
            return decline()
        table = _table_answer(question, top_passage.text, ranked[0].text)
        if table is not None:
            return _from(table, top_passage, query)
        mine = [r for r in ranked if units[r.index][0] is top_passage]
        chosen = [r for r in mine[:3] if r.similarity >= ranked[0].similarity - 0.08]
        text = " ".join(r.text for r in sorted(chosen, key=lambda r: r.index) if "|" not in r.text)
        return _from(shorten(text or ranked[0].text, MAX_REPLY_CHARS), top_passage, query)


def _table_answer(question: str, text: str, picked: str) -> str | None:
    """A rate table (rows of "a | b | c") read as sentences: the row for the amount asked about, or all rows."""
    lines = [line for line in text.splitlines() if line.count("|") >= 1]
    if "|" not in picked or len(lines) < 2:
        return None
    header = [_clean_cell(c) for c in lines[0].split("|")]
    rows = [[_clean_cell(c) for c in line.split("|")] for line in lines[1:]]
    amount = _amount_in(question)
    chosen = [r for r in rows if amount is not None and _in_range(amount, r[0])] or rows
    sentences = []
    for row in chosen:
        pairs = [f"{h} {v}".strip() for h, v in zip(header[1:], row[1:], strict=False)]
        sentences.append(f"{header[0]} {row[0]}: " + ", ".join(pairs) + ".")
    return " ".join(sentences)


def _clean_cell(cell: str) -> str:
    return re.sub(r"\s*\*+\s*$", "", cell.strip()).strip()


def _amount_in(question: str) -> Decimal | None:
    match = _AMOUNT.search(question)
    if match is None:
        return None
    try:
        return Decimal((match.group(1) or match.group(2)).replace(",", ""))
    except InvalidOperation:
        return None


def _in_range(amount: Decimal, label: str) -> bool:
    numbers = [Decimal(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", label)]
    lowered = label.lower()
    if not numbers:
        return False
    if re.search(r"\b(?:up to|under|below|less than)\b", lowered):
        return amount <= numbers[0]
    if re.search(r"\b(?:over|above|more than|from)\b", lowered) and len(numbers) == 1:
        return amount > numbers[0]
    return len(numbers) >= 2 and numbers[0] <= amount <= numbers[1]


def _from(text: str, passage: Passage, query: str) -> Reply:
    return Reply(text, (citation_of(passage),), mode="facts", focus=Focus((), passage.node_id, query))
