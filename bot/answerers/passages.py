"""Answers from retrieved passages (FAQ entries, page sections, and products found by their text): the
sentences that answer, a rate table's right row, or a decline when nothing is close enough."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol

from bot.answerers.intents import STORE_SERVICE
from bot.answerers.phrasing import shorten
from bot.answerers.products import answer_product
from bot.answerers.replies import decline, product_reply
from bot.answerers.sentences import Ranked, SentencePicker
from bot.answerers.unmentioned import unmentioned
from bot.types import Focus, Reply, citation_of
from knowledge.index.embedding import Vectors
from knowledge.index.live import LiveIndex
from knowledge.index.retrieval import Passage
from knowledge.index.text_units import passage_units

log = logging.getLogger(__name__)
MAX_REPLY_CHARS = 600
SEARCH_DEPTH = 40  # policy text is looked for below the products a question's words also match
TEXT_PASSAGES = 4  # FAQ entries and page sections whose sentences compete for the answer
SENTENCE_CONFIDENT = 0.5  # a sentence this close to the question answers it, whatever its passage scored
NEW_TOPIC_SENTENCE = 0.4  # in a confident passage, the best sentence only needs this
PASSAGE_SENTENCE = 0.3  # ... and in a follow-up on the same topic, this
TOPIC_BONUS = 0.1
LIST_LINES = 3
NEW_TOPIC_NEAR = 0.15  # a follow-up that alone finds another entry this close to confident, and
NEW_TOPIC_MARGIN = 0.1  # this far ahead of the next, is about that entry
_QUESTION_WORD = re.compile(r"\b(?:how|what|when|where|which|who|why|can|could|do|does|is|are|will|would)\b", re.I)
# A sentence about the page itself ("Here are our delivery and returns policies…", "This policy describes…",
# "Please read these terms carefully") names the topic without saying anything about it: it never answers.
_ABOUT_THE_PAGE = re.compile(
    r"^(?:here (?:are|is)|below (?:are|is|you)|this (?:page|section|policy|notice|document|statement)"
    r" (?:describes|explains|sets out|covers|outlines|tells)|please (?:read|review)|we hope you|welcome to|"
    r"thank(?:s| you) for (?:shopping|visiting|choosing))\b", re.I)
# Asked for a policy as a whole ("what's your return policy?"), its rules answer — what must be, cannot be,
# within how long — rather than the how-to around them (packing slips, labels).
_ASKS_POLICY = re.compile(r"\b(?:polic(?:y|ies)|rules?|terms|conditions)\b", re.I)
_RULE = re.compile(r"\b(?:must|cannot|can't|can ?not|may not|only|within|required|eligible|non-?refundable|"
                   r"not (?:be )?(?:accepted|eligible|returnable|refundable))\b", re.I)
RULE_BAND = 0.2  # ... among the sentences this close to the best one (on the topic asked about)
RULE_BONUS = 0.21  # (more than the band: such a rule goes first; only the order, never the confidence)
_AMOUNT = re.compile(r"[$€£]\s?(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s?(?:dollars?|euros?|pounds?)")


@dataclass(frozen=True, slots=True)
class _Unit:
    passage: Passage
    text: str
    rows: tuple[str, ...] = ()  # for a table row: every row of its table, as sentences


class Knowledge(Protocol):
    """What the answerer reads: the live version, search and the embedding model (HybridRetriever)."""

    @property
    def live(self) -> LiveIndex: ...
    async def asearch(self, query: str, top_k: int = 5) -> list[Passage]: ...
    async def aembed(self, texts: list[str]) -> Vectors: ...


class PassageAnswerer:
    def __init__(self, knowledge: Knowledge, picker: SentencePicker, top_k: int = 5) -> None:
        self._knowledge = knowledge
        self._picker = picker
        self._top_k = top_k

    async def answer(self, question: str, topic: Focus | None, live: LiveIndex, texts_only: bool = False) -> Reply:
        query = f"{topic.question} {question}" if topic is not None and topic.question else question
        on_topic = topic.topic if topic is not None else ""
        if query != question and _QUESTION_WORD.search(question):
            # "and how long does it take?" after the shipping costs is a new topic when it finds one alone;
            # a fragment ("and to norway?") cannot be
            alone = [p for p in await self._knowledge.asearch(question, SEARCH_DEPTH) if p.kind != "product"]
            if alone and alone[0].node_id != on_topic and _stands_out(alone, live):
                query, on_topic = question, alone[0].node_id
        passages = await self._knowledge.asearch(query, SEARCH_DEPTH)
        if not passages:
            return decline()
        best = passages[0]
        texts = [p for p in passages if p.kind != "product"][:TEXT_PASSAGES]
        product = live.catalog.get(str(best.metadata.get("product_id", ""))) if best.kind == "product" else None
        about_product = product is not None and best.confident and not STORE_SERVICE.search(question) \
            and not texts_only
        if about_product and product is not None:
            answer = await answer_product(product, question, self._picker, vocabulary=live.vocabulary)
            return product_reply(answer.text, product, answer.confident, answer.options)
        if texts and texts[0].kind == "faq" and texts[0].confident and topic is None \
                and len(texts[0].text) <= MAX_REPLY_CHARS:
            return _from(texts[0].text, texts[0], query)
        reply = await self._sentences(question, query, texts, on_topic, live) if texts else None
        return reply or decline()

    async def _sentences(self, question: str, query: str, passages: list[Passage], topic: str, live: LiveIndex
                         ) -> Reply | None:
        units = [unit for p in passages for unit in _units(p)]
        ranked = await self._picker.rank(question, [u.text for u in units])
        if topic:
            # A follow-up ("how long will it take to get here?") is read on its own, but the section that
            # answered the last question comes first when it holds an answer.
            ranked = sorted((Ranked(r.index, r.text, r.similarity + (TOPIC_BONUS if units[r.index].passage.node_id
                                                                          == topic else 0.0)) for r in ranked),
                            key=lambda r: r.similarity, reverse=True)
        ranked = [r for r in ranked if not _about_the_page(r.text)] or ranked
        closest = max(ranked, key=lambda r: r.similarity, default=None)
        ranked = _rules_first(question, ranked, {i for i, u in enumerate(units) if u.rows})
        if not ranked or closest is None:
            return None
        # Whether anything answers is judged on the closest sentence; the rules-first order only picks among them.
        needed = PASSAGE_SENTENCE if topic else NEW_TOPIC_SENTENCE if units[closest.index].passage.confident \
            else SENTENCE_CONFIDENT
        top = units[ranked[0].index]
        log.debug("passage answer %r: best %.3f (needs %.2f) %r", question, closest.similarity, needed, top.text)
        if closest.similarity < needed:
            return None
        if unmentioned(question, live.vocabulary, answer=top.passage.text):
            # "do you ship to canada?" where nothing says Canada, "do you gift wrap?" against the gift-returns
            # section: a sentence on the same subject cannot say yes or no
            log.debug("passage answer %r: declined, its words never mentioned there", question)
            return None
        if top.rows:
            amount = _amount_in(query)
            rows = [r for r in top.rows if amount is not None and _in_range(amount, r)] or [top.text]
            return _from(" ".join(rows), top.passage, query)
        mine = [r for r in ranked if units[r.index].passage is top.passage and not units[r.index].rows]
        chosen = sorted((r for r in mine[:3] if r.similarity >= ranked[0].similarity - 0.08), key=lambda r: r.index)
        if chosen[-1].text.endswith(":"):  # "state one of the following:" needs what follows
            chosen += [Ranked(u, units[u].text, 0.0) for u in range(chosen[-1].index + 1, len(units))
                       if units[u].passage is top.passage][:LIST_LINES]
        text = " ".join(r.text for r in chosen)
        return _from(shorten(text, MAX_REPLY_CHARS), top.passage, query)


def _rules_first(question: str, answers: list[Ranked], table_rows: set[int]) -> list[Ranked]:
    """For a question about a policy as a whole, its rules (not a table's rows) first — an order only: the
    caller judges confidence on the closest sentence before this."""
    if not _ASKS_POLICY.search(question) or not answers:
        return answers
    band = answers[0].similarity - RULE_BAND
    answers = [Ranked(r.index, r.text, r.similarity + RULE_BONUS)
               if r.similarity >= band and r.index not in table_rows and _RULE.search(r.text) else r
               for r in answers]
    return sorted(answers, key=lambda r: r.similarity, reverse=True)


def _about_the_page(sentence: str) -> bool:
    """Words about the page itself, with nothing of its own: not "Here is how to start a return: go to…", nor
    one that states a rule or a figure."""
    return bool(_ABOUT_THE_PAGE.search(sentence)) and ":" not in sentence.rstrip(":") \
        and not _RULE.search(sentence) and not re.search(r"\d", sentence)


def _stands_out(passages: list[Passage], live: LiveIndex) -> bool:
    """The best passage is nearly confident and clearly ahead of the next one."""
    best = passages[0]
    runner_up = passages[1].similarity if len(passages) > 1 else 0.0
    near = best.similarity >= live.manifest.thresholds.get(best.kind, 1.0) - NEW_TOPIC_NEAR
    return best.confident or (near and best.similarity - runner_up >= NEW_TOPIC_MARGIN)


def _units(passage: Passage) -> list[_Unit]:
    """A passage's sentences, with a table's rows read as sentences under their header."""
    sentences, rows = passage_units(passage.text)
    return [_Unit(passage, s) for s in sentences] + [_Unit(passage, row, tuple(rows)) for row in rows]


def _amount_in(question: str) -> Decimal | None:
    match = _AMOUNT.search(question)
    if match is None:
        return None
    try:
        return Decimal((match.group(1) or match.group(2)).replace(",", ""))
    except InvalidOperation:
        return None


def _in_range(amount: Decimal, row: str) -> bool:
    """Whether a row labelled "… Up to $200:", "… $200.01—500.00:" or "… Over $1000.00:" covers the amount."""
    label = row.split(":", 1)[0].lower()
    numbers = [Decimal(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", label)]
    if not numbers:
        return False
    if re.search(r"\b(?:up to|under|below|less than)\b", label):
        return amount <= numbers[-1]
    if re.search(r"\b(?:over|above|more than)\b", label) and len(numbers) == 1:
        return amount > numbers[0]
    return len(numbers) >= 2 and numbers[-2] <= amount <= numbers[-1]


def _from(text: str, passage: Passage, query: str) -> Reply:
    return Reply(text, (citation_of(passage),), mode="extractive", focus=Focus((), passage.node_id, query))
