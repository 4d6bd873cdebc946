"""A burst of one conversation's messages is answered — and remembered — in the order it arrived, while other
conversations go on at the same time (Telegram and Slack, one process each)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis

from adapters.slack.adapter import SlackAdapter
from adapters.slack.settings import SlackSettings
from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.settings import TelegramSettings
from bot.app.services import Services
from bot.engine import Engine, StoreInfo
from bot.store.memory import RedisState
from bot.tasks import InOrder
from bot.types import Reply, Turn
from tests.slack_standin import SIGNING_SECRET, SignedPoster, SlackApiStandIn, direct_message
from tests.telegram_standin import BotApiStandIn, text_update

BURST = 20


@dataclass
class SlowerFirst:
    """Answers "question N" after (BURST - N) × 10 ms: handled concurrently, a burst would come back reversed."""

    started: list[str] = field(default_factory=list)

    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        self.started.append(question)
        number = int(question.rsplit(" ", 1)[-1]) if question[-1].isdigit() else 0
        await asyncio.sleep((BURST - number) * 0.01)
        return Reply(f"Answer to: {question}")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def _engine(redis: Redis) -> tuple[Engine, RedisState]:
    state = RedisState(redis, 100, 3600, 1000, 600)
    return Engine(state, SlowerFirst(), StoreInfo("Test Shop", "Hello!")), state


async def test_in_order_serves_each_key_first_come_first_served_and_forgets_idle_keys() -> None:
    in_order, done = InOrder(), []

    async def job(key: str, number: int, delay: float) -> None:
        async with in_order.hold(key):
            await asyncio.sleep(delay)
            done.append((key, number))

    await asyncio.gather(*(job("a", n, (5 - n) * 0.01) for n in range(5)), job("b", 0, 0))
    assert [n for k, n in done if k == "a"] == [0, 1, 2, 3, 4]
    assert done.index(("b", 0)) < 4  # another key did not wait for all of "a"
    assert len(in_order) == 0


async def test_a_telegram_burst_is_answered_and_remembered_in_order(redis: Redis) -> None:
    engine, state = _engine(redis)
    stand_in = BotApiStandIn()
    await stand_in.start()
    adapter = TelegramAdapter(TelegramSettings(bot_token="123:TEST", api_base_url=stand_in.base_url,
                                               flood_limits=False))
    await adapter.start(engine)
    chat, other = random.randrange(10**6, 10**7), random.randrange(10**7, 10**8)
    first = random.randrange(10**6, 10**8)
    try:
        for number in range(BURST):  # one getUpdates batch, as a burst arrives
            stand_in.push_update(text_update(first + 2 * number, chat, f"question {number}"))
            stand_in.push_update(text_update(first + 2 * number + 1, other, f"other {number}"))
        sent = [await asyncio.wait_for(stand_in.sent.get(), 20) for _ in range(2 * BURST)]
    finally:
        await adapter.stop()
        await stand_in.stop()
    mine = [str(s["text"]) for s in sent if s["chat_id"] == chat]
    assert mine == [f"Answer to: question {n}" for n in range(BURST)]
    questions = [t.text for t in await state.load("telegram", str(chat)) if t.role == "shopper"]
    assert questions == [f"question {n}" for n in range(BURST)]


async def test_a_slack_burst_is_answered_in_order(redis: Redis) -> None:
    engine, _ = _engine(redis)
    api = SlackApiStandIn()
    await api.start()
    adapter = SlackAdapter(SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                                         api_base_url=api.api_url, http_port=0, placeholder_after_s=5))
    await adapter.start(Services(engine))
    post = SignedPoster(f"http://127.0.0.1:{adapter.port}/slack/events")
    channel = f"D{random.randrange(10**8, 10**9)}"
    try:
        for number in range(BURST):  # each acknowledged at once; the answers are still being worked on
            body = direct_message(channel, "UBOB", f"question {number}", f"{time.time():.6f}")
            status, _, _ = await post.event(body)
            assert status == 200
        await api.wait_for("chat.postMessage", lambda p: p["channel"] == channel, count=BURST, within=20)
    finally:
        await post.close()
        await adapter.stop()
        await api.stop()
    posted = [p["text"] for p in api.called("chat.postMessage", lambda p: p["channel"] == channel)]
    assert posted == [f"Answer to: question {n}" for n in range(BURST)]
