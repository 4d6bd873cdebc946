"""The store's vocabulary and the yes/no questions it cannot answer (knowledge/index/vocabulary.py,
bot/answerers/unmentioned.py), and the small text rules replies lean on: numbers in descriptions, the verb for a
plural title."""

from __future__ import annotations

from decimal import Decimal

from bot.answerers.comparison import parse_number
from bot.answerers.phrasing import agree
from bot.answerers.unmentioned import RARE_MIN_TEXTS, unmentioned
from knowledge.index.vocabulary import Vocabulary, stem

STORE_TEXTS = [
    "Shipping is free on orders over $50.",
    "We ship internationally from our Leeds warehouse.",
    "When returning a gift, the recipient receives store credit.",
    "The poncho wraps into its own pocket.",
    "Waterproof hikers with a cozy lining.",
]
STORE = Vocabulary(STORE_TEXTS)


def test_another_form_or_a_misspelling_of_a_word_the_store_uses_is_known() -> None:
    assert stem("shipping") == stem("ship") and stem("coziness") == stem("cozy") and stem("hiking") == stem("hikers")
    for word in ("ship", "shipped", "international", "internationally", "wrapping", "cozy", "hiking", "waterprof",
                 "warehouses"):
        assert STORE.knows(word), word
    for word in ("canada", "bpa", "tall", "vegan"):  # never used; "tall" is not a misspelling of "wall"
        assert not STORE.knows(word), word


def test_an_empty_vocabulary_knows_every_word() -> None:
    assert Vocabulary([]).knows("anything")


def test_a_yes_no_question_on_a_word_never_used_is_unmentioned() -> None:
    assert unmentioned("do you ship to canada?", STORE) == ("canada",)
    assert unmentioned("do you ship to leeds?", STORE) == ()
    assert unmentioned("how long does shipping to canada take?", STORE) == ()  # not a yes/no question
    # only the first clause: the rest is the shopper's own situation
    assert unmentioned("is it waterproof? my dog hates rain", STORE) == ()


def test_a_rare_word_the_answer_does_not_use_is_unmentioned_there_in_a_large_store() -> None:
    gift_returns = "When returning a gift, the recipient receives store credit."
    large = Vocabulary([*STORE_TEXTS, *(f"Trail shoe model {n} has a grippy sole." for n in range(RARE_MIN_TEXTS))])
    assert unmentioned("do you gift wrap?", large, answer=gift_returns) == ("wrap",)
    assert unmentioned("do you gift wrap?", large) == ()  # the store does use the word (the poncho)
    assert unmentioned("do you offer store credit?", large, answer=gift_returns) == ()
    # In a small store most words are that rare: "we deliver to Canada" answers "do you ship to canada?"
    assert unmentioned("do you gift wrap?", STORE, answer=gift_returns) == ()


def test_forms_and_counts() -> None:
    assert STORE.knows("washable") is False and Vocabulary(["Machine wash cold."]).knows("washable")
    assert Vocabulary(["1,250 g"]).texts == 1


def test_a_thousands_separator_is_not_a_decimal_comma() -> None:
    assert parse_number("1,250") == Decimal(1250) and parse_number("1,05") == Decimal("1.05")
    assert parse_number("950") == Decimal(950)


def test_the_verb_agrees_with_a_plural_title() -> None:
    assert agree("Liner Socks", "costs", "cost") == "cost"
    assert agree("Trail Running Shoes Men's", "costs", "cost") == "cost"  # the plural before "Men's"
    for singular in ("Trek Merino Hiking Socks 2-Pack", "Glass", "Summit Pro 2 Four-Season Tent", "Lotus"):
        assert agree(singular, "costs", "cost") == "costs", singular
