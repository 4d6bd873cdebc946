"""The outbox on real Redis: in order, nothing lost when a consumer stops, nothing delivered twice,
and a delivery that keeps failing is set aside without blocking the rest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.outbound import StaffToShopper
from bot.store.connect import connect
from bot.store.outbox import DEAD_LETTERS, Deliver, Delivery, Outbox, Undeliverable, outbox_stream
from bot.store.redis_keys import RedisClient
from bot.tasks import cancel_and_wait
from tests.redis_server import RedisServer, on_redis


def note(text: str) -> StaffToShopper:
    return StaffToShopper("conversation", text)


def text_of(delivery: Delivery) -> str:
    assert isinstance(delivery.event, StaffToShopper)
    return delivery.event.text


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    client = connect(redis_url)
    yield client
    await client.aclose()


async def _run(outbox: Outbox, platform: str, consumer: str, deliver: object) -> asyncio.Task[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(outbox.consume(platform, consumer, deliver, ready))  # type: ignore[arg-type]
    await ready.wait()
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    await cancel_and_wait(task)


async def _until(condition: object, within: float = 10) -> None:
    for _ in range(int(within / 0.02)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met")


@on_redis("single", "cluster", "sentinel")
async def test_deliveries_arrive_in_order_and_survive_a_stopped_consumer(redis: Redis) -> None:
    platform = f"test-{uuid.uuid4().hex[:8]}"
    outbox = Outbox(redis, lease_ms=200, block_ms=50)
    got: list[str] = []

    async def deliver(d: Delivery) -> None:
        got.append(text_of(d))

    first = await _run(outbox, platform, "one", deliver)
    for n in range(3):
        await outbox.put(platform, note(str(n)))
    await _until(lambda: len(got) == 3)
    await _stop(first)
    for n in range(3, 6):  # nobody is consuming: they wait in Redis
        await outbox.put(platform, note(str(n)))
    second = await _run(outbox, platform, "two", deliver)
    await _until(lambda: len(got) == 6)
    await asyncio.sleep(0.5)  # past the claim idle time: nothing comes twice
    await _stop(second)
    assert got == [str(n) for n in range(6)]


@on_redis("single", "cluster")
async def test_entries_read_but_never_acknowledged_are_claimed_by_the_next_consumer(redis: Redis) -> None:
    platform = f"test-{uuid.uuid4().hex[:8]}"
    outbox = Outbox(redis, lease_ms=200, block_ms=50)
    started = asyncio.Event()

    async def crash_mid_delivery(d: Delivery) -> None:
        started.set()
        await asyncio.Event().wait()  # the process dies while sending

    dying = await _run(outbox, platform, "dying", crash_mid_delivery)
    await outbox.put(platform, note("lost?"))
    await asyncio.wait_for(started.wait(), 5)
    await _stop(dying)
    got: list[str] = []

    async def deliver(d: Delivery) -> None:
        got.append(text_of(d))

    survivor = await _run(outbox, platform, "survivor", deliver)
    await _until(lambda: got == ["lost?"])
    await _stop(survivor)


@on_redis("single", "cluster")
async def test_a_delivery_that_keeps_failing_goes_to_dead_letters_and_the_rest_still_arrive(redis: Redis) -> None:
    platform = f"test-{uuid.uuid4().hex[:8]}"
    outbox = Outbox(redis, block_ms=50, max_attempts=2)
    got: list[str] = []

    async def deliver(d: Delivery) -> None:
        if text_of(d) == "bad":
            raise RuntimeError("chat not found")
        got.append(text_of(d))

    task = await _run(outbox, platform, "one", deliver)
    for n in ("a", "bad", "b"):
        await outbox.put(platform, note(n))
    await _until(lambda: got == ["a", "b"])
    await _stop(task)
    dead = [f for _, f in await redis.xrange(DEAD_LETTERS) if f[b"stream"].endswith(platform.encode())]
    assert len(dead) == 1 and b'"text": "bad"' in dead[0][b"data"] and dead[0][b"type"] == b"StaffToShopper"


class _FlakyRedis:
    """The real Redis, whose first reads fail the way a dropped connection does."""

    def __init__(self, real: Redis, failures: int) -> None:
        self._real = real
        self.failures = failures

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    async def xreadgroup(self, *args: object, **kwargs: object) -> object:
        if self.failures:
            self.failures -= 1
            raise RedisConnectionError("Connection reset by peer")
        return await self._real.xreadgroup(*args, **kwargs)  # type: ignore[arg-type]


async def test_a_redis_outage_pauses_delivery_and_never_ends_it(redis: Redis) -> None:
    platform = f"test-{uuid.uuid4().hex[:8]}"
    flaky = _FlakyRedis(redis, failures=2)
    outbox = Outbox(flaky, block_ms=50)  # type: ignore[arg-type]
    got: list[str] = []

    async def deliver(d: Delivery) -> None:
        got.append(text_of(d))

    await outbox.put(platform, note("after the outage"))
    task = await _run(outbox, platform, "one", deliver)
    await _until(lambda: got == ["after the outage"], within=15)
    assert flaky.failures == 0 and not task.done()
    await _stop(task)


async def test_delivery_resumes_after_a_redis_restart(own_redis: RedisServer) -> None:
    client = Redis.from_url(own_redis.url)
    outbox = Outbox(client, block_ms=50)
    got: list[str] = []

    async def deliver(d: Delivery) -> None:
        got.append(text_of(d))

    task = await _run(outbox, "telegram", "one", deliver)
    try:
        await outbox.put("telegram", note("before"))
        await _until(lambda: got == ["before"])
        await own_redis.stop()
        await asyncio.sleep(0.5)
        await own_redis.start()  # empty: the stream and its group are gone
        producer = Redis.from_url(own_redis.url)  # another process (this client's pooled connections are stale)
        await Outbox(producer).put("telegram", note("after"))
        await producer.aclose()
        await _until(lambda: got == ["before", "after"])
        assert not task.done()
    finally:
        await _stop(task)
        await client.aclose()


@on_redis("single", "cluster")
async def test_an_undeliverable_entry_is_set_aside_at_once(redis: Redis) -> None:
    platform = f"test-{uuid.uuid4().hex[:8]}"
    outbox = Outbox(redis, block_ms=50, max_attempts=5)
    tries: list[str] = []

    async def deliver(d: Delivery) -> None:
        tries.append(text_of(d))
        if text_of(d) == "blocked":
            raise Undeliverable("Forbidden: bot was blocked by the user")

    task = await _run(outbox, platform, "one", deliver)
    for n in ("blocked", "next"):
        await outbox.put(platform, note(n))
    await _until(lambda: tries == ["blocked", "next"], within=3)  # no retries, no backoff
    await _stop(task)
    dead = [f for _, f in await redis.xrange(DEAD_LETTERS) if f[b"stream"].endswith(platform.encode())]
    assert [f[b"data"].count(b'"blocked"') for f in dead] == [1]


@on_redis("single", "cluster")
async def test_an_entry_no_sender_understands_is_set_aside_and_the_rest_flow(redis: Redis) -> None:
    platform = f"test-{uuid.uuid4().hex[:8]}"
    outbox = Outbox(redis, lease_ms=100, block_ms=50)
    got: list[str] = []

    async def deliver(d: Delivery) -> None:
        got.append(text_of(d))

    task = await _run(outbox, platform, "one", deliver)
    await redis.xadd(outbox_stream(platform), {"kind": "staff", "text": "from an older version"})
    await redis.xadd(outbox_stream(platform), {"type": "StaffToShopper", "data": "{not json"})
    await outbox.put(platform, note("after"))
    await _until(lambda: got == ["after"])
    await _stop(task)
    dead = [f for _, f in await redis.xrange(DEAD_LETTERS) if f[b"stream"].endswith(platform.encode())]
    assert len(dead) == 2


def test_every_outbound_event_survives_the_outbox_encoding() -> None:
    from bot.outbound import HandoffOpened, Reminder, ReplyTo, Resolved, ShopperToStaff, TranscriptLine, decode, encode
    from bot.types import Citation, Focus, Reply

    reply = Reply("Tent: €199", (Citation("n1", "Tent", "https://x/t", "products.csv:2"),), focus=Focus(
        ("tent",), "", "how much?", (("Size", "2P"),)))
    events = [HandoffOpened("H1", "telegram", "Ana", "asked", (TranscriptLine("shopper", "hi ünïcode"),), "Hello",
                            (Citation("n1", "Tent"),)),
              ShopperToStaff("H1", "Ana", "still there?"), StaffToShopper("42", "Yes", "Jo"),
              Resolved("H1", "42", "Ana", "U1"), Reminder("H1", "42", "Ana", 15), ReplyTo("42", reply)]
    for event in events:
        assert decode(encode(event)) == event


@on_redis("single", "cluster")
async def test_a_crash_mid_delivery_keeps_the_order_and_one_deliverer_at_a_time(redis: Redis) -> None:
    """The handoff relay's case: killed while posting message 1 of 5; the next process sends 1 first, then the rest
    — never 2, 3, 4, 5 and 1 a minute later."""
    platform = f"test-{uuid.uuid4().hex[:8]}"
    outbox = Outbox(redis, lease_ms=300, block_ms=50)
    started = asyncio.Event()

    async def crash_mid_delivery(d: Delivery) -> None:
        started.set()
        await asyncio.Event().wait()  # the process dies while sending (its lease stays until it runs out)

    dying = await _run(outbox, platform, "dying", crash_mid_delivery)
    for n in range(1, 6):
        await outbox.put(platform, note(str(n)))
    await asyncio.wait_for(started.wait(), 5)
    await _stop(dying)
    got: list[str] = []
    delivering: list[str] = []

    async def deliver_as(name: str) -> Deliver:
        async def deliver(d: Delivery) -> None:
            delivering.append(name)
            got.append(text_of(d))
        return deliver

    survivor = await _run(outbox, platform, "survivor", await deliver_as("survivor"))
    standby = await _run(outbox, platform, "standby", await deliver_as("standby"))
    for n in range(6, 9):
        await outbox.put(platform, note(str(n)))
    await _until(lambda: len(got) == 8)
    await _stop(survivor)
    await _stop(standby)
    assert got == [str(n) for n in range(1, 9)]
    assert len(set(delivering)) == 1  # one deliverer held the lease throughout


def test_entries_queued_by_the_previous_version_are_still_delivered() -> None:
    from bot.outbound import HandoffOpened, Reminder, Resolved, ShopperToStaff, TranscriptLine, decode

    assert decode({"kind": "staff", "conversation": "42", "text": "On it", "staff": "Jo"}) == StaffToShopper(
        "42", "On it", "Jo")
    assert decode({"kind": "shopper", "handoff": "H1", "text": "hello?"}) == ShopperToStaff("H1", "the shopper",
                                                                                           "hello?")
    opened = decode({"kind": "opened", "handoff": "H1", "platform": "telegram", "name": "Ana", "reason": "asked",
                     "transcript": '[{"role": "shopper", "text": "hi"}]', "last_answer": "", "sources": "[]"})
    assert opened == HandoffOpened("H1", "telegram", "Ana", "asked", (TranscriptLine("shopper", "hi"),))
    assert decode({"kind": "waiting", "conversation": "42"}) == Reminder("", "42", "the shopper", 0)
    assert decode({"kind": "resolved", "handoff": "H1", "by": "U1"}) == Resolved("H1", "", "the shopper", "U1")
    with pytest.raises(ValueError, match="previous version"):
        decode({"kind": "staff", "text": "no conversation"})
