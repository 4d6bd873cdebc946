"""A failure inside the core never leaves a Telegram shopper in silence: Redis down, or no index yet."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from adapters.telegram.adapter import SORRY, TelegramAdapter
from adapters.telegram.settings import TelegramSettings
from bot.answerers.facts import FactAnswerer
from bot.engine import Engine, StoreInfo
from bot.store.memory import RedisState
from bot.store.outbox import Outbox
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.telegram_standin import BotApiStandIn, text_update


async def _serve(engine: Engine) -> tuple[BotApiStandIn, TelegramAdapter]:
    stand_in = BotApiStandIn()
    await stand_in.start()
    adapter = TelegramAdapter(TelegramSettings(bot_token="123:TEST", api_base_url=stand_in.base_url))
    await adapter.start(engine)
    return stand_in, adapter


@pytest.fixture
async def redis_down() -> AsyncIterator[Redis]:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)  # nothing listens there
    yield client
    await client.aclose()


@pytest.mark.parametrize("broken", ["redis", "index"])
async def test_the_shopper_gets_an_apology_and_the_error_is_logged_with_the_update_id(
    broken: str, redis_down: Redis, redis_url: str, built_store: VersionStore, embedder: SentenceTransformerEmbedder,
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    redis = redis_down if broken == "redis" else Redis.from_url(redis_url)
    handle = IndexHandle(built_store if broken == "redis" else VersionStore(tmp_path / "empty"))
    handle.refresh()  # the empty store has no version: answering raises NoIndexError
    engine = Engine(RedisState(redis, 10, 3600, 100, 600), FactAnswerer(HybridRetriever(handle, embedder)),
                    StoreInfo("Test Shop", "Hello!"))
    stand_in, adapter = await _serve(engine)
    update_id, chat = random.randrange(10**6, 10**9), 51_000 + random.randrange(1000)
    try:
        with caplog.at_level(logging.ERROR, logger="adapters.telegram.adapter"):
            stand_in.push_update(text_update(update_id, chat, "how much does delivery cost?"))
            sent = await asyncio.wait_for(stand_in.sent.get(), 10)
        assert sent["chat_id"] == chat and sent["text"] == SORRY
        assert any(f"update {update_id} failed" in r.getMessage() for r in caplog.records)
    finally:
        await adapter.stop()
        await stand_in.stop()
        if broken == "index":
            await redis.aclose()


async def test_answers_telegram_refuses_for_a_while_are_sent_later_once_each_and_in_order(
    redis_url: str, built_store: VersionStore, embedder: SentenceTransformerEmbedder,
) -> None:
    """Bad gateways beyond PTB's handling: the answer waits in the outbox, the chat's next answer queues behind it,
    and both arrive when Telegram is back — once each, in the order asked, no apology."""
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    engine = Engine(RedisState(redis, 10, 3600, 100, 600), FactAnswerer(HybridRetriever(handle, embedder)),
                    StoreInfo("Test Shop", "Hello!"))
    stand_in = BotApiStandIn()
    await stand_in.start()
    stand_in.fail_next["sendMessage"] = [(502, {"description": "Bad Gateway"})] * 4
    adapter = TelegramAdapter(TelegramSettings(bot_token="123:TEST", api_base_url=stand_in.base_url))
    await adapter.start(engine, Outbox(redis, lease_ms=500, block_ms=50))
    chat, update_id = random.randrange(10**6, 10**7), random.randrange(10**6, 10**8)
    try:
        stand_in.push_update(text_update(update_id, chat, "how much does delivery cost?"))
        for _ in range(250):  # the first answer met the 502 and was queued
            if any(m == "sendMessage" for m, _ in stand_in.calls):
                break
            await asyncio.sleep(0.02)
        stand_in.push_update(text_update(update_id + 1, chat, "can I pay with paypal?"))
        first = await asyncio.wait_for(stand_in.sent.get(), 30)
        second = await asyncio.wait_for(stand_in.sent.get(), 30)
        await asyncio.sleep(0.5)
        assert stand_in.sent.empty()  # each once, and no apology
    finally:
        await adapter.stop()
        await stand_in.stop()
        await redis.aclose()
    assert "Shipping" in str(first["text"]) and "PayPal" in str(second["text"])
    assert stand_in.fail_next["sendMessage"] == []  # every 502 was served
