"""What a shopper reads, on the bundled demo store: facts from the record, the right sentence, follow-ups
that understand "it" (the focus is kept in Redis), small talk, and plain, short replies. The bot is the whole
bot of tests/testbot.py, wired from the demo store's settings as `storebot serve` wires it."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.answerers.replies import DECLINE, WHICH_PRODUCT
from bot.app.settings import DEMO_STORE, Settings
from bot.store.memory import RedisState
from tests.testbot import TestBot, built_settings, whole_bot

MARKUP = re.compile(r"(^|\n)\s*(#|[-*] )|\*\*|</?[a-z]+[ >]|\]\(")


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    """The demo store's default settings on the test Redis, its knowledge base built as `storebot kb build` does."""
    return built_settings(DEMO_STORE, tmp_path_factory.mktemp("demo") / "kb", redis_url)


@pytest.fixture
async def bot(demo_settings: Settings) -> AsyncIterator[TestBot]:
    async with whole_bot(demo_settings) as whole:
        yield whole


async def test_price_comes_from_the_record_in_one_plain_sentence(bot: TestBot) -> None:
    reply = await bot.ask("how much is the summit pro tent?")
    assert reply.text == "The Summit Pro 2 Four-Season Tent costs €449.00."
    assert [c.title for c in reply.citations] == ["Summit Pro 2 Four-Season Tent"]


async def test_colours_of_a_catalog_product_and_a_variant_it_lacks(bot: TestBot) -> None:
    colours = await bot.ask("what colors does the Ridgeline jacket come in?")
    assert "black, navy and forest green" in colours.text
    red = await bot.ask("do you have it in red?")
    assert red.confident and "doesn't come in red" in red.text and "black, navy and forest green" in red.text


async def test_it_after_an_answer_for_each_of_two_products_answers_for_each(bot: TestBot, redis: Redis) -> None:
    """Both Ridgeline jackets got their colours; "how much is it?" is about both (not the men's alone, though
    they cost the same), and "the womens one" then picks the women's, not every women's product."""
    await bot.ask("what colours does the ridgeline jacket come in?")
    stored = await redis.lrange(RedisState.memory_key(bot.platform, bot.conversation), -1, -1)
    assert json.loads(stored[0])["focus"]["alike"] is True
    price = await bot.ask("and how much is it?")
    assert price.text.count("€249.00") == 2 and "Men's" in price.text and "Women's" in price.text
    sizes = await bot.ask("the womens one, what sizes?")
    assert sizes.text == "The Ridgeline 3L Shell Jacket Women's comes in sizes XS–XL."


async def test_they_after_a_list_answers_for_each_listed(bot: TestBot) -> None:
    listed = await bot.ask("what is the cheapest jacket?")
    made = await bot.ask("what are they made of?")
    assert [c.title for c in made.citations] == [c.title for c in listed.citations]


async def test_it_after_a_cheapest_list_is_the_cheapest(bot: TestBot) -> None:
    await bot.ask("what is the cheapest jacket?")  # the cheapest, then the next two: best first, not alike
    made = await bot.ask("what is it made of?")
    assert len(made.citations) == 1


async def test_follow_ups_use_the_product_in_focus_and_reset_clears_it(bot: TestBot, redis: Redis) -> None:
    await bot.ask("how much is the summit pro tent?")
    heavy = await bot.ask("how heavy is it?")
    assert heavy.confident and "kg" in heavy.text and heavy.citations[0].title.startswith("Summit Pro")
    stored = await redis.lrange(RedisState.memory_key(bot.platform, bot.conversation), -1, -1)
    assert json.loads(stored[0])["focus"]["products"] == ["NW-TN-410"]  # the focus lives with the conversation
    await bot.ask("/reset")
    forgotten = await bot.ask("how much is it?")  # nothing in focus: a question back, not a guess
    assert forgotten.text == WHICH_PRODUCT and not forgotten.citations


async def test_a_topic_follow_up_answers_with_the_sentence_that_answers(bot: TestBot) -> None:
    await bot.ask("How much does shipping cost?")
    norway = await bot.ask("and to norway?")
    assert "14.90" in norway.text and "Norway" in norway.text and len(norway.text) < 200
    timing = await bot.ask("and how long does it take?")  # a new topic, not the cost again
    assert "business days" in timing.text and timing.citations[0].title == "How long does delivery take?"


async def test_small_talk_is_friendly_never_a_decline(bot: TestBot) -> None:
    for text in ("hi", "thanks!", "who are you?", "bye"):
        reply = await bot.ask(text)
        assert reply.confident and reply.mode == "smalltalk" and "rather not guess" not in reply.text


async def test_catalogue_questions_get_a_short_list_with_prices(bot: TestBot) -> None:
    cheapest = await bot.ask("what is the cheapest jacket?")
    assert cheapest.text.startswith("Our cheapest jacket is the") and cheapest.text.count("€") == 3
    assert len(cheapest.citations) == 3
    under = await bot.ask("any headlamps under 60?")
    assert "under €60.00" in under.text and "Beacon 400 Headlamp (€49.00)" in under.text


async def test_replies_are_plain_and_short(bot: TestBot) -> None:
    for question in ("is the summit pro tent waterproof?", "How do I wash my waterproof jacket?",
                     "tell me about the aurora down parka", "what is your return policy?"):
        reply = await bot.ask(question)
        assert not MARKUP.search(reply.text), reply.text
        assert len(reply.text) <= 650, reply.text
        assert len({c.title for c in reply.citations}) == len(reply.citations)


async def test_a_question_about_something_not_sold_declines(bot: TestBot) -> None:
    reply = await bot.ask("do you sell kayaks?")
    assert not reply.confident and "person from our team" in reply.text


def test_demo_conversation_file_exists() -> None:
    assert (Path(__file__).parent / "conversations" / "demo_store.yml").is_file()


async def test_the_cheapest_after_a_list_is_of_every_one_of_that_kind(bot: TestBot, redis: Redis) -> None:
    """Three of the six jackets are shown; "which is the cheapest?" is about all six (the €89.00 rain jacket was
    not shown, and "our cheapest item" would be wrong), and "and the most expensive?" stays with jackets."""
    listed = await bot.ask("do you have jackets?")
    assert "and 3 more" in listed.text and "Cirrus" not in listed.text
    stored = await redis.lrange(RedisState.memory_key(bot.platform, bot.conversation), -1, -1)
    assert json.loads(stored[0])["focus"]["kind"] == "jackets"  # kept in Redis with the turn
    cheapest = await bot.ask("which is the cheapest?")
    assert cheapest.text.startswith("The cheapest of our jackets is the Cirrus Packable Rain Jacket at €89.00.")
    priciest = await bot.ask("and the most expensive?")
    assert priciest.text.startswith("The most expensive of our jackets is the Aurora Down Parka Women's at €329.00.")


async def test_asked_whether_we_have_a_product_the_answer_starts_with_yes(bot: TestBot) -> None:
    socks = await bot.ask("do you have the liner socks?")
    assert socks.text.startswith("Yes, we have the Liner Socks, at €14.00."), socks.text
    tent = await bot.ask("do you guys sell the nomad tent?")  # "sell" is not a detail asked about
    assert tent.text.startswith("Yes, we have the Nomad 1 Ultralight Tent, at €279.00."), tent.text
    assert "in one size" in tent.text and "sizes one size" not in tent.text


async def test_which_one_compares_the_products_just_named(bot: TestBot) -> None:
    """After both tents: "which one is cheaper?" names it among the two (not "our cheapest item"), "which is more
    expensive?" the other, and "which one is lighter?" names it, with each tent's weight from its description."""
    await bot.ask("how much is the tent?")
    cheaper = await bot.ask("which one is cheaper?")
    assert cheaper.text == ("Of the two, the cheaper is the Nomad 1 Ultralight Tent at €279.00; the Summit Pro 2 "
                            "Four-Season Tent costs €449.00.")
    dearer = await bot.ask("which is more expensive?")
    assert dearer.text.startswith("Of the two, the more expensive is the Summit Pro 2 Four-Season Tent at €449.00")
    lighter = await bot.ask("which one is lighter?")
    assert lighter.text == ("The Nomad 1 Ultralight Tent is the lighter, at 1.05 kg; the Summit Pro 2 Four-Season "
                            "Tent weighs 3.0 kg."), lighter.text
    heavier = await bot.ask("and which is heavier?")
    assert heavier.text.startswith("The Summit Pro 2 Four-Season Tent is the heavier, at 3.0 kg"), heavier.text


async def test_a_comparison_says_which_products_it_cannot_compare(bot: TestBot) -> None:
    await bot.ask("do you have backpacks?")
    bigger = await bot.ask("which one is bigger?")  # each gives its litres, in its own words ("28-litre daypack")
    assert "45 litres" in bigger.text and "28-litre" in bigger.text and "65+10 litre" in bigger.text, bigger.text
    assert "Sizes: one adjustable size" not in bigger.text
    lighter = await bot.ask("which is lighter, the liner socks or the alpine beanie?")  # the socks give no weight
    assert lighter.text.startswith("Alpine Merino Beanie:") and lighter.text.endswith(
        "I can't find that in the details I have for the Liner Socks."), lighter.text


async def test_a_comparison_is_of_the_products_it_names_and_never_of_shipping(bot: TestBot) -> None:
    """"which is lighter, A or B?" compares A and B whatever was in focus; after the tents, a question comparing
    delivery options is not a ranking of the tents; "which of those is cheaper?" stays with the jackets shown."""
    await bot.ask("do you have jackets?")
    named = await bot.ask("which is lighter, the nomad tent or the summit pro tent?")
    assert "1.05 kg" in named.text and "Summit Pro 2" in named.text and "Jacket" not in named.text, named.text
    await bot.ask("how much is the tent?")
    delivery = await bot.ask("which shipping is more expensive, express or standard?")
    assert "Tent" not in delivery.text and "Of the two" not in delivery.text, delivery.text
    await bot.ask("do you have jackets?")
    shown = await bot.ask("which of those is cheaper?")
    assert shown.text.startswith("Of those, the cheapest is the Fjell 800 Down Jacket"), shown.text


async def test_what_kind_do_you_have_lists_them_without_a_yes(bot: TestBot) -> None:
    tents = await bot.ask("what tents do you have?")
    assert tents.text == ("We have tents: Nomad 1 Ultralight Tent (€279.00) and Summit Pro 2 Four-Season Tent "
                          "(€449.00)."), tents.text
    lightest = await bot.ask("which is the lightest?")  # the list is in focus
    assert lightest.text.startswith("The Nomad 1 Ultralight Tent is the lighter, at 1.05 kg"), lightest.text


async def test_a_figure_asked_for_comes_from_the_sentence_that_gives_it(bot: TestBot) -> None:
    """The weight sits in a sentence about the fit ("Regular fit, 360 g in size M."); "how much does it weigh"
    asks no price; "how long does the battery last" is a burn time, not a length."""
    weight = await bot.ask("how much does the fjell jacket weigh?")
    assert weight.text == "Fjell 800 Down Jacket: Regular fit, 360 g in size M.", weight.text
    await bot.ask("how much is the lumen headlamp?")
    battery = await bot.ask("how long does the battery last?")
    assert "Burn time: 3 hours at 800 lumens" in battery.text, battery.text


async def test_price_matching_is_not_a_question_about_the_price_of_the_product_in_focus(bot: TestBot) -> None:
    await bot.ask("how much is the aurora parka?")
    match = await bot.ask("do you price match?")
    assert match.text == DECLINE and not match.citations, match.text


async def test_a_comparison_none_of_them_answers_names_them_all(bot: TestBot) -> None:
    await bot.ask("do you have socks?")
    lighter = await bot.ask("which one is lighter?")
    assert not lighter.confident and lighter.text.startswith(
        "I can't find that in the details I have for the Trek Merino Hiking Socks 2-Pack and the Liner Socks."), \
        lighter.text


async def test_a_question_on_a_part_of_the_product_in_focus_stays_with_it(bot: TestBot) -> None:
    await bot.ask("how much is the scree leather trekking boot?")
    sole = await bot.ask("whats the sole made of?")
    assert sole.confident and "rubber outsole" in sole.text and sole.citations[0].title.startswith("Scree"), sole.text


async def test_a_kind_asked_for_is_named_as_the_shopper_wrote_it(bot: TestBot) -> None:
    women = await bot.ask("do you have jackets for women?")
    assert women.text.startswith("Yes, we have jackets for women: Ridgeline 3L Shell Jacket Women's"), women.text


async def test_a_plural_title_takes_a_plural_verb(bot: TestBot) -> None:
    socks = await bot.ask("how much are the liner socks?")
    assert socks.text == "The Liner Socks cost €14.00.", socks.text
    large = await bot.ask("do they come in XXL?")
    assert large.text.startswith("Sorry, the Liner Socks don't come in XXL. They come in sizes"), large.text
    tent = await bot.ask("how much is the summit pro tent?")
    assert tent.text == "The Summit Pro 2 Four-Season Tent costs €449.00."


async def test_a_fact_asked_of_other_products_is_not_a_follow_up(bot: TestBot) -> None:
    await bot.ask("how much is the tent?")
    colours = await bot.ask("what colours does the ridgeline jacket come in?")
    assert "Tent" not in colours.text and "black, navy and forest green" in colours.text, colours.text
