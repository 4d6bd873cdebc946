"""A policy page as a store publishes it: the sentence that answers, not the page's words about itself, and for
a question about a policy as a whole, its rules rather than the how-to around them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app.settings import Settings
from tests.testbot import TestBot, store_of_files, whole_bot

POLICIES = """<!DOCTYPE html>
<html><head><title>Help</title></head><body>
<h1>Help</h1>
<h2>Harbor Lane Shipping and Returns</h2>
<p>Thanks for shopping with Harbor Lane. Here are our shipping and returns policies, so you know what to expect.</p>
<h2>Shipping</h2>
<p>Orders ship from our Portland warehouse within two business days. Standard shipping takes 4 to 6 business
days.</p>
<h2>Returns and Exchanges</h2>
<p>We are happy to take back anything that doesn't work out for you. Items must be returned within 45 days of
delivery, unworn and with their tags. Sale items cannot be returned.</p>
<h2>Returning by Post</h2>
<p>Print the return form from your order confirmation email and put it in the parcel with your items. Drop the
parcel at any post office and keep the receipt for your return until the refund arrives.</p>
</body></html>
"""


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    return store_of_files(tmp_path_factory.mktemp("policies"), {"pages/help.html": POLICIES}, redis_url)


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[TestBot]:
    async with whole_bot(settings) as whole:
        yield whole


async def test_a_policy_asked_for_as_a_whole_is_answered_with_its_rules(bot: TestBot) -> None:
    reply = await bot.ask("what is your return policy?")
    assert reply.confident and "within 45 days" in reply.text, reply.text
    assert "Here are our" not in reply.text and "return form" not in reply.text


async def test_a_policy_the_page_does_not_have_is_declined_not_answered_with_another_rule(bot: TestBot) -> None:
    """The rules-first order never makes a reply confident: there is no price-match policy here."""
    reply = await bot.ask("what's your price match policy?")
    assert not reply.confident, reply.text


async def test_a_sentence_about_the_page_itself_never_answers(bot: TestBot) -> None:
    """"Here are our shipping and returns policies" is the closest sentence to the question, and says nothing."""
    reply = await bot.ask("tell me about shipping and returns")
    assert reply.confident and "Here are our" not in reply.text and "Thanks for shopping" not in reply.text, \
        reply.text


async def test_a_how_to_question_still_gets_the_how_to(bot: TestBot) -> None:
    reply = await bot.ask("how do I send a return by post?")
    assert "post office" in reply.text or "return form" in reply.text, reply.text
