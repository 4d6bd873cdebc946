"""python-telegram-bot, polling a local Bot API stand-in, in front of the engine on real Redis."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from adapters.telegram import senders as telegram_senders
from adapters.telegram.adapter import BUTTON_FAILED, EXPIRED, ONLY_TEXT, SORRY, TelegramAdapter
from adapters.telegram.questions import Questions
from adapters.telegram.settings import TelegramSettings
from bot.answerers.facts import FactAnswerer
from bot.engine import Engine, StoreInfo
from bot.store.feedback import FEEDBACK_STREAM, HANDOFF_STREAM, FeedbackStore
from bot.store.journal import Journal
from bot.store.memory import RedisState
from bot.types import Citation, IncomingMessage, Reply, Turn
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.delayed_answerer import DelayedAnswerer
from tests.telegram_standin import BotApiStandIn, button_press, photo_update, text_update


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
    adapter = TelegramAdapter(TelegramSettings(bot_token="123:TEST", api_base_url=stand_in.base_url))
    await adapter.start(engine, journal=Journal(redis, "polling-test", 600))
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
    assert "setMyCommands" in telegram.methods()
    # A quick answer costs one Bot API call: no "typing…" before it (calls count against the flood limit).
    assert [name for name, p in telegram.calls if p.get("chat_id") == chat] == ["sendMessage"]


async def test_group_chatter_is_ignored_and_non_text_gets_a_polite_reply(telegram: BotApiStandIn) -> None:
    first = _fresh_id()
    telegram.push_update(text_update(first, -777, "anyone around?", chat_type="group"))
    telegram.push_update(photo_update(first + 1, 4242))  # no caption
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


async def _query_answer(stand_in: BotApiStandIn, query_id: str) -> dict[str, object]:
    for _ in range(200):
        found = [p for n, p in stand_in.calls if n == "answerCallbackQuery" and p["callback_query_id"] == query_id]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"button press {query_id} was never answered")


async def test_a_button_we_do_not_know_or_without_its_message_is_still_answered(telegram: BotApiStandIn) -> None:
    chat, update = random.randrange(10**6, 10**7), _fresh_id()
    telegram.push_update(button_press(update, chat, "v1:garbage\x00"))
    telegram.push_update(button_press(update + 1, chat, "up", on_message=False))
    assert (await _query_answer(telegram, f"cb-{update}")).get("text") == EXPIRED
    assert (await _query_answer(telegram, f"cb-{update + 1}")).get("text") == EXPIRED
    assert all(p.get("chat_id") != chat for n, p in telegram.calls if n == "sendMessage")  # no apology message


async def test_a_button_the_core_fails_on_is_answered_and_logged(
    telegram: BotApiStandIn, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> str:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(Engine, "handle", broken)
    chat, update = random.randrange(10**6, 10**7), _fresh_id()
    with caplog.at_level(logging.ERROR, logger="adapters.telegram.adapter"):
        telegram.push_update(button_press(update, chat, "up"))
        assert (await _query_answer(telegram, f"cb-{update}")).get("text") == BUTTON_FAILED
    assert any(f"button 'up' in chat {chat} failed" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_a_photo_is_read_by_its_caption(telegram: BotApiStandIn) -> None:
    chat = random.randrange(10**6, 10**7)
    telegram.push_update(photo_update(_fresh_id(), chat, "how much is the tent?"))
    sent = await _next_sent(telegram)
    assert sent["chat_id"] == chat and sent["text"] != ONLY_TEXT
    assert "349" in str(sent["text"]) and "Summit Pro" in str(sent["text"])


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
    adapter = TelegramAdapter(TelegramSettings(bot_token="123:TEST", api_base_url=stand_in.base_url))
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


@dataclass
class SlowRig:
    stand_in: BotApiStandIn
    adapter: TelegramAdapter
    answerer: DelayedAnswerer


@pytest.fixture
async def slow_telegram(
    built_store: VersionStore, embedder: SentenceTransformerEmbedder, redis_url: str
) -> AsyncIterator[SlowRig]:
    """The whole engine on real Redis behind an answerer that takes 0.3 s; "typing…" after 0.05 s."""
    stand_in = BotApiStandIn()
    await stand_in.start()
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    answerer = DelayedAnswerer(FactAnswerer(HybridRetriever(handle, embedder)), delay=0.3)
    engine = Engine(RedisState(redis, 10, 3600, 100, 600), answerer, StoreInfo("Test Shop", "Hello!"))
    adapter = TelegramAdapter(TelegramSettings(bot_token="123:TEST", api_base_url=stand_in.base_url,
                                               typing_after_s=0.05))
    await adapter.start(engine, journal=Journal(redis, "slow-test", 600))
    try:
        yield SlowRig(stand_in, adapter, answerer)
    finally:
        await adapter.stop()
        await stand_in.stop()
        await redis.aclose()


def _calls_for(stand_in: BotApiStandIn, chat: int) -> list[str]:
    return [name for name, p in stand_in.calls if p.get("chat_id") == chat]


async def test_a_slow_answer_shows_typing_first_and_repeats_it(slow_telegram: SlowRig,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telegram_senders, "TYPING_EVERY_S", 0.08)  # Telegram's ~5 s, scaled to the 0.3 s answer
    chat = random.randrange(10**6, 10**7)
    slow_telegram.stand_in.push_update(text_update(_fresh_id(), chat, "how much does delivery cost?"))
    sent = await _next_sent(slow_telegram.stand_in)
    assert sent["chat_id"] == chat and str(sent["text"]).startswith("Shipping is free over €60")
    calls = _calls_for(slow_telegram.stand_in, chat)
    assert calls[-1] == "sendMessage" and set(calls[:-1]) == {"sendChatAction"} and len(calls) >= 3  # repeated
    assert all(p["action"] == "typing" for n, p in slow_telegram.stand_in.calls if n == "sendChatAction")
    await asyncio.sleep(0.3)  # and it stops once the answer is out
    assert _calls_for(slow_telegram.stand_in, chat) == calls


async def test_a_failed_typing_action_still_delivers_the_answer(slow_telegram: SlowRig,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    slow_telegram.stand_in.fail_next["sendChatAction"] = [(400, {"description": "Bad Request: not enough rights"})]
    chat = random.randrange(10**6, 10**7)
    with caplog.at_level(logging.WARNING, logger="adapters.telegram.adapter"):
        slow_telegram.stand_in.push_update(text_update(_fresh_id(), chat, "how much does delivery cost?"))
        sent = await _next_sent(slow_telegram.stand_in)
    assert sent["chat_id"] == chat and str(sent["text"]).startswith("Shipping is free over €60")
    assert _calls_for(slow_telegram.stand_in, chat) == ["sendChatAction", "sendMessage"]
    assert any(f"could not show typing in chat {chat}" in r.getMessage() for r in caplog.records)


async def test_a_duplicate_delivery_shows_no_typing(slow_telegram: SlowRig) -> None:
    chat, update = random.randrange(10**6, 10**7), _fresh_id()
    slow_telegram.stand_in.push_update(text_update(update, chat, "how much does delivery cost?"))
    await _next_sent(slow_telegram.stand_in)
    before = len(_calls_for(slow_telegram.stand_in, chat))
    slow_telegram.stand_in.push_update(text_update(update, chat, "how much does delivery cost?"))  # again
    await asyncio.sleep(0.5)
    assert len(_calls_for(slow_telegram.stand_in, chat)) == before  # dropped when taken in: no typing, no reply


def _questions(rig: SlowRig) -> Questions:
    assert rig.adapter._questions is not None
    return rig.adapter._questions


async def test_cancelling_the_handler_cancels_the_answering(slow_telegram: SlowRig) -> None:
    slow_telegram.answerer.delay = 30
    chat = random.randrange(10**6, 10**7)
    message = IncomingMessage("telegram", str(chat), str(chat), "how much does delivery cost?", str(_fresh_id()))
    handler = asyncio.create_task(_questions(slow_telegram)._answer(chat, message))
    await asyncio.sleep(0.5)  # answering, and typing shown
    started = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ in ("Engine.handle", "keep_typing")]
    assert len(started) == 2 and "sendChatAction" in _calls_for(slow_telegram.stand_in, chat)
    handler.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handler
    assert all(task.done() for task in started)  # neither the answering nor the typing outlives the handler
    slow_telegram.answerer.delay = 0  # and the conversation is free again: its lock was released
    again = IncomingMessage("telegram", str(chat), str(chat), "can I pay with paypal?", str(_fresh_id()))
    reply = await asyncio.wait_for(_questions(slow_telegram)._answer(chat, again), 5)
    assert reply is not None and "PayPal" in reply.text
