"""Answers from a product's description: the sentences that answer a question about it ("does it have
pockets?", "what is it made of?"), or its list of contents ("what comes with it?")."""

from __future__ import annotations

import difflib
import logging
import re

from bot.answerers.intents import FILLER
from bot.answerers.sentences import SentencePicker
from bot.answerers.unmentioned import unmentioned
from knowledge.index.text_units import product_units
from knowledge.index.vocabulary import Vocabulary
from knowledge.sources.records import ProductRecord

log = logging.getLogger(__name__)
DETAIL_SIMILARITY = 0.35  # below this no sentence of the description answers: decline, offer a person
UNMENTIONED_SIMILARITY = 0.6  # ... and for a yes/no question on something the store's data never mentions
FIGURE_SIMILARITY = 0.0  # asked for a figure, the closest of the sentences that give one answers
MIN_LIST_ITEMS, MAX_ITEMS, MAX_ITEM_WORDS = 2, 8, 8


async def describe(product: ProductRecord, question: str, picker: SentencePicker,
                   vocabulary: Vocabulary | None = None) -> str | None:
    """The description's answer (naming the product), or None when nothing in it answers."""
    items = _list_items(product.description)
    if CONTENTS.search(question) and _LISTS.search(question) and len(items) >= MIN_LIST_ITEMS:
        return f"The {product.title} comes with: {'; '.join(i.rstrip('.') for i in items)}."  # "what's in the kit?"
    sentences = product_units(product)
    query = detail_query(question, product)
    hinted = frozenset(w for w in re.findall(r"[a-z]+", question.lower()) if any(p.search(w) for p, _ in _HINTS))
    # Only words the store never uses: a rare one may be the shopper's own situation ("for night runs")
    unknown = unmentioned(question, vocabulary, hinted) if vocabulary is not None else ()
    # the first figure asked for that the description gives ("how big, what capacity?": litres, else dimensions)
    with_figure = next((found for asks, figure in _FIGURES if asks.search(question)
                        and (found := [s for s in sentences if figure.search(s)])), [])
    if with_figure:  # "how heavy is it?": among the sentences that give a weight ("Regular fit, 360 g in size M.")
        picked = await picker.pick(query, with_figure, FIGURE_SIMILARITY, most=1)
    else:
        picked = await picker.pick(query, sentences, UNMENTIONED_SIMILARITY if unknown else DETAIL_SIMILARITY)
    if log.isEnabledFor(logging.DEBUG):
        best = (await picker.rank(query, sentences))[:1]
        log.debug("details %r on %s: best %s; never mentioned: %s", question, product.id, best, unknown)
    if not picked:
        return None
    text = " ".join(r.text for r in picked)
    return text if product.title.lower() in text.lower() else f"{product.title}: {text}"


CONTENTS = re.compile(r"\bwhat'?s in\b|\bwhat (?:is|comes) in\b|\bcomes? with\b|\binclud|\bcontents?\b", re.I)
# Asks for the whole list ("what does it come with?"), not whether one thing comes with it ("a warranty?")
_LISTS = re.compile(r"\bwhat|\banything\b|\beverything\b|\bcontents?\b|\binclud", re.I)
# How shoppers ask about a description, and the words descriptions answer with. The product's own name is
# dropped from the question: "whats the grayson crewneck made of" otherwise matches the sentence that names
# the Grayson Crewneck, not the one that says "80% cotton/20% polyester".
_HINTS = (
    (re.compile(r"\bmade (?:of|from)\b|\bmaterials?\b|\bfabrics?\b|\bwool\b|\bcotton\b|\bleather\b"),
     "material fabric made of cotton polyester wool nylon leather blend"),
    (re.compile(r"\bhow long\b.*\b(?:last|lasts|run|runs|burn|burns)\b|\bbattery life\b|\brun ?time\b|\bburn ?time\b"),
     "burn time run time hours battery life"),
    # "how long is it?", not "how long does the battery last?"
    (re.compile(r"\bhow (?:big|large|tall|wide|long|deep)\b(?!.*\b(?:last|lasts|take|takes|run|runs|burn|charge)\b)|"
                r"\bdimensions?\b|\bmeasure|\bsize of\b|\bfit in\b"),
     "dimensions size measures inches cm length width height"),
    (re.compile(r"\bhow heavy\b|\bweigh|\bweight\b"), "weight weighs lbs kg grams"),
    (re.compile(r"\b(?:litres?|liters?|capacity|volume|how much (?:does it )?hold)\b"), "capacity liters volume holds"),
    (re.compile(r"\bwater ?proof|\bwater[- ]resistant|\brain\b|\bswim|\bpool\b|\bwet\b"),
     "waterproof water-resistant water rain"),
    (re.compile(r"\bwash|\bdryer\b|\btumble\b|\bclean|\bcare\b|\biron\b"), "machine wash dry care"),
    (re.compile(r"\bfit\b|\btight\b|\bloose\b|\btrue to size\b"), "fit relaxed slim fitted loose"),
    (CONTENTS, "includes comes with contains set of kit"),
)


# A question for a figure, and how a description gives it: capacity first ("how big is it, what capacity?")
_NUMBER = r"\d+(?:[.,]\d+)?\s*"
WEIGHT = re.compile(r"(\d+(?:[.,]\d+)*)\s*(kg|g|grams?|lbs?|oz)\b(?!/)", re.I)  # not a fabric's "250 g/m²"
_FIGURES = (
    (re.compile(r"\b(?:litres?|liters?|capacity|volume|how much (?:does it )?hold)\b", re.I),
     re.compile(rf"{_NUMBER}-?\s*(?:l|litres?|liters?)\b", re.I)),
    # a weight, but not what it carries ("supports up to 120 kg")
    (re.compile(r"\bhow heavy\b|\bweigh|\bweight\b", re.I),
     re.compile(rf"^(?!.*\b(?:up to|supports?|max(?:imum)?|load|rated for)\b).*?{WEIGHT.pattern}", re.I)),
    (re.compile(r"\bhow (?:big|large|tall|wide|long|deep)\b"
                r"(?!.*\b(?:last|lasts|take|takes|run|runs|burn|charge|life|warranty|guarantee)\b)|\bdimensions?\b",
                re.I),
     re.compile(rf"{_NUMBER}(?:x\s*{_NUMBER})*(?:cm|mm|inch|inches)\b|\d+(?:\.\d+)?\s*[\"”″]", re.I)),
)



def asks_detail(question: str) -> bool:
    """Whether the question asks what descriptions tell ("what's the band made of?", "how heavy?")."""
    lowered = question.lower()
    return any(pattern.search(lowered) for pattern, _ in _HINTS)


def detail_query(question: str, product: ProductRecord) -> str:
    title = {w.lower() for w in re.findall(r"\w+", product.title)}
    lowered = question.lower()
    words = [w for w in re.findall(r"[\w'%-]+", lowered) if not near(w, title)]
    if all(w in FILLER for w in words):  # "does it have a hood?" of the Circe Hooded Ice Fleece: the name's word
        words = re.findall(r"[\w'%-]+", lowered)
    hints = [hint for pattern, hint in _HINTS if pattern.search(lowered)]
    return " ".join([*words, *hints]) or question


def _list_items(description: str) -> list[str]:
    """The short lines of a description's bullet list ("Three flex bands.", "Mesh carry bag included.")."""
    lines = [line.strip() for line in description.splitlines() if line.strip()]
    return [line for line in lines if len(line.split()) <= MAX_ITEM_WORDS][:MAX_ITEMS]


def near(word: str, known: set[str]) -> bool:
    return word in known or bool(difflib.get_close_matches(word, known, n=1, cutoff=0.8))
