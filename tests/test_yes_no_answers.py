"""Yes/no questions on a small made-up store: a sentence merely on the same subject never says yes or no to
something the store's data never mentions ("is it BPA free?" → not "Made of steel."), a question for the store
is not pinned on the product talked of, and a question with nothing named gets a question back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.answerers.replies import DECLINE, WHICH_PRODUCT
from bot.app.settings import Settings
from tests.testbot import TestBot, store_of_files, whole_bot

CATALOG = """sku,title,description,price,was_price,sizes,colors,material,category,url,currency
FW-BT-1,Trailhead Steel Water Bottle,"Double-wall stainless steel keeps drinks cold for 24 hours.
Powder-coated finish.
Leak-proof screw cap.
Carry loop.",29.00,35.00,,,stainless steel,bottles,\
https://fernwood.example/p/FW-BT-1,USD
FW-PN-2,Alder Hooded Rain Poncho,"A light poncho for sudden showers. The adjustable hood has a stiffened brim. \
Wraps into its own chest pocket.",45.00,,S/M|L/XL,olive|slate,ripstop nylon,rainwear,https://fernwood.example/p/FW-PN-2,USD
FW-BN-3,Cedar Merino Beanie,"A soft beanie knitted from merino wool. Machine wash cold and lay flat to dry.",\
32.00,,,charcoal|moss|rust,merino wool,hats,https://fernwood.example/p/FW-BN-3,USD
FW-MG-4,Fernwood Mug,"An enamel mug for the campfire and the kitchen table.",18.00,,,,enamel steel,mugs,\
https://fernwood.example/p/FW-MG-4,USD
"""
HELP = """<!DOCTYPE html>
<html><head><title>Help</title></head><body>
<h1>Help</h1>
<h2>Shipping</h2>
<p>We ship to every US state, Alaska and Hawaii included. Orders leave our warehouse within two business days.</p>
<h2>Gifts</h2>
<p>When returning a gift, the recipient receives store credit for the amount paid. Gift cards can be used online
and never expire.</p>
<h2>Tax</h2>
<p>Sales tax is added at checkout for orders shipped to states that charge it.</p>
</body></html>
"""


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    files = {"products/catalog.csv": CATALOG, "pages/help.html": HELP}
    return store_of_files(tmp_path_factory.mktemp("fernwood"), files, redis_url)


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[TestBot]:
    async with whole_bot(settings) as whole:
        yield whole


async def test_a_property_the_store_never_mentions_is_not_answered_with_a_sentence_on_the_subject(bot: TestBot
                                                                                                  ) -> None:
    await bot.ask("how much is the trailhead bottle?")
    bpa = await bot.ask("is it BPA free?")
    assert not bpa.confident and "Trailhead Steel Water Bottle" in bpa.text, bpa.text
    cold = await bot.ask("does it keep drinks cold?")  # the record does say so
    assert cold.confident and "24 hours" in cold.text, cold.text


async def test_a_place_or_service_the_pages_never_mention_declines(bot: TestBot) -> None:
    canada = await bot.ask("do you ship to canada?")
    assert canada.text == DECLINE, canada.text
    alaska = await bot.ask("do you ship to alaska?")  # a control: the page names it
    assert alaska.confident and "Alaska and Hawaii" in alaska.text, alaska.text
    credit = await bot.ask("do gift cards expire?")
    assert credit.confident and "never expire" in credit.text, credit.text


async def test_a_question_for_the_store_is_not_pinned_on_the_product_in_focus(bot: TestBot) -> None:
    await bot.ask("how much is the fernwood mug?")
    reply = await bot.ask("do you gift wrap?")
    assert reply.text == DECLINE and not reply.citations, reply.text


async def test_a_half_named_product_never_gets_a_store_question_declined_in_its_name(bot: TestBot) -> None:
    reply = await bot.ask("is there a fernwood shop in denver i can visit?")
    assert reply.text == DECLINE, reply.text


async def test_a_word_of_the_products_own_name_is_still_asked_about(bot: TestBot) -> None:
    await bot.ask("how much is the alder poncho?")
    hood = await bot.ask("does it have a hood?")
    assert hood.text == "Alder Hooded Rain Poncho: The adjustable hood has a stiffened brim.", hood.text


async def test_a_detail_follow_up_after_a_variant_says_only_the_detail(bot: TestBot) -> None:
    await bot.ask("do you have the cedar beanie in moss?")
    wash = await bot.ask("can i machine wash it?")
    assert wash.text == "Cedar Merino Beanie: Machine wash cold and lay flat to dry.", wash.text
    others = await bot.ask("do you have other colours?")  # still the beanie
    assert others.text == "The Cedar Merino Beanie comes in charcoal, moss and rust.", others.text


async def test_whether_it_comes_with_one_thing_is_not_answered_with_a_contents_list(bot: TestBot) -> None:
    await bot.ask("how much is the trailhead bottle?")
    warranty = await bot.ask("does it come with a warranty?")
    assert not warranty.confident and "comes with:" not in warranty.text, warranty.text


async def test_nothing_named_yet_gets_a_question_back_and_the_answer_follows_the_name(bot: TestBot) -> None:
    which = await bot.ask("what colours are available?")
    assert which.text == WHICH_PRODUCT and which.confident
    named = await bot.ask("the cedar beanie")
    assert "charcoal, moss and rust" in named.text, named.text


async def test_what_is_on_sale_lists_what_is_reduced_and_says_when_nothing_is(bot: TestBot) -> None:
    sale = await bot.ask("what's on sale?")
    assert sale.text == "On sale now: Trailhead Steel Water Bottle ($29.00, was $35.00).", sale.text
    hats = await bot.ask("which hats are on sale?")
    assert hats.text == "I can't see any hats on sale right now.", hats.text
    beanie = await bot.ask("is the cedar beanie on sale?")  # a product's own question, not a list
    assert beanie.text.startswith("The Cedar Merino Beanie costs $32.00"), beanie.text


async def test_sales_tax_and_deals_for_students_are_not_questions_about_reduced_products(bot: TestBot) -> None:
    tax = await bot.ask("what is the sales tax?")
    assert tax.confident and "added at checkout" in tax.text, tax.text
    students = await bot.ask("any deals for students?")
    assert "On sale now" not in students.text, students.text


async def test_asking_for_a_detail_of_the_product_in_focus_stays_with_it(bot: TestBot) -> None:
    await bot.ask("how much is the cedar beanie?")
    material = await bot.ask("can you tell me the material?")
    assert material.confident and "merino wool" in material.text and "Cedar" in material.text, material.text


@pytest.fixture(scope="module")
def one_product(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    rows = CATALOG.splitlines(keepends=True)
    first_row = "".join(rows[: next(i for i, r in enumerate(rows) if r.startswith("FW-PN-2"))])
    return store_of_files(tmp_path_factory.mktemp("one"), {"products/catalog.csv": first_row}, redis_url)


async def test_a_store_of_one_product_never_asks_which_product(one_product: Settings) -> None:
    async with whole_bot(one_product) as bot:
        price = await bot.ask("how much is it?")
    assert "$29.00" in price.text and price.text != WHICH_PRODUCT, price.text


async def test_a_size_asked_of_a_product_sold_in_one_version(bot: TestBot) -> None:
    await bot.ask("how much is the fernwood mug?")
    large = await bot.ask("does it come in large?")
    assert large.text == "Sorry, the Fernwood Mug doesn't come in L. It comes in one version only.", large.text
    small = await bot.ask("is it small enough to pack?")  # not a size asked for
    assert "doesn't come in" not in small.text, small.text
