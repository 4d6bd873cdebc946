"""Webhook mode: PTB's own server checks the secret; two processes answer an update once."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.settings import TelegramSettings
from bot.answerers.facts import FactAnswerer
from bot.engine import Engine, StoreInfo
from bot.store.journal import Journal
from bot.store.memory import RedisState
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.redis_server import RedisServer
from tests.telegram_standin import BotApiStandIn, text_update

SECRET = "s3cret-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def two_webhook_processes(
    built_store: VersionStore, embedder: SentenceTransformerEmbedder, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[BotApiStandIn, list[str]]]:
    stand_in = BotApiStandIn()
    await stand_in.start()
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    adapters, urls = [], []
    for _ in range(2):  # two bot processes behind one URL, sharing Redis
        engine = Engine(RedisState(redis, 10, 3600, 100, 600), FactAnswerer(HybridRetriever(handle, embedder)),
                        StoreInfo("Test Shop", "Hello!"))
        port = _free_port()
        adapter = TelegramAdapter(TelegramSettings(
            bot_token="123:TEST", api_base_url=stand_in.base_url, webhook_url="https://bot.example/telegram",
            webhook_secret=SECRET, webhook_listen="127.0.0.1", webhook_port=port, webhook_path="telegram"))
        await adapter.start(engine)
        adapters.append(adapter)
        urls.append(f"http://127.0.0.1:{port}/telegram")
    try:
        yield stand_in, urls
    finally:
        for adapter in adapters:
            await adapter.stop()
        await stand_in.stop()
        await redis.aclose()


async def _post(url: str, update: dict[str, object], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with aiohttp.ClientSession() as session, session.post(url, data=json.dumps(update), headers=headers) as r:
        return r.status


async def test_webhook_is_registered_with_the_secret(two_webhook_processes: tuple[BotApiStandIn, list[str]]) -> None:
    stand_in, _ = two_webhook_processes
    registered = [p for name, p in stand_in.calls if name == "setWebhook"]
    assert registered and registered[0]["url"] == "https://bot.example/telegram"
    assert registered[0]["secret_token"] == SECRET


async def test_wrong_or_missing_secret_is_refused_and_never_answered(
    two_webhook_processes: tuple[BotApiStandIn, list[str]]
) -> None:
    stand_in, urls = two_webhook_processes
    update_id = random.randrange(10**6, 10**9)
    assert await _post(urls[0], text_update(update_id, 5151, "shipping cost?"), "wrong") == 403
    assert await _post(urls[0], text_update(update_id + 1, 5151, "shipping cost?"), None) == 403
    await asyncio.sleep(0.5)
    assert stand_in.sent.empty()


async def test_the_same_update_delivered_to_two_processes_is_answered_once(
    two_webhook_processes: tuple[BotApiStandIn, list[str]]
) -> None:
    stand_in, urls = two_webhook_processes
    update = text_update(random.randrange(10**6, 10**9), 6262, "how much does delivery cost?")
    statuses = await asyncio.gather(*(_post(url, update, SECRET) for url in urls))
    assert statuses == [200, 200]
    first = await asyncio.wait_for(stand_in.sent.get(), 10)
    assert str(first["text"]).startswith("Shipping is free")
    await asyncio.sleep(1.0)
    assert stand_in.sent.empty()


async def test_a_question_during_a_redis_outage_is_answered_when_telegram_redelivers_it(
    own_redis: RedisServer, built_store: VersionStore, embedder: SentenceTransformerEmbedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The webhook answers 500 while Redis is down — the question cannot be taken in, and there is no apology:
    it is not lost — and Telegram's redelivery after the outage is answered once; a body that is not an
    update is a 400."""
    stand_in = BotApiStandIn()
    await stand_in.start()
    redis = Redis.from_url(own_redis.url, socket_connect_timeout=0.5)
    handle = IndexHandle(built_store)
    handle.refresh()
    engine = Engine(RedisState(redis, 10, 3600, 100, 600), FactAnswerer(HybridRetriever(handle, embedder)),
                    StoreInfo("Test Shop", "Hello!"))
    port = _free_port()
    adapter = TelegramAdapter(TelegramSettings(
        bot_token="123:TEST", api_base_url=stand_in.base_url, webhook_url="https://bot.example/telegram",
        webhook_secret=SECRET, webhook_listen="127.0.0.1", webhook_port=port, webhook_path="telegram"))
    await adapter.start(engine, journal=Journal(redis, "webhook-test", 600))
    url = f"http://127.0.0.1:{port}/telegram"
    update = text_update(random.randrange(10**6, 10**9), 7373, "how much does delivery cost?")
    try:
        await own_redis.stop()
        assert await _post(url, update, SECRET) == 500  # Telegram will deliver it again
        await asyncio.sleep(0.3)
        assert stand_in.sent.empty()  # no apology for a question that will be answered
        await own_redis.start()
        assert await _post(url, update, SECRET) == 200
        sent = await asyncio.wait_for(stand_in.sent.get(), 10)
        assert str(sent["text"]).startswith("Shipping is free")
        assert await _post(url, update, SECRET) == 200  # a third delivery is a duplicate: not answered again
        await asyncio.sleep(0.5)
        assert stand_in.sent.empty()
        async with aiohttp.ClientSession() as session, session.post(
                url, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
            assert response.status == 400
    finally:
        await adapter.stop()
        await stand_in.stop()
        await redis.aclose()
