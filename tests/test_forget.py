"""/forget erases only the asking user's turns (and the replies to them): in a group the other members'
turns stay in the shared memory. The same on Redis (as `storebot serve` runs) and in the in-process state
(`storebot chat` when Redis cannot be reached); both are the whole bot of tests/testbot.py."""

from __future__ import annotations

import json
import uuid

import pytest
from redis.asyncio import Redis

from bot import messages
from bot.store.memory import RedisState
from bot.types import IncomingMessage, Reply
from tests.conftest import MakeTestBot
from tests.redis_server import on_redis
from tests.testbot import WholeBot

PLATFORM = "telegram"
UNREACHABLE = "redis://127.0.0.1:1/0"
pytestmark = on_redis("single", "cluster")


@pytest.fixture(params=["redis", "local"])
async def bot(request: pytest.FixtureRequest, make_testbot: MakeTestBot) -> WholeBot:
    if request.param == "local":
        return await make_testbot(PLATFORM, allow_local_state=True, redis_url=UNREACHABLE)
    return await make_testbot(PLATFORM)


def _id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


async def _say(bot: WholeBot, conversation: str, user: str, text: str, direct: bool = False) -> Reply:
    return await bot.ask_event(IncomingMessage(PLATFORM, conversation, user, text, is_direct=direct))


async def test_forget_in_a_group_leaves_the_other_members_turns(bot: WholeBot, redis: Redis) -> None:
    group, ana, ben = _id("group"), _id("ana"), _id("ben")
    waterproof = await _say(bot, group, ana, "is the tent waterproof?")
    await _say(bot, group, ben, "do you ship to Norway?")
    heavy = await _say(bot, group, ana, "how heavy is it?")
    await _say(bot, ben, ben, "and to Sweden?", direct=True)  # Ben's private chat with the bot
    assert (await _say(bot, group, ben, "/forget")).text == messages.FORGOTTEN
    kept = await bot.memory(group)
    assert [(t.role, t.text, t.user) for t in kept] == [
        ("shopper", "is the tent waterproof?", ana), ("bot", waterproof.text, ana),
        ("shopper", "how heavy is it?", ana), ("bot", heavy.text, ana)]
    assert await bot.memory(ben) == ()
    if isinstance(bot.state, RedisState):
        assert [k async for k in redis.scan_iter(match=f"*{ben}*")] == []  # rate counts, conversations, memory
        assert await redis.ttl(RedisState.memory_key(PLATFORM, group)) > 0  # the group's memory still expires


async def test_forget_in_a_private_chat_clears_it(bot: WholeBot, redis: Redis) -> None:
    ana = _id("ana")
    await _say(bot, ana, ana, "is the tent waterproof?", direct=True)
    await _say(bot, ana, ana, "how heavy is it?", direct=True)
    assert len(await bot.memory(ana)) == 4
    await _say(bot, ana, ana, "/forget", direct=True)
    assert await bot.memory(ana) == ()
    if isinstance(bot.state, RedisState):
        assert [k async for k in redis.scan_iter(match=f"*{ana}*")] == []


async def test_turns_stored_before_they_named_their_user_still_load_and_are_forgotten(
    redis: Redis, make_testbot: MakeTestBot
) -> None:
    bot = await make_testbot(PLATFORM)
    group, ana, ben = _id("group"), _id("ana"), _id("ben")
    old = [json.dumps({"role": "shopper", "text": "old question", "citations": [], "mode": "", "confident": True,
                       "model": "", "focus": None}),
           json.dumps({"role": "bot", "text": "old answer", "citations": [], "mode": "extractive",
                       "confident": True, "model": "", "focus": None})]
    await redis.rpush(RedisState.memory_key(PLATFORM, group), *old)
    await _say(bot, group, ana, "is the tent waterproof?")
    await _say(bot, group, ben, "do you ship to Norway?")
    loaded = await bot.memory(group)
    assert [(t.text, t.user) for t in loaded[:2]] == [("old question", ""), ("old answer", "")]
    await _say(bot, group, ben, "/forget")
    # Whose the old turns were is unknown: they go, as the whole memory did before.
    assert [t.user for t in await bot.memory(group)] == [ana, ana]
