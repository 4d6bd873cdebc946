"""The engine on real Redis: answers, commands, memory, dedupe, ordering, rate limit, bad input."""

from __future__ import annotations

import asyncio
import os

import pytest
from redis.asyncio import Redis

from bot import messages
from bot.answerers.facts import FactAnswerer
from bot.answerers.replies import DECLINE
from bot.engine import Engine, StoreInfo
from bot.store.memory import RedisState
from bot.types import IncomingMessage
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.testbot import TestBot, press


@pytest.fixture
def retriever(built_store: VersionStore, embedder: SentenceTransformerEmbedder) -> HybridRetriever:
    handle = IndexHandle(built_store)
    handle.refresh()
    return HybridRetriever(handle, embedder)


def make_engine(redis: Redis, retriever: HybridRetriever, turns: int = 10, rate: int = 100, ttl: int = 3600) -> Engine:
    state = RedisState(redis, memory_turns=turns, memory_ttl_s=ttl, rate_per_minute=rate, dedupe_ttl_s=600)
    return Engine(state, FactAnswerer(retriever), StoreInfo("Test Shop", "Hello from Test Shop!"))


@pytest.fixture
def testbot(redis: Redis, retriever: HybridRetriever) -> TestBot:
    return TestBot(make_engine(redis, retriever))


async def test_grounded_answer_with_its_source(testbot: TestBot) -> None:
    reply = await testbot.ask("how much does delivery cost?")
    assert reply.confident and reply.text.startswith("Shipping is free over €60")
    assert [c.source for c in reply.citations] == ["faq/faq.csv:2"]
    sources = await testbot.ask("/sources")
    assert "How much does shipping cost?" in sources.text and sources.citations == reply.citations


async def test_unknown_question_declines_and_offers_a_human(testbot: TestBot) -> None:
    reply = await testbot.ask("what is the capital of mongolia?")
    assert not reply.confident and reply.text == DECLINE and not reply.citations


async def test_help_start_reset_and_unknown_command(testbot: TestBot) -> None:
    for command in ("/start", "/help", "/help@storebot"):
        assert "Hello from Test Shop!" in (await testbot.ask(command)).text
    await testbot.ask("can I pay with paypal?")
    assert (await testbot.ask("/reset")).text == messages.RESET
    assert (await testbot.ask("/sources")).text == messages.NO_SOURCES
    assert (await testbot.ask("/frobnicate")).text == messages.UNKNOWN_COMMAND


async def test_follow_up_is_resolved_with_the_history(testbot: TestBot, retriever: HybridRetriever) -> None:
    follow_up = "how heavy is it?"
    assert not (await retriever.asearch(follow_up, 1))[0].metadata.get("sku")  # alone it finds no product
    await testbot.ask("tell me about the Summit Pro tent")
    reply = await testbot.ask(follow_up)
    assert reply.confident and "2.1 kg" in reply.text
    assert reply.citations[0].title == "Summit Pro 2-person tent"


async def test_memory_window_and_ttl(redis: Redis, retriever: HybridRetriever) -> None:
    bot = TestBot(make_engine(redis, retriever, turns=2, ttl=900))
    for question in ("shipping cost?", "can I return an item?", "payment methods?"):
        await bot.ask(question)
    key = RedisState.memory_key(bot.platform, bot.conversation)
    stored = await RedisState(redis, 2, 900, 100, 600).load(bot.platform, bot.conversation)
    assert [t.role for t in stored] == ["shopper", "bot", "shopper", "bot"]
    assert stored[0].text == "can I return an item?"
    assert 0 < await redis.ttl(key) <= 900


async def test_two_engines_share_one_redis(redis: Redis, retriever: HybridRetriever, redis_url: str) -> None:
    other_redis = Redis.from_url(redis_url)
    try:
        first = TestBot(make_engine(redis, retriever))
        second = TestBot(make_engine(other_redis, retriever))
        second.conversation, second.user = first.conversation, first.user
        answer = await first.ask("which payment methods do you accept?")
        assert (await second.ask("/sources")).citations == answer.citations
    finally:
        await other_redis.aclose()


async def test_duplicate_event_is_answered_once_across_engines(redis: Redis, retriever: HybridRetriever) -> None:
    first, second = TestBot(make_engine(redis, retriever)), TestBot(make_engine(redis, retriever))
    second.conversation, second.user = first.conversation, first.user
    event = f"update-{os.urandom(4).hex()}"
    await asyncio.gather(first.push("shipping cost?", event), second.push("shipping cost?", event))
    replies = [*first.replies, *second.replies]
    assert sum(r is not None for r in replies) == 1
    stored = await RedisState(redis, 10, 3600, 100, 600).load(first.platform, first.conversation)
    assert len(stored) == 2


async def test_concurrent_messages_of_one_chat_are_answered_one_at_a_time(
    redis: Redis, retriever: HybridRetriever, redis_url: str
) -> None:
    other_redis = Redis.from_url(redis_url)
    try:
        engines = [make_engine(redis, retriever), make_engine(other_redis, retriever)]
        questions = [f"shipping cost question {i}?" for i in range(8)]
        await asyncio.gather(*(
            engines[i % 2].handle(IncomingMessage("console", "ordered-chat", "u-ordered", q))
            for i, q in enumerate(questions)
        ))
        stored = await RedisState(redis, 10, 3600, 100, 600).load("console", "ordered-chat")
        await redis.delete(RedisState.memory_key("console", "ordered-chat"))
        # Each question is followed by its own answer: no two answers interleave.
        assert [t.role for t in stored] == ["shopper", "bot"] * 8
        assert sorted(t.text for t in stored if t.role == "shopper") == sorted(questions)
    finally:
        await other_redis.aclose()


async def test_rate_limit_gives_one_polite_notice(redis: Redis, retriever: HybridRetriever) -> None:
    bot = TestBot(make_engine(redis, retriever, rate=3))
    for _ in range(5):
        await bot.push("shipping cost?")
    replies = list(bot.replies)
    assert all(r is not None and r.confident for r in replies[:3])
    assert replies[3] is not None and replies[3].text == messages.RATE_LIMITED
    assert replies[4] is None


async def test_forget_leaves_no_key_of_the_user(redis: Redis, testbot: TestBot) -> None:
    await testbot.ask("shipping cost?")
    assert [k async for k in redis.scan_iter(match=f"*{testbot.user}*")]
    assert (await testbot.ask("/forget")).text == messages.FORGOTTEN
    assert [k async for k in redis.scan_iter(match=f"*{testbot.user}*")] == []
    assert [k async for k in redis.scan_iter(match=f"*{testbot.conversation}*")] == []


@pytest.mark.parametrize(("text", "expected"), [
    ("", messages.EMPTY),
    ("   \n\t  ", messages.EMPTY),
    ("x" * 20_000, messages.TOO_LONG),
    ("\x00\x01\x02\x1b[31m\x7f", messages.EMPTY),
    ("\x00\x01\x02", messages.EMPTY),
    ("😀🎉👍", messages.NO_WORDS),
])
async def test_bad_input_gets_a_sensible_reply(testbot: TestBot, text: str, expected: str) -> None:
    reply = await testbot.ask(text)
    assert reply.text == expected and reply.mode == "notice"


async def test_control_characters_are_stripped_before_answering(testbot: TestBot) -> None:
    reply = await testbot.ask("how much\x00 does \u202eshipping\x1b cost?")
    assert reply.confident and reply.text.startswith("Shipping is free")


async def test_binary_garbage_gets_a_reply_not_an_exception(testbot: TestBot) -> None:
    reply = await testbot.ask(bytes(range(256)).decode("latin-1") * 3)
    assert reply.text in (DECLINE, messages.NO_WORDS) and not reply.citations


async def test_forget_also_erases_the_users_feedback(redis: Redis, retriever: HybridRetriever) -> None:
    from bot.store.feedback import FEEDBACK_STREAM, FeedbackStore

    state = RedisState(redis, memory_turns=10, memory_ttl_s=3600, rate_per_minute=100, dedupe_ttl_s=600)
    bot = TestBot(Engine(state, FactAnswerer(retriever), StoreInfo("Shop", "Hi"), FeedbackStore(redis)))
    await bot.ask("shipping cost?")
    assert await press(bot.engine, bot.platform, bot.conversation, bot.user, "up") == messages.THANKS

    async def mine() -> list[object]:
        return [f for _, f in await redis.xrange(FEEDBACK_STREAM) if f[b"user"] == bot.user.encode()]

    assert len(await mine()) == 1
    await bot.ask("/forget")
    assert await mine() == []
