"""/forget erases only the asking user's turns (and the replies to them): in a group the other members'
turns stay in the shared memory. The same on Redis and in the in-process state."""

from __future__ import annotations

import json
import uuid

import pytest
from redis.asyncio import Redis

from bot import messages
from bot.engine import Engine, StoreInfo
from bot.store.local import LocalState
from bot.store.memory import RedisState
from bot.types import ConversationState, IncomingMessage, Reply, Turn

PLATFORM = "telegram"


class _Echo:
    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        return Reply(f"About {question}")


@pytest.fixture(params=["redis", "local"])
def state(request: pytest.FixtureRequest, redis: Redis) -> ConversationState:
    if request.param == "local":
        return LocalState(memory_turns=10, rate_per_minute=100)
    return RedisState(redis, memory_turns=10, memory_ttl_s=3600, rate_per_minute=100, dedupe_ttl_s=600)


def _id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


async def _say(engine: Engine, conversation: str, user: str, text: str, direct: bool = False) -> Reply:
    reply = await engine.handle(IncomingMessage(PLATFORM, conversation, user, text, is_direct=direct))
    assert reply is not None
    return reply


async def test_forget_in_a_group_leaves_the_other_members_turns(state: ConversationState, redis: Redis) -> None:
    engine = Engine(state, _Echo(), StoreInfo("Shop", "Hi"))
    group, ana, ben = _id("group"), _id("ana"), _id("ben")
    await _say(engine, group, ana, "is the tent waterproof?")
    await _say(engine, group, ben, "do you ship to Norway?")
    await _say(engine, group, ana, "how heavy is it?")
    await _say(engine, ben, ben, "and to Sweden?", direct=True)  # Ben's private chat with the bot
    assert (await _say(engine, group, ben, "/forget")).text == messages.FORGOTTEN
    kept = await state.load(PLATFORM, group)
    assert [(t.role, t.text, t.user) for t in kept] == [
        ("shopper", "is the tent waterproof?", ana), ("bot", "About is the tent waterproof?", ana),
        ("shopper", "how heavy is it?", ana), ("bot", "About how heavy is it?", ana)]
    assert await state.load(PLATFORM, ben) == ()
    if isinstance(state, RedisState):
        assert [k async for k in redis.scan_iter(match=f"*{ben}*")] == []  # rate counts, conversations, memory
        assert await redis.ttl(RedisState.memory_key(PLATFORM, group)) > 0  # the group's memory still expires


async def test_forget_in_a_private_chat_clears_it(state: ConversationState, redis: Redis) -> None:
    engine = Engine(state, _Echo(), StoreInfo("Shop", "Hi"))
    ana = _id("ana")
    await _say(engine, ana, ana, "is the tent waterproof?", direct=True)
    await _say(engine, ana, ana, "how heavy is it?", direct=True)
    assert len(await state.load(PLATFORM, ana)) == 4
    await _say(engine, ana, ana, "/forget", direct=True)
    assert await state.load(PLATFORM, ana) == ()
    if isinstance(state, RedisState):
        assert [k async for k in redis.scan_iter(match=f"*{ana}*")] == []


async def test_turns_stored_before_they_named_their_user_still_load_and_are_forgotten(redis: Redis) -> None:
    state = RedisState(redis, memory_turns=10, memory_ttl_s=3600, rate_per_minute=100, dedupe_ttl_s=600)
    engine = Engine(state, _Echo(), StoreInfo("Shop", "Hi"))
    group, ana, ben = _id("group"), _id("ana"), _id("ben")
    old = [json.dumps({"role": "shopper", "text": "old question", "citations": [], "mode": "", "confident": True,
                       "model": "", "focus": None}),
           json.dumps({"role": "bot", "text": "old answer", "citations": [], "mode": "extractive",
                       "confident": True, "model": "", "focus": None})]
    await redis.rpush(RedisState.memory_key(PLATFORM, group), *old)
    await _say(engine, group, ana, "is the tent waterproof?")
    await _say(engine, group, ben, "do you ship to Norway?")
    loaded = await state.load(PLATFORM, group)
    assert [(t.text, t.user) for t in loaded[:2]] == [("old question", ""), ("old answer", "")]
    await _say(engine, group, ben, "/forget")
    # Whose the old turns were is unknown: they go, as the whole memory did before.
    assert [t.user for t in await state.load(PLATFORM, group)] == [ana, ana]
