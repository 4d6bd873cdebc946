"""The store's vocabulary and the yes/no questions it cannot answer (knowledge/index/vocabulary.py,
bot/answerers/unmentioned.py)."""

from __future__ import annotations

from bot.answerers.unmentioned import unmentioned
from knowledge.index.vocabulary import Vocabulary, stem

STORE = Vocabulary([
    "Shipping is free on orders over $50.",
    "We ship internationally from our Leeds warehouse.",
    "When returning a gift, the recipient receives store credit.",
    "The poncho wraps into its own pocket.",
    "Waterproof hikers with a cozy lining.",
])


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


def test_a_rare_word_the_answer_does_not_use_is_unmentioned_there() -> None:
    gift_returns = "When returning a gift, the recipient receives store credit."
    assert unmentioned("do you gift wrap?", STORE, answer=gift_returns) == ("wrap",)
    assert unmentioned("do you gift wrap?", STORE) == ()  # the store does use the word (the poncho)
    assert unmentioned("do you offer store credit?", STORE, answer=gift_returns) == ()
