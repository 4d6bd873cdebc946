"""The engine on real Redis: answers, commands, memory, dedupe, ordering, rate limit, bad input.

Each test runs the whole bot as `storebot serve` wires it (tests/testbot.py), over the tiny knowledge base;
"two engines" are two such bots, as two serving processes would be. Every test runs on one server, on a Redis
Cluster and on a Sentinel's master."""

from __future__ import annotations

import asyncio
import os

import pytest
from redis.asyncio import Redis

from bot import messages
from bot.answerers.replies import DECLINE
from bot.store.memory import RedisState
from bot.types import IncomingMessage
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.retrieval import HybridRetriever
from tests.conftest import MakeTestBot
from tests.redis_server import on_redis
from tests.testbot import TestBot, WholeBot

pytestmark = on_redis("single", "cluster", "sentinel")


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


async def test_follow_up_is_resolved_with_the_history(testbot: WholeBot, embedder: SentenceTransformerEmbedder) -> None:
    follow_up = "how heavy is it?"
    retriever = HybridRetriever(testbot.handle, embedder)  # over the index the bot serves
    assert not (await retriever.asearch(follow_up, 1))[0].metadata.get("sku")  # alone it finds no product
    await testbot.ask("tell me about the Summit Pro tent")
    reply = await testbot.ask(follow_up)
    assert reply.confident and "2.1 kg" in reply.text
    assert reply.citations[0].title == "Summit Pro 2-person tent"


async def test_memory_window_and_ttl(redis: Redis, make_testbot: MakeTestBot) -> None:
    bot = await make_testbot(memory_turns=2, memory_ttl_s=900)
    for question in ("shipping cost?", "can I return an item?", "payment methods?"):
        await bot.ask(question)
    key = RedisState.memory_key(bot.platform, bot.conversation)
    stored = await RedisState(redis, 2, 900, 100, 600).load(bot.platform, bot.conversation)
    assert [t.role for t in stored] == ["shopper", "bot", "shopper", "bot"]
    assert stored[0].text == "can I return an item?"
    assert 0 < await redis.ttl(key) <= 900


async def test_two_engines_share_one_redis(make_testbot: MakeTestBot) -> None:
    first, second = await make_testbot(), await make_testbot()  # each with its own Redis client
    second.conversation, second.user = first.conversation, first.user
    answer = await first.ask("which payment methods do you accept?")
    assert (await second.ask("/sources")).citations == answer.citations


async def test_duplicate_event_is_answered_once_across_engines(redis: Redis, make_testbot: MakeTestBot) -> None:
    first, second = await make_testbot(), await make_testbot()
    second.conversation, second.user = first.conversation, first.user
    event = f"update-{os.urandom(4).hex()}"
    await asyncio.gather(first.push("shipping cost?", event), second.push("shipping cost?", event))
    replies = [*first.replies, *second.replies]
    assert sum(r is not None for r in replies) == 1
    stored = await RedisState(redis, 10, 3600, 100, 600).load(first.platform, first.conversation)
    assert len(stored) == 2


async def test_concurrent_messages_of_one_chat_are_answered_one_at_a_time(make_testbot: MakeTestBot) -> None:
    bots = [await make_testbot(rate_limit_per_minute=100), await make_testbot(rate_limit_per_minute=100)]
    chat, user = bots[0].conversation, bots[0].user
    questions = [f"shipping cost question {i}?" for i in range(8)]
    await asyncio.gather(*(
        bots[i % 2].push_event(IncomingMessage("console", chat, user, q)) for i, q in enumerate(questions)
    ))
    stored = await bots[0].memory()
    # Each question is followed by its own answer: no two answers interleave.
    assert [t.role for t in stored] == ["shopper", "bot"] * 8
    assert sorted(t.text for t in stored if t.role == "shopper") == sorted(questions)


async def test_rate_limit_gives_one_polite_notice(make_testbot: MakeTestBot) -> None:
    bot = await make_testbot(rate_limit_per_minute=3)
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


async def test_forget_also_erases_the_users_feedback(redis: Redis, testbot: TestBot) -> None:
    from bot.store.feedback import FEEDBACK_STREAM

    await testbot.ask("shipping cost?")
    assert (await testbot.ask_event(testbot.button("up"))).text == messages.THANKS

    async def mine() -> list[object]:
        return [f for _, f in await redis.xrange(FEEDBACK_STREAM) if f[b"user"] == testbot.user.encode()]

    assert len(await mine()) == 1
    await testbot.ask("/forget")
    assert await mine() == []
