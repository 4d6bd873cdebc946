"""The journal on real Redis: questions taken in once, answered in the order taken across processes, answered
by another process when the one that took them stops, and kept through a Redis outage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.store import journal as journal_module
from bot.store.connect import connect
from bot.store.journal import Journal, Taken
from bot.store.journal_keys import journal_key
from bot.store.redis_keys import RedisClient, as_text
from tests.redis_server import RedisServer, on_redis

ON_BOTH = on_redis("single", "cluster")  # a script's keys share a conversation's slot; the journals do not


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    client = connect(redis_url)
    yield client
    await client.aclose()


def _conversation() -> str:
    return str(random.randrange(10**9))


@ON_BOTH
async def test_a_delivery_again_is_dropped_and_the_journal_keeps_each_question(redis: RedisClient) -> None:
    journal, chat, other = Journal(redis, f"p{_conversation()}", 600), _conversation(), _conversation()
    first = await journal.take("telegram", chat, f"{chat}-1", 1, "q1")
    assert first is not None and first.payload == "q1"
    assert await journal.take("telegram", chat, f"{chat}-1", 1, "q1") is None  # the same event again
    assert await Journal(redis, "another", 600).take("telegram", chat, f"{chat}-1", 1, "q1") is None
    second = await journal.take("telegram", chat, f"{chat}-2", 2, "q2")
    elsewhere = await journal.take("telegram", other, f"{other}-1", 1, "q1")
    assert second is not None and elsewhere is not None
    kept = {as_text(key) for key in await redis.hkeys(journal_key("telegram", journal.consumer))}
    assert kept == {f"{chat}-1", f"{chat}-2", f"{other}-1"}


@ON_BOTH
async def test_two_deliveries_at_once_to_one_process_leave_the_question_in_its_journal(redis: RedisClient) -> None:
    """Whichever delivery's steps come first, one of the two takes the question and its journal keeps it (the
    other one must not remove it: it is the first one's)."""
    journal, chat = Journal(redis, f"p{_conversation()}", 600), _conversation()
    for n in range(20):
        both = await asyncio.gather(*(journal.take("slack", chat, f"{chat}-{n}", n, "q") for _ in range(2)))
        assert sum(taken is not None for taken in both) == 1
        assert await redis.hexists(journal_key("slack", journal.consumer), f"{chat}-{n}")


@ON_BOTH
async def test_a_delivery_again_after_the_answer_leaves_nothing_in_the_journal(redis: RedisClient) -> None:
    """Else a process that adopts this one's journal one day would answer it a second time."""
    journal, chat = Journal(redis, f"p{_conversation()}", 600), _conversation()
    taken = await journal.take("telegram", chat, f"{chat}-1", 1, "q1")
    assert taken is not None
    await journal.process(taken, lambda: asyncio.sleep(0))
    assert await journal.take("telegram", chat, f"{chat}-1", 1, "q1") is None
    assert not await redis.hlen(journal_key("telegram", journal.consumer))


@ON_BOTH
@pytest.mark.parametrize("taken_first", ["a", "b"])
async def test_questions_are_answered_in_the_platform_s_order_whichever_process_took_them(
    redis: RedisClient, taken_first: str,
) -> None:
    """Process 1 takes the first question and is slow to answer it; process 2 takes the second and must wait for
    it, then answer — not overtake; also when the second was taken before the first (two deliveries racing)."""
    one, two, chat = Journal(redis, "p1-order", 600), Journal(redis, "p2-order", 600), _conversation()
    answered: list[str] = []
    if taken_first == "a":
        first = await one.take("slack", chat, f"{chat}-a", 1700000000.000001, "a")
        second = await two.take("slack", chat, f"{chat}-b", 1700000000.000002, "b")
    else:
        second = await two.take("slack", chat, f"{chat}-b", 1700000000.000002, "b")
        first = await one.take("slack", chat, f"{chat}-a", 1700000000.000001, "a")
    assert first is not None and second is not None

    async def answer(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        answered.append(name)

    await asyncio.gather(two.process(second, lambda: answer("b", 0)), one.process(first, lambda: answer("a", 0.3)))
    assert answered == ["a", "b"]
    for process in ("p1-order", "p2-order"):
        assert not await redis.hlen(journal_key("slack", process))


@ON_BOTH
async def test_of_a_conversation_s_waiting_questions_only_the_earliest_looks_in_redis(
    redis: RedisClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A burst of one conversation's questions waiting behind another process's question: one of them asks
    Redis whose turn it is, not all forty (a burst of waiters exhausted the connection pool, and a question
    answered then waited for a connection to be marked done). They still go in order, at once when it is
    their turn."""
    mine, theirs, chat = Journal(redis, "p-burst", 600), Journal(redis, "p-other", 600), _conversation()
    looks = 0
    zrange = redis.zrange

    def counted_zrange(*args: object, **kwargs: object) -> object:
        nonlocal looks
        looks += 1
        return zrange(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(redis, "zrange", counted_zrange)
    earlier = await theirs.take("telegram", chat, f"{chat}-0", 0, "q0")
    burst = [await mine.take("telegram", chat, f"{chat}-{n}", n, f"q{n}") for n in range(1, 41)]
    assert earlier is not None and all(taken is not None for taken in burst)
    answered: list[int] = []

    async def answer(n: int) -> None:
        answered.append(n)

    waiting = [asyncio.create_task(mine.process(taken, lambda n=n: answer(n)))  # type: ignore[misc]
               for n, taken in enumerate(burst, start=1) if taken is not None]
    await asyncio.sleep(1.0)
    assert answered == [] and looks <= 20  # one looker: ~10 looks in a second, backing off to every 0.25 s
    await theirs.process(earlier, lambda: answer(0))
    await asyncio.wait_for(asyncio.gather(*waiting), 5)
    assert answered == list(range(41))

@ON_BOTH
async def test_a_question_that_failed_for_good_is_done_and_does_not_hold_the_next_one(redis: RedisClient) -> None:
    journal, chat = Journal(redis, "p1", 600), _conversation()
    first = await journal.take("slack", chat, f"{chat}-1", 1, "q")
    second = await journal.take("slack", chat, f"{chat}-2", 2, "q")
    assert first is not None and second is not None

    async def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await journal.process(first, broken)
    await asyncio.wait_for(journal.process(second, lambda: asyncio.sleep(0)), 2)


@pytest.fixture
def adopt_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "ADOPT_AFTER_S", 0.0)


@ON_BOTH
async def test_a_stopped_process_s_questions_are_answered_by_another_in_order(redis: RedisClient,
                                                                               adopt_at_once: None) -> None:
    """Process 1 took three questions of one conversation and one of another, and stopped before answering;
    process 2 adopts its journal and answers all four, each conversation in order, once."""
    platform = f"test{random.randrange(10**6)}"
    dead, alive, chat, other = Journal(redis, "dead", 600), Journal(redis, "alive", 600), _conversation(), "x"
    beating = asyncio.create_task(dead.run(platform, _never))
    await asyncio.sleep(0.2)  # marked alive, and listed as keeping a journal
    for n in range(3):
        assert await dead.take(platform, chat, f"{chat}-{n}", n, f"q{n}") is not None
    assert await dead.take(platform, other, f"{other}-0", 0, "x0") is not None
    await _cancel(beating)  # stopped (its "alive" mark goes with it)
    answered: list[str] = []

    async def answer_again(taken: Taken) -> None:
        await alive.process(taken, lambda: _record(answered, taken.payload, 0.1 if taken.order == 0 else 0))

    adopting = asyncio.create_task(alive.run(platform, answer_again))
    try:
        for _ in range(100):
            if len(answered) == 4:
                break
            await asyncio.sleep(0.05)
    finally:
        await _cancel(adopting)
    assert [a for a in answered if a.startswith("q")] == ["q0", "q1", "q2"] and "x0" in answered
    assert not await redis.hlen(journal_key(platform, "dead"))


@ON_BOTH
async def test_an_adopter_numbers_a_question_never_numbered_and_drops_one_another_process_took(
    redis: RedisClient, adopt_at_once: None,
) -> None:
    """A process that stopped between journalling a question and numbering it: the adopter numbers it. One whose
    seen mark names another process was a delivery again of that process's question: not answered twice."""
    platform, chat = f"test{random.randrange(10**6)}", _conversation()
    dead, other, adopter = Journal(redis, "dead", 600), Journal(redis, "other", 600), Journal(redis, "adopter", 600)
    await _journalled(redis, journal_key(platform, "dead"), chat, 1, "p1")
    taken_by_other = await other.take(platform, chat, f"{chat}-2", 2, "p2")
    assert taken_by_other is not None
    await other.process(taken_by_other, lambda: asyncio.sleep(0))  # answered by the process that took it
    await _journalled(redis, journal_key(platform, "dead"), chat, 2, "p2")
    await redis.hset(journal_key(platform, "dead"), "junk", "not json")
    await redis.sadd(f"storebot:journals:{platform}", "dead")
    answered: list[str] = []

    async def answer_again(taken: Taken) -> None:
        await adopter.process(taken, lambda: _record(answered, taken.payload, 0))

    del dead
    adopting = asyncio.create_task(adopter.run(platform, answer_again))
    try:
        for _ in range(60):
            if answered and not await redis.hlen(journal_key(platform, "dead")):
                break
            await asyncio.sleep(0.05)
    finally:
        await _cancel(adopting)
    assert answered == ["p1"]
    assert not await redis.hlen(journal_key(platform, "dead"))


@ON_BOTH
async def test_a_question_this_process_marked_but_lost_track_of_is_answered_once(redis: RedisClient) -> None:
    """A take whose reply was lost with its connection (Redis going away mid-trip) left the question marked as
    this process's and pending, while the take itself failed: the next delivery of it here is answered, or, if it
    went to another process (which drops it), this process's own sweep answers it."""
    platform, chat = f"test{random.randrange(10**6)}", _conversation()
    journal = Journal(redis, f"p{_conversation()}", 600)
    for n in (1, 2):
        await _journalled(redis, journal_key(platform, journal.consumer), chat, n, f"q{n}")
        assert await Journal(redis, journal.consumer, 600)._mark(
            Taken(platform, chat, f"{chat}-{n}", n, journal_key(platform, journal.consumer), f"q{n}"),
            journal.consumer) == 1
    # And one answered already, whose entry a delivery again wrote back just before Redis went away:
    done = await journal.take(platform, chat, f"{chat}-0", 0, "q0")
    assert done is not None
    await journal.process(done, lambda: asyncio.sleep(0))
    await _journalled(redis, journal_key(platform, journal.consumer), chat, 0, "q0")
    again = await journal.take(platform, chat, f"{chat}-1", 1, "q1")  # delivered here again
    assert again is not None
    assert await journal.take(platform, chat, f"{chat}-1", 1, "q1") is None  # and once more, while in hand
    answered: list[str] = []
    await journal.process(again, lambda: _record(answered, "q1", 0))

    async def answer_again(taken: Taken) -> None:
        await journal.process(taken, lambda: _record(answered, taken.payload, 0))

    sweeping = asyncio.create_task(journal.run(platform, answer_again))
    try:
        for _ in range(60):
            if len(answered) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await _cancel(sweeping)
    assert answered == ["q1", "q2"]
    assert not await redis.hlen(journal_key(platform, journal.consumer))


@ON_BOTH
async def test_a_process_just_connected_adopts_nobody_yet(redis: RedisClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a Redis outage every "alive" mark may have lapsed while its process lives on, cut off like this
    one: the others get the time to say so again before anything is adopted."""
    monkeypatch.setattr(journal_module, "ADOPT_AFTER_S", 1.5)
    platform, chat = f"test{random.randrange(10**6)}", _conversation()
    await _journalled(redis, journal_key(platform, "quiet"), chat, 1, "q")
    await redis.sadd(f"storebot:journals:{platform}", "quiet")
    answered: list[str] = []
    adopter = Journal(redis, "adopter", 600)

    async def answer_again(taken: Taken) -> None:
        await adopter.process(taken, lambda: _record(answered, taken.payload, 0))

    adopting = asyncio.create_task(adopter.run(platform, answer_again))
    try:
        await asyncio.sleep(1.0)
        assert not answered  # too early to take the silent process for dead
        await redis.set("storebot:alive:quiet", 1, ex=5)  # it is back: never adopted
        await asyncio.sleep(1.5)
        assert not answered
    finally:
        await _cancel(adopting)


async def test_a_question_taken_before_redis_went_down_is_answered_once_it_is_back(
    own_redis: RedisServer,
) -> None:
    redis = Redis.from_url(own_redis.url, socket_connect_timeout=0.5)
    journal, answered = Journal(redis, "p1", 600), []
    try:
        taken = await journal.take("slack", "c1", "c1-1", 1, "q")
        assert taken is not None
        await own_redis.stop()

        async def answer() -> None:  # needs Redis, as the engine does
            await redis.ping()
            answered.append("q")

        processing = asyncio.create_task(journal.process(taken, answer))
        await asyncio.sleep(0.5)
        assert not processing.done() and not answered  # kept, not failed
        await own_redis.start()
        await asyncio.wait_for(processing, 10)
        assert answered == ["q"]
    finally:
        await redis.aclose()


async def test_a_redis_that_came_back_empty_holds_no_question_back(own_redis: RedisServer) -> None:
    """The conversation's pending set is gone with the data: the question taken before waits for nothing."""
    redis = Redis.from_url(own_redis.url)
    journal = Journal(redis, "p1", 600)
    try:
        for n in range(2):
            await journal.take("slack", "c1", f"c1-{n}", n, "q")
        second = Taken("slack", "c1", "c1-1", 1, journal_key("slack", "p1"), "q")
        await own_redis.stop()
        await own_redis.start()
        await asyncio.wait_for(journal.process(second, lambda: asyncio.sleep(0)), 5)
    finally:
        await redis.aclose()


async def _journalled(redis: RedisClient, journal: str, chat: str, n: int, payload: str) -> None:
    """An entry as `take` leaves it in a journal, before (or without) its seen mark."""
    await redis.hset(journal, f"{chat}-{n}", json.dumps({"conversation": chat, "order": n, "payload": payload}))


async def _record(answered: list[str], payload: str, seconds: float) -> None:
    await asyncio.sleep(seconds)
    answered.append(payload)


async def _never(taken: Taken) -> None:
    raise AssertionError(f"nothing to adopt here: {taken}")


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
