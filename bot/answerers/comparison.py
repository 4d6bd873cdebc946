"""Products compared on a detail of their descriptions ("which one is lighter?" after two tents): each one's
figure, and for weight — a figure every description gives alike — which is the lighter or the heavier."""

from __future__ import annotations

import re
from decimal import Decimal

from bot.answerers.details import WEIGHT
from bot.answerers.phrasing import join_words
from bot.answerers.products import answer_product
from bot.answerers.replies import OFFER_PERSON, list_reply
from bot.answerers.sentences import SentencePicker
from bot.types import Reply
from knowledge.sources.records import ProductRecord

SHOWN = 3
_COMPARED = (
    (re.compile(r"\b(?:lighter|heavier|weighs? (?:less|more)|lightest|heaviest)\b", re.I), "how heavy is it?"),
    (re.compile(r"\b(?:bigger|smaller|larger|roomier|more compact|wider|narrower|biggest|smallest|largest|roomiest)\b",
                re.I),
     "how big is it, what capacity?"),
    (re.compile(r"\b(?:warmer|warmest)\b", re.I), "how warm is it?"),
)
_HEAVIER = re.compile(r"\b(?:heavier|heaviest|weighs? more)\b", re.I)
_GRAMS = {"kg": Decimal(1000), "g": Decimal(1), "gram": Decimal(1), "grams": Decimal(1), "lb": Decimal("453.6"),
          "lbs": Decimal("453.6"), "oz": Decimal("28.35")}


def compared_detail(question: str) -> str | None:
    """"which one is lighter?" → "how heavy is it?" (asked of each product); None for anything else."""
    if not re.search(r"\bwhich\b", question, re.I):
        return None
    return next((detail for pattern, detail in _COMPARED if pattern.search(question)), None)


async def compare(products: list[ProductRecord], question: str, detail: str, picker: SentencePicker) -> Reply:
    """The detail for each product whose description gives it, and which ones it can't be found for
    (descriptions differ: one gives litres, another only a torso length)."""
    shown = products[:SHOWN]
    answers = [await answer_product(p, detail, picker) for p in shown]
    found = [(a.text, p) for a, p in zip(answers, shown, strict=True) if a.confident]
    missing = [f"the {p.title}" for a, p in zip(answers, shown, strict=True) if not a.confident]
    if not found:  # none of them says: one decline naming them all
        return list_reply(f"I can't find that in the details I have for {join_words(missing)}. {OFFER_PERSON}", shown,
                          alike=True, confident=False)
    ranked = _by_weight(found, heavier=bool(_HEAVIER.search(question))) if detail == _COMPARED[0][1] else None
    text = ranked or " ".join(t if t.rstrip()[-1:] in ".!?" else f"{t.rstrip()}." for t, _ in found)
    if missing:
        text += f" I can't find that in the details I have for {join_words(missing)}."
    return list_reply(text, shown, alike=True)  # all of them stay in focus: "and which is cheaper?"


def _by_weight(found: list[tuple[str, ProductRecord]], heavier: bool) -> str | None:
    """"The Nomad 1 is the lighter, at 1.05 kg; the Summit Pro 2 weighs 3.0 kg." — when each answer gives one
    weight (two figures, a packed and a trail weight, cannot be told apart: then None)."""
    weights = []
    for text, product in found:
        figures = WEIGHT.findall(text)
        if len(found) < 2 or len(figures) != 1:
            return None
        number, unit = figures[0]
        weights.append((parse_number(number) * _GRAMS[unit.lower()], f"{number} {unit}", product))
    weights.sort(key=lambda w: w[0], reverse=heavier)
    (_, first, winner), rest = weights[0], weights[1:]
    word = ("heavier" if heavier else "lighter") if len(weights) == 2 else ("heaviest" if heavier else "lightest")
    others = "; ".join(f"the {p.title} weighs {w}" for _, w, p in rest)
    return f"The {winner.title} is the {word}, at {first}; {others}."


def parse_number(text: str) -> Decimal:
    """"1,250" is a thousand and more; "1,05" (a decimal comma) and "1.05" are one and a bit."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", text):
        return Decimal(text.replace(",", ""))
    return Decimal(text.replace(",", "."))
