"""The answer rules on their own: small talk, what a question asks, which product it names, fact phrasing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.answerers.catalogue import answer_catalogue
from bot.answerers.facts import _names_a_kind
from bot.answerers.grounding import fact_block, unsupported_figures
from bot.answerers.intents import CatalogueAsk, catalogue_ask, facets, price_comparison, variant_ask
from bot.answerers.phrasing import money, option_phrase, size_span
from bot.answerers.products import answer_product
from bot.answerers.sentences import SentencePicker
from bot.answerers.smalltalk import small_talk_kind
from knowledge.index.catalog import Catalog
from knowledge.index.product_match import ProductMatcher
from knowledge.sources.records import Origin, ProductOption, ProductRecord, Variant


def product(pid: str, title: str, price: str, colours: tuple[str, ...] = ("Black", "Gray"),
            sizes: tuple[str, ...] = ("S", "M", "L"), category: str = "Hoodies", tags: tuple[str, ...] = ()
            ) -> ProductRecord:
    variants = tuple(
        Variant((("Size", s), ("Color", c)), f"{pid.upper()}-{s}-{c}", Decimal(price), stock=5 if c != "Gray" else 0)
        for s in sizes for c in colours)
    return ProductRecord(pid, title, Origin("products/p.csv", 2), "Warm. Machine wash.", category=category, tags=tags,
                         options=(ProductOption("Size", sizes), ProductOption("Color", colours)), variants=variants,
                         currency="USD")


CHAZ = product("chaz-kangeroo-hoodie", "Chaz Kangeroo Hoodie", "52.00")
TETON = product("teton-pullover-hoodie", "Teton Pullover Hoodie", "70.00", ("Black", "Purple", "Red"))
BALL55 = product("ball-55", "Stasis Ball 55 cm", "23.00", ("Blue",), ("One",), "Balls")
BALL75 = product("ball-75", "Stasis Ball 75 cm", "32.00", ("Blue",), ("One",), "Balls")


@pytest.mark.parametrize(("text", "kind"), [
    ("hi", "hello"), ("Hello!", "hello"), ("thanks!", "thanks"), ("thanks, that's helpful", "thanks"),
    ("alright, thx bye", "bye"), ("who are you?", "who"), ("hi, how much is the tent?", None),
    ("ok how much is it", None), ("is it good?", None),
])
def test_small_talk_only_when_nothing_else_is_asked(text: str, kind: str | None) -> None:
    assert small_talk_kind(text) == kind


def test_facets_of_a_question() -> None:
    assert facets("how much is the hoodie?").price
    assert not facets("how much does it weigh").price
    assert facets("what colours does it come in").colours
    assert not facets("do you have a size chart with chest measurements?").sizes
    assert facets("is the XL one in stock?").stock and facets("sku for 36 in red?").sku
    assert catalogue_ask("any men's tees under $25?") == CatalogueAsk("under", Decimal("25"))
    assert catalogue_ask("what's the cheapest jacket") == CatalogueAsk("cheapest")
    assert catalogue_ask("and the most expensive one?") == CatalogueAsk("priciest")
    assert price_comparison("which one is more expensive?") == CatalogueAsk("priciest")
    assert catalogue_ask("i live in hawaii, is shipping more expensive?") is None  # no products ranked
    assert price_comparison("is the tent more expensive than the pad?") is None  # two named: not a ranking


def test_variant_asked_for_and_missing() -> None:
    assert variant_ask("is the XL orange one in stock?", CHAZ).chosen == ()
    assert variant_ask("got it in grey in a small?", CHAZ).chosen == (("Size", "S"), ("Color", "Gray"))
    assert variant_ask("do you have it in white", CHAZ).missing == ("white",)
    assert variant_ask("do you have it in XXL?", CHAZ).missing == ("XXL",)
    assert variant_ask("what about purple?", TETON).chosen == (("Color", "Purple"),)


def test_products_named_by_title_with_typos_sku_and_siblings() -> None:
    matcher = ProductMatcher(Catalog((CHAZ, TETON, BALL55, BALL75)))
    assert matcher.match("how much is the chaz kangaroo hoodie?")[0].product == CHAZ
    assert matcher.match("price of CHAZ-KANGEROO-HOODIE-S-BLACK")[0].exact_sku
    sibling = matcher.match("and the 55cm one", also=BALL75.title)
    assert sibling[0].product == BALL55
    assert matcher.of_kind("hoodie") == [CHAZ, TETON]
    assert matcher.of_kind("running shoes") is None


def test_products_of_a_kind_with_the_words_in_their_titles_come_first() -> None:
    """"yoga pants": a pant tagged yoga is one, but the ones called yoga pants are what the shopper means."""
    jogging = product("jog", "Geo Jogging Pant", "51.00", category="Pants", tags=("yoga",))
    yoga = product("yoga", "Cronus Yoga Pant", "48.00", category="Pants")
    track = product("track", "Thorpe Track Pant", "68.00", category="Pants")
    matcher = ProductMatcher(Catalog((jogging, track, yoga)))
    assert matcher.of_kind("yoga pants") == [yoga, jogging]
    assert matcher.of_kind_named("how much are your yoga pants?") == [yoga, jogging]
    assert matcher.of_kind("pants") == [jogging, track, yoga]  # every title holds the word: catalogue order


def test_a_question_names_a_kind_of_several_products_or_the_one_product() -> None:
    hoodie = product("hoodie", "Hoodie", "42.00")  # a store that calls one of its hoodies just "Hoodie"
    hoodies = [hoodie, CHAZ, TETON]
    matcher = ProductMatcher(Catalog(tuple(hoodies)))
    named = matcher.match("do you have hoodies?")[0]
    assert named.product == hoodie and _names_a_kind("hoodies", named, hoodies)  # the kind: list them all
    assert not _names_a_kind("hoodie", matcher.match("do you have the hoodie?")[0], hoodies)  # that one product
    chaz = matcher.match("do you have the chaz kangeroo hoodie?")[0]
    assert not _names_a_kind("chaz kangeroo hoodie", chaz, [chaz.product])


def test_catalogue_lists_with_prices() -> None:
    cheapest = answer_catalogue(CatalogueAsk("cheapest"), "hoodie", [TETON, CHAZ])
    assert cheapest.text.startswith("Our cheapest hoodie is the Chaz Kangeroo Hoodie at $52.00")
    assert cheapest.products == (CHAZ, TETON)
    under = answer_catalogue(CatalogueAsk("under", Decimal("60")), "hoodie", [TETON, CHAZ])
    assert under.text == "One option under $60.00: Chaz Kangeroo Hoodie ($52.00)."


def test_money_and_sizes() -> None:
    assert money(Decimal("1299"), "EUR") == "€1,299.00"
    assert money(Decimal("5"), "CHF") == "5.00 CHF" and money(Decimal("5"), "") == "5.00"
    assert size_span(["XS", "S", "M", "L", "XL"]) == "XS–XL"
    assert size_span(["28", "29"]) == "28 and 29"
    assert option_phrase("Size", ["One size"]) == "in one size" and option_phrase("Size", ["OS"]) == "in one size"
    assert option_phrase("Size", ["M", "L"]) == "in sizes M and L"


def test_llm_figures_checked_against_the_record() -> None:
    assert "price $52.00" in fact_block(CHAZ)
    assert unsupported_figures("It costs $52.00, SKU CHAZ-KANGEROO-HOODIE-S-BLACK.", [CHAZ], "") == []
    assert unsupported_figures("It costs $49.00.", [CHAZ], "") == ["$49.00"]
    assert unsupported_figures("Use SKU MH99-XL-Blue.", [CHAZ], "") == ["MH99-XL-Blue"]
    assert unsupported_figures("Only 3 left in stock!", [CHAZ], "") == ["3 left"]


async def _no_embedding(texts: list[str]) -> Any:
    raise AssertionError("an overview needs no sentence search")


async def test_asked_whether_we_have_it_a_sold_out_product_says_so() -> None:
    picker = SentencePicker(_no_embedding)
    gone = product("gone-hoodie", "Gone Hoodie", "30.00", ("Gray",))  # every variant out of stock
    answer = await answer_product(gone, "do you have the gone hoodie?", picker)
    assert answer.text.startswith("We carry the Gone Hoodie, at $30.00, but it's sold out right now."), answer.text
    there = await answer_product(CHAZ, "do you have the chaz kangeroo hoodie?", picker)
    assert there.text.startswith("Yes, we have the Chaz Kangeroo Hoodie, at $52.00."), there.text
