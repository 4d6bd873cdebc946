"""python-telegram-bot, polling a local Bot API stand-in, in front of the engine on real Redis."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from adapters.telegram.adapter import ONLY_TEXT, TelegramAdapter
from bot.answer_extractive import ExtractiveAnswerer
from bot.engine import Engine, StoreInfo
from bot.state import RedisState
from knowledge.embedding import SentenceTransformerEmbedder
from knowledge.live import IndexHandle
from knowledge.retrieval import HybridRetriever
from knowledge.versions import VersionStore
from tests.telegram_standin import BotApiStandIn, text_update


@pytest.fixture
async def telegram(
    built_store: VersionStore, embedder: SentenceTransformerEmbedder, redis_url: str, tmp_path: Path
) -> AsyncIterator[BotApiStandIn]:
    stand_in = BotApiStandIn()
    await stand_in.start()
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    engine = Engine(RedisState(redis, 10, 3600, 100, 600), ExtractiveAnswerer(HybridRetriever(handle, embedder)),
                    StoreInfo("Test Shop", "Hello!"))
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
