"""Redis round trips per message, counted on the wire, and the lock and dedupe they carry (real Redis).

A message is the script in (bot/store/scripts.py's ADMIT), the pipeline beside it (the user's keys, which a
cluster keeps in other slots than the conversation's) and the script out (RELEASE); an activity log adds its
XADD; a handoff desk adds a GET of its pointer to the pipeline, and nothing more until a handoff is open."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bench.redis_trips import TripCounter
from bot import messages
from bot.engine import Engine, StoreInfo
from bot.handoff.desk import HandoffDesk, HandoffPolicy
from bot.store.activity import ActivityLog
from bot.store.local import LocalState
from bot.store.memory import RedisState
from bot.store.outbox import Outbox
from bot.types import IncomingMessage, Reply, Turn

PLATFORM = "trips"  # a platform no adapter in the test run consumes
BESIDE = ["SADD", "EXPIRE", "INCRBY", "EXPIRE"]  # the user's conversations (for /forget) and rate count
ONE_SCRIPT, IN_AND_OUT = [["EVALSHA"]], [["EVALSHA"], BESIDE, ["EVALSHA"]]


class EchoAnswerer:
    """Answers at once, or slowly, and fails on "boom"; remembers how many answers overlapped."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.running = 0
        self.most_at_once = 0

    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.delay)
            if question == "boom":
                raise RuntimeError("the answerer failed")
            return Reply(f"answer to {question}")
        finally:
            self.running -= 1


@pytest.fixture
async def counted(redis_url: str) -> AsyncIterator[tuple[TripCounter, Redis]]:
    counter = TripCounter()
    client = counter.client(redis_url)
    yield counter, client
    async for key in client.scan_iter(match=f"*storebot:*:{PLATFORM}:*"):
        await client.delete(key)
    await client.aclose()


def _state(redis: Redis, rate: int = 100) -> RedisState:
    return RedisState(redis, memory_turns=10, memory_ttl_s=600, rate_per_minute=rate, dedupe_ttl_s=600)


def _msg(conversation: str, text: str, event: bool = True) -> IncomingMessage:
    return IncomingMessage(PLATFORM, conversation, f"u-{conversation}", text, uuid.uuid4().hex if event else None)


async def _trips(counter: TripCounter, engine: Engine, msg: IncomingMessage) -> tuple[Reply | None, list[list[str]]]:
    counter.reset()
    reply = await engine.handle(msg)
    return reply, list(counter.trips)


async def test_a_question_is_three_trips(counted: tuple[TripCounter, Redis]) -> None:
    counter, redis = counted
    engine = Engine(_state(redis), EchoAnswerer(), StoreInfo("Shop", "Hi"))
    await engine.handle(_msg("warm-up", "hello"))  # the connection and the scripts are ready
    conversation = uuid.uuid4().hex[:8]
    for text in ("what is new?", "and after that?"):  # a new conversation, then one with memory
        reply, trips = await _trips(counter, engine, _msg(conversation, text))
        assert reply is not None and reply.text == f"answer to {text}"
        assert trips == IN_AND_OUT
    history = await _state(redis).load(PLATFORM, conversation)
    assert [t.text for t in history] == ["what is new?", "answer to what is new?", "and after that?",
                                         "answer to and after that?"]
    for command in ("/sources", "/help"):  # commands release in one trip too
        assert (await _trips(counter, engine, _msg(conversation, command)))[1] == IN_AND_OUT


async def test_activity_log_adds_its_xadd_and_the_desk_a_get(counted: tuple[TripCounter, Redis]) -> None:
    counter, redis = counted
    activity = ActivityLog(redis)
    desk = HandoffDesk(redis, Outbox(redis), activity, HandoffPolicy(after_declines=0))
    engine = Engine(_state(redis), EchoAnswerer(), StoreInfo("Shop", "Hi"), desk=desk, activity=activity)
    await engine.handle(_msg("warm-up", "hello"))
    conversation = uuid.uuid4().hex[:8]
    _, trips = await _trips(counter, engine, _msg(conversation, "what is new?"))
    assert trips == [["EVALSHA"], [*BESIDE, "GET"], ["XADD"], ["EVALSHA"]]
    await engine.handle(_msg(conversation, "/human"))
    # While a person has the conversation: the handoff record is read and the message relayed to staff.
    reply, trips = await _trips(counter, engine, _msg(conversation, "are you there?"))
    assert reply is None and trips == [["EVALSHA"], [*BESIDE, "GET"], ["HGETALL"], ["XADD"], ["EVALSHA"]]
    handoff = await desk.find(PLATFORM, conversation)
    assert handoff is not None and await desk.resolve(handoff.id, "staff") is not None


async def test_a_duplicate_delivery_is_one_trip_and_no_reply(counted: tuple[TripCounter, Redis]) -> None:
    counter, redis = counted
    engine = Engine(_state(redis), EchoAnswerer(), StoreInfo("Shop", "Hi"))
    msg = _msg(uuid.uuid4().hex[:8], "shipping?")
    first, _ = await _trips(counter, engine, msg)
    again, trips = await _trips(counter, engine, msg)
    assert first is not None and again is None and trips == ONE_SCRIPT
    assert len(await _state(redis).load(msg.platform, msg.conversation_id)) == 2


async def test_rate_limit_over_two_trips(counted: tuple[TripCounter, Redis]) -> None:
    counter, redis = counted
    engine = Engine(_state(redis, rate=2), EchoAnswerer(), StoreInfo("Shop", "Hi"))
    conversation = uuid.uuid4().hex[:8]
    replies = [await _trips(counter, engine, _msg(conversation, f"question {i}")) for i in range(4)]
    assert [r.text if r else None for r, _ in replies] == ["answer to question 0", "answer to question 1",
                                                           messages.RATE_LIMITED, None]
    assert all(trips == IN_AND_OUT for _, trips in replies)
    assert len(await _state(redis).load(PLATFORM, conversation)) == 4  # the limited ones are not remembered


async def test_two_messages_of_one_conversation_run_one_after_the_other(
    counted: tuple[TripCounter, Redis], redis_url: str
) -> None:
    _, redis = counted
    other = Redis.from_url(redis_url)  # as if another process
    try:
        answerer = EchoAnswerer(delay=0.05)
        engines = [Engine(_state(redis), answerer, StoreInfo("Shop", "Hi")),
                   Engine(_state(other), answerer, StoreInfo("Shop", "Hi"))]
        conversation = uuid.uuid4().hex[:8]
        replies = await asyncio.gather(*(e.handle(_msg(conversation, f"question {i}")) for i, e in enumerate(engines)))
        assert all(r is not None for r in replies) and answerer.most_at_once == 1
        history = await _state(redis).load(PLATFORM, conversation)
        first = history[0].text
        second = "question 1" if first == "question 0" else "question 0"
        assert [t.text for t in history] == [first, f"answer to {first}", second, f"answer to {second}"]
    finally:
        await other.aclose()


async def test_the_lock_is_released_when_the_answerer_fails(counted: tuple[TripCounter, Redis]) -> None:
    counter, redis = counted
    engine = Engine(_state(redis), EchoAnswerer(), StoreInfo("Shop", "Hi"))
    conversation = uuid.uuid4().hex[:8]
    counter.reset()
    with pytest.raises(RuntimeError, match="the answerer failed"):
        await engine.handle(_msg(conversation, "boom"))
    assert counter.trips == IN_AND_OUT
    assert not await redis.exists(RedisState.lock_key(PLATFORM, conversation))
    started = time.monotonic()
    assert await engine.handle(_msg(conversation, "and now?")) is not None
    assert time.monotonic() - started < 1
    assert [t.text for t in await _state(redis).load(PLATFORM, conversation)] == ["and now?", "answer to and now?"]


async def test_a_crashed_holder_blocks_only_until_its_lock_times_out(counted: tuple[TripCounter, Redis]) -> None:
    counter, redis = counted
    engine = Engine(_state(redis), EchoAnswerer(), StoreInfo("Shop", "Hi"))
    conversation = uuid.uuid4().hex[:8]
    await redis.set(RedisState.lock_key(PLATFORM, conversation), "a crashed process", px=300)
    started = time.monotonic()
    reply, trips = await _trips(counter, engine, _msg(conversation, "anyone?"))
    assert reply is not None and 0.2 < time.monotonic() - started < 5
    # Busy tries (the first with the dedupe mark, the rest without), then admitted, then released.
    assert len(trips) > 4 and trips[-2] == BESIDE and all(t == ["EVALSHA"] for t in trips[:-2] + trips[-1:])


async def test_a_lock_lost_to_its_timeout_is_reported_and_the_answer_kept(counted: tuple[TripCounter, Redis],
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    _, redis = counted
    state, conversation = _state(redis), uuid.uuid4().hex[:8]
    with caplog.at_level(logging.WARNING, logger="bot.store.memory"):
        async with state.admit(PLATFORM, conversation, "u1") as admission:
            await redis.set(RedisState.lock_key(PLATFORM, conversation), "another process")
            admission.remember(Turn("shopper", "hello"))
    assert [t.text for t in await state.load(PLATFORM, conversation)] == ["hello"]  # written all the same
    assert any("lock expired while answering" in r.getMessage() for r in caplog.records)


async def test_scripts_are_loaded_again_after_script_flush(counted: tuple[TripCounter, Redis]) -> None:
    counter, redis = counted
    engine = Engine(_state(redis), EchoAnswerer(), StoreInfo("Shop", "Hi"))
    await engine.handle(_msg("warm-up", "hello"))
    await redis.script_flush()
    reply, trips = await _trips(counter, engine, _msg(uuid.uuid4().hex[:8], "still there?"))
    assert reply is not None and reply.text == "answer to still there?"
    # NOSCRIPT: redis-py loads the script and sends EVALSHA again, once per script.
    assert trips == [["EVALSHA"], ["SCRIPT"], ["EVALSHA"], BESIDE, ["EVALSHA"], ["SCRIPT"], ["EVALSHA"]]
    assert (await _trips(counter, engine, _msg(uuid.uuid4().hex[:8], "and now?")))[1] == IN_AND_OUT


async def test_local_state_admits_like_redis() -> None:
    answerer = EchoAnswerer(delay=0.02)
    engine = Engine(LocalState(memory_turns=1, rate_per_minute=2), answerer, StoreInfo("Shop", "Hi"))
    msg = _msg("local", "question 0")
    assert await engine.handle(msg) is not None and await engine.handle(msg) is None  # dedupe
    replies = await asyncio.gather(*(engine.handle(_msg("local", f"question {i}")) for i in (1, 2)))
    assert answerer.most_at_once == 1
    assert [r.text if r else None for r in replies] == ["answer to question 1", messages.RATE_LIMITED]
    async with LocalState(1, 2).admit("p", "c", "u", counted=False) as admission:
        assert admission.rate_count == 0 and admission.history == () and admission.peeked is None
