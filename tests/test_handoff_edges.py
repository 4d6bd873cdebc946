"""Handoff edge cases on real Redis, at the engine and desk: double taps, racing resolves, the declines
count after a handoff, /forget while a person has the conversation, staff replies redelivered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from bot import messages
from bot.answerers.facts import FactAnswerer
from bot.engine import Engine, StoreInfo
from bot.handoff.desk import HandoffDesk, HandoffPolicy
from bot.outbound import HandoffOpened, Outbound, Resolved, StaffToShopper, decode
from bot.store.activity import ActivityLog
from bot.store.feedback import FeedbackStore
from bot.store.memory import RedisState
from bot.store.outbox import Outbox, outbox_stream
from bot.store.redis_keys import as_fields
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.testbot import TestBot, press

PLATFORM = "edge-cases"  # a shopper platform no adapter in the test run consumes


@dataclass
class Desk:
    engine: Engine
    desk: HandoffDesk
    redis: Redis


@pytest.fixture
async def desk(built_store: VersionStore, embedder: SentenceTransformerEmbedder, redis_url: str
               ) -> AsyncIterator[Desk]:
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    activity = ActivityLog(redis)
    handoffs = HandoffDesk(redis, Outbox(redis), activity, HandoffPolicy(after_declines=2))
    engine = Engine(RedisState(redis, 10, 3600, 1000, 600), FactAnswerer(HybridRetriever(handle, embedder)),
                    StoreInfo("Shop", "Hi"), FeedbackStore(redis), handoffs, activity)
    yield Desk(engine, handoffs, redis)
    await redis.aclose()


async def _events(redis: Redis, platform: str) -> list[Outbound]:
    """What the outbox holds for `platform`, decoded (entries of other versions left by earlier runs skipped)."""
    found = []
    for _, fields in await redis.xrange(outbox_stream(platform)):
        try:
            found.append(decode(as_fields(fields)))
        except ValueError:
            continue
    return found


async def _opened_for(redis: Redis, conversation: str) -> int:
    count = 0
    for event in await _events(redis, "slack"):
        if isinstance(event, HandoffOpened):
            owner = await redis.hget(f"storebot:handoff:{event.handoff}", "conversation")
            count += owner == conversation.encode()
    return count


async def test_a_double_tap_opens_one_handoff(desk: Desk) -> None:
    bot = TestBot(desk.engine, PLATFORM)
    assert not (await bot.ask("do you ship to mongolia?")).confident
    acks = await asyncio.gather(*(press(desk.engine, PLATFORM, bot.conversation, bot.user, "human", "Ana")
                                  for _ in range(3)))
    assert sorted(acks).count(messages.HANDOFF_ALREADY) == 2 and messages.HANDOFF_OPENED in acks
    assert await _opened_for(desk.redis, bot.conversation) == 1


async def test_racing_resolves_close_once(desk: Desk) -> None:
    bot = TestBot(desk.engine, PLATFORM)
    await bot.ask("/human")
    handoff = await desk.desk.find(PLATFORM, bot.conversation)
    assert handoff is not None
    closed = await asyncio.gather(*(desk.desk.resolve(handoff.id, f"U{i}") for i in range(3)))
    assert sum(c is not None for c in closed) == 1
    resolved = [e for e in await _events(desk.redis, PLATFORM)
                if isinstance(e, Resolved) and e.conversation == bot.conversation]
    assert len(resolved) == 1


async def test_declines_before_a_handoff_do_not_count_towards_the_next(desk: Desk) -> None:
    bot = TestBot(desk.engine, PLATFORM)
    await bot.ask("do you ship to mongolia?")
    assert (await bot.ask("what about antarctica then?")).text == messages.HANDOFF_OPENED  # two in a row
    handoff = await desk.desk.find(PLATFORM, bot.conversation)
    assert handoff is not None and await desk.desk.resolve(handoff.id, "UJANE") is not None
    again = await bot.ask("is there a loyalty program?")  # one decline after the handoff: no new handoff
    assert not again.confident and again.text != messages.HANDOFF_OPENED
    assert await desk.desk.find(PLATFORM, bot.conversation) is None


async def test_forget_works_while_a_person_has_the_conversation(desk: Desk) -> None:
    bot = TestBot(desk.engine, PLATFORM)
    await bot.ask("/human")
    await bot.push("hello?")
    bot.pop_none()  # relayed to staff: the bot is silent
    assert (await bot.ask("/forget")).text == messages.FORGOTTEN


async def test_a_redelivered_staff_reply_reaches_the_shopper_once(desk: Desk) -> None:
    bot = TestBot(desk.engine, PLATFORM)
    await bot.ask("/human")
    handoff = await desk.desk.find(PLATFORM, bot.conversation)
    assert handoff is not None
    sent = [await desk.desk.from_staff(handoff, "Jane", "On it!", "CSUPPORT:1.5") for _ in range(2)]
    assert sent == [True, False]
    relayed = [e for e in await _events(desk.redis, PLATFORM)
               if isinstance(e, StaffToShopper) and e.conversation == bot.conversation]
    assert len(relayed) == 1
