"""python-telegram-bot, polling a local Bot API stand-in, in front of the engine on real Redis."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from adapters.telegram.adapter import ONLY_TEXT, SORRY, TelegramAdapter
from bot.answerers.facts import FactAnswerer
from bot.engine import Engine, StoreInfo
from bot.feedback import FEEDBACK_STREAM, HANDOFF_STREAM, FeedbackStore
from bot.state import RedisState
from bot.types import Citation, Reply, Turn
from knowledge.embedding import SentenceTransformerEmbedder
from knowledge.live import IndexHandle
from knowledge.retrieval import HybridRetriever
from knowledge.versions import VersionStore
from tests.telegram_standin import BotApiStandIn, button_press, text_update


@pytest.fixture
async def telegram(
    built_store: VersionStore, embedder: SentenceTransformerEmbedder, redis_url: str, tmp_path: Path
) -> AsyncIterator[BotApiStandIn]:
    stand_in = BotApiStandIn()
    await stand_in.start()
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    engine = Engine(RedisState(redis, 10, 3600, 100, 600), FactAnswerer(HybridRetriever(handle, embedder)),
                    StoreInfo("Test Shop", "Hello!"), FeedbackStore(redis))
    adapter = TelegramAdapter("123:TEST", base_url=stand_in.base_url)
    await adapter.start(engine)
    try:
        yield stand_in
    finally:
        await adapter.stop()
        await stand_in.stop()
        await redis.aclose()


def _fresh_id() -> int:
    """Update ids are deduplicated in Redis for minutes; each test run uses new ones."""
    return random.randrange(10**6, 10**9)


async def _next_sent(stand_in: BotApiStandIn) -> dict[str, object]:
    return await asyncio.wait_for(stand_in.sent.get(), 10)


async def test_question_in_html_answer_out(telegram: BotApiStandIn) -> None:
    chat = 40_000 + id(telegram) % 10_000
    telegram.push_update(text_update(_fresh_id(), chat, "how much does delivery cost?"))
    sent = await _next_sent(telegram)
    assert sent["chat_id"] == chat and sent["parse_mode"] == "HTML"
    assert str(sent["text"]).startswith("Shipping is free over €60")
    assert "<b>Sources</b>" in str(sent["text"])
    methods = telegram.methods()
    assert "setMyCommands" in methods and "sendChatAction" in methods
    assert methods.index("sendChatAction") < methods.index("sendMessage")


async def test_group_chatter_is_ignored_and_non_text_gets_a_polite_reply(telegram: BotApiStandIn) -> None:
    first = _fresh_id()
    telegram.push_update(text_update(first, -777, "anyone around?", chat_type="group"))
    photo = text_update(first + 1, 4242, "x")
    del photo["message"]["text"]
    photo["message"]["photo"] = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
    telegram.push_update(photo)
    sent = await _next_sent(telegram)
    assert sent["chat_id"] == 4242 and sent["text"] == ONLY_TEXT
    assert all(p.get("chat_id") != -777 for name, p in telegram.calls if name == "sendMessage")


async def test_feedback_buttons_are_stored_in_redis(telegram: BotApiStandIn, redis_url: str) -> None:
    chat, update = random.randrange(10**6, 10**7), _fresh_id()
    telegram.push_update(text_update(update, chat, "how much does delivery cost?"))
    sent = await _next_sent(telegram)
    keyboard = sent["reply_markup"]["inline_keyboard"]  # type: ignore[index]
    assert [b["callback_data"] for b in keyboard[0]] == ["up", "down"] and len(keyboard) == 1
    telegram.push_update(button_press(update + 1, chat, "down"))
    for _ in range(100):
        if "answerCallbackQuery" in telegram.methods():
            break
        await asyncio.sleep(0.05)
    answered = [p for name, p in telegram.calls if name == "answerCallbackQuery"]
    assert answered and answered[-1]["text"] == "Thanks for the feedback!"
    redis = Redis.from_url(redis_url)
    try:
        entries = [f for _, f in await redis.xrange(FEEDBACK_STREAM) if f[b"conversation"] == str(chat).encode()]
    finally:
        await redis.aclose()
    assert len(entries) == 1 and entries[0][b"rating"] == b"down" and entries[0][b"mode"] == b"extractive"
    assert entries[0][b"question"] == b"how much does delivery cost?"
    assert entries[0][b"answer"].startswith(b"Shipping is free")
    assert b"faq/faq.csv:2" in entries[0][b"sources"]


async def test_declined_answer_offers_a_person_and_records_the_request(telegram: BotApiStandIn, redis_url: str) -> None:
    chat, update = random.randrange(10**6, 10**7), _fresh_id()
    telegram.push_update(text_update(update, chat, "what is the capital of mongolia?"))
    sent = await _next_sent(telegram)
    keyboard = sent["reply_markup"]["inline_keyboard"]  # type: ignore[index]
    assert keyboard[1][0]["callback_data"] == "human"
    telegram.push_update(button_press(update + 1, chat, "human"))
    ack = await _next_sent(telegram)
    assert ack["chat_id"] == chat and "person" in str(ack["text"])
    redis = Redis.from_url(redis_url)
    try:
        entries = [f for _, f in await redis.xrange(HANDOFF_STREAM) if f[b"conversation"] == str(chat).encode()]
    finally:
        await redis.aclose()
    assert len(entries) == 1 and entries[0][b"question"] == b"what is the capital of mongolia?"


async def test_a_429_is_retried_after_retry_after(telegram: BotApiStandIn) -> None:
    telegram.fail_next["sendMessage"] = [
        (429, {"description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}})]
    chat = random.randrange(10**6, 10**7)
    telegram.push_update(text_update(_fresh_id(), chat, "how much does delivery cost?"))
    sent = await _next_sent(telegram)
    assert sent["chat_id"] == chat and str(sent["text"]).startswith("Shipping is free")
    assert [n for n, p in telegram.calls if n == "sendMessage" and p.get("chat_id") == chat] == ["sendMessage"] * 2


async def test_edited_message_is_answered_as_the_new_question(telegram: BotApiStandIn) -> None:
    chat = random.randrange(10**6, 10**7)
    edited = text_update(_fresh_id(), chat, "can I pay with paypal?")
    edited["edited_message"] = {**edited.pop("message"), "edit_date": 1700000100}
    telegram.push_update(edited)
    sent = await _next_sent(telegram)
    assert sent["chat_id"] == chat and "PayPal" in str(sent["text"])


class _HostileAnswerer:
    """Answers with knowledge-base text full of markup, longer than one Telegram message."""

    TEXT = "\n\n".join(f"Part {i}: <script>alert(1)</script> Fish & Chips *bold _under [link. " * 12
                       for i in range(10))

    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        return Reply(self.TEXT, (Citation("n1", "Tent <Pro> & more", "https://shop.example/p?a=1&b=2"),))


async def test_hostile_and_long_answers_arrive_as_escaped_html_parts(redis_url: str) -> None:
    from adapters.telegram.formatting import MAX_MESSAGE

    stand_in = BotApiStandIn()
    await stand_in.start()
    redis = Redis.from_url(redis_url)
    engine = Engine(RedisState(redis, 10, 3600, 100, 600), _HostileAnswerer(), StoreInfo("Shop", "Hi"))
    adapter = TelegramAdapter("123:TEST", base_url=stand_in.base_url)
    await adapter.start(engine)
    try:
        chat = random.randrange(10**6, 10**7)
        stand_in.push_update(text_update(_fresh_id(), chat, "tell me everything"))
        parts = [await _next_sent(stand_in)]
        while "<b>Sources</b>" not in str(parts[-1]["text"]):
            parts.append(await _next_sent(stand_in))
    finally:
        await adapter.stop()
        await stand_in.stop()
        await redis.aclose()
    texts = [str(p["text"]) for p in parts]
    assert len(texts) >= 2 and all(len(t) <= MAX_MESSAGE for t in texts)
    assert all("<script>" not in t and "&lt;script&gt;" in t for t in texts[:-1])
    assert all(re.fullmatch(r"([^<>]|<b>|</b>|<a href=\"[^\"<>]*\">|</a>)*", t) for t in texts)
    assert all(p["parse_mode"] == "HTML" for p in parts)
    assert texts[-1].endswith('<a href="https://shop.example/p?a=1&amp;b=2">Tent &lt;Pro&gt; &amp; more</a>')
    assert "".join(texts).count("Part ") == 10 * 12


async def test_a_server_error_is_logged_not_crashed_on(telegram: BotApiStandIn) -> None:
    telegram.fail_next["sendMessage"] = [(500, {"description": "Internal Server Error"})]
    chat = random.randrange(10**6, 10**7)
    first = _fresh_id()
    telegram.push_update(text_update(first, chat, "how much does delivery cost?"))
    for _ in range(200):
        if "sendMessage" in telegram.methods():
            break
        await asyncio.sleep(0.05)
    assert telegram.fail_next["sendMessage"] == []  # the 500 was served
    apology = await _next_sent(telegram)  # the first answer was lost to the 500: the shopper is told
    assert apology["chat_id"] == chat and apology["text"] == SORRY
    telegram.push_update(text_update(first + 1, chat, "can I pay with paypal?"))
    sent = await _next_sent(telegram)  # and the bot keeps serving
    assert sent["chat_id"] == chat and "PayPal" in str(sent["text"])
