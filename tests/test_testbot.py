"""The whole bot, wired as `storebot serve` wires it, in two-line behaviour tests (tests/testbot.py):
push what a person sends, pop what the bot sends back."""

from __future__ import annotations

from redis.asyncio import Redis

from bot import messages
from bot.events import OpsCommand, Resolve, StaffReply
from bot.store.local import LocalState
from bot.store.memory import RedisState
from bot.store.outbox import Outbox
from tests.conftest import MakeTestBot
from tests.testbot import TestBot, WholeBot


async def test_greeting(testbot: TestBot) -> None:
    assert "Hello from Test Shop!" in (await testbot.ask("/start")).text
    assert (await testbot.ask("hi")).text.startswith("Hi! Welcome to Test Shop.")


async def test_price_from_the_tiny_knowledge_base(testbot: TestBot) -> None:
    reply = await testbot.ask("how much is the summit pro tent?")
    assert reply.text == "The Summit Pro 2-person tent costs 349.00."


async def test_follow_up_understands_it(testbot: TestBot) -> None:
    await testbot.ask("tell me about the Summit Pro tent")
    assert "2.1 kg" in (await testbot.ask("how heavy is it?")).text


async def test_reset_forgets_what_it_was(testbot: TestBot) -> None:
    await testbot.ask("tell me about the Summit Pro tent")
    assert await testbot.memory()
    assert (await testbot.ask("/reset")).text == messages.RESET
    assert not await testbot.memory()  # the turns and the product in focus are gone
    # (the tiny store sells one product, so "how heavy is it?" is still about the tent: see test_answers.py for a
    # store where /reset leaves "it" unknown)


async def test_ops_command_refused_for_a_shopper(testbot: TestBot) -> None:
    refused = await testbot.ask_event(OpsCommand("console", testbot.user, "kb reload"))
    assert refused.text == messages.OPS_REFUSED and not refused.confident


async def test_ops_commands_allowed_for_the_ops_team(make_testbot: MakeTestBot) -> None:
    bot = await make_testbot(ops_user_ids="UOPS")
    assert (await bot.ask_event(OpsCommand("console", "UOPS", "report"))).text.startswith("Last 7 days:")
    assert "Live version" in (await bot.ask_event(OpsCommand("console", "UOPS", "kb status"))).text


async def test_kb_status_is_open_to_anyone(testbot: WholeBot) -> None:
    status = await testbot.ask_event(OpsCommand("console", testbot.user, "kb status"))
    assert f"This process serves {testbot.handle.version}" in status.text


async def test_button_press_is_acknowledged(testbot: TestBot) -> None:
    await testbot.ask("how much does shipping cost?")
    assert (await testbot.ask_event(testbot.button("up"))).text == messages.THANKS


async def test_talk_to_a_person_with_handoff_to_slack(make_testbot: MakeTestBot) -> None:
    bot = await make_testbot(handoff_to="slack")
    assert (await bot.ask_event(bot.button("human"))).text == messages.HANDOFF_OPENED
    await bot.push("are you there?")  # the person has the conversation now: relayed, and the bot stays silent
    bot.pop_none()


async def test_staff_talk_outside_a_handoff_is_ignored_and_resolving_nothing_says_so(testbot: TestBot) -> None:
    await testbot.push_event(StaffReply("slack", "C1:1.0", "USTAFF", "just chatting"))
    testbot.pop_none()
    closed = await testbot.ask_event(Resolve("slack", "USTAFF", handoff_id="H-NONE"))
    assert closed.text == messages.NO_HANDOFF.format(id="H-NONE")


async def test_the_harness_runs_the_serve_wiring_on_redis(testbot: WholeBot, redis_url: str) -> None:
    assert testbot.running.notice is None and isinstance(testbot.state, RedisState)
    assert isinstance(testbot.running.services.outbox, Outbox) and testbot.settings.redis_url == redis_url
    await testbot.ask("can I pay with paypal?")
    async with Redis.from_url(testbot.settings.redis_url) as redis:
        stored = await redis.lrange(RedisState.memory_key(testbot.platform, testbot.conversation), 0, -1)
    assert len(stored) == 2 and (await testbot.memory())[0].text == "can I pay with paypal?"


async def test_every_bot_has_its_own_conversation(make_testbot: MakeTestBot) -> None:
    first, second = await make_testbot(), await make_testbot()
    await first.ask("which payment methods do you accept?")
    assert (first.conversation, first.user) != (second.conversation, second.user)
    assert (await second.ask("/sources")).text == messages.NO_SOURCES


async def test_without_redis_the_chat_fallback_keeps_memory_in_process(make_testbot: MakeTestBot) -> None:
    bot = await make_testbot(redis_url="redis://127.0.0.1:1/0", allow_local_state=True)
    assert isinstance(bot.state, LocalState) and bot.running.notice and "not reachable" in bot.running.notice
    await bot.ask("tell me about the Summit Pro tent")
    assert "2.1 kg" in (await bot.ask("how heavy is it?")).text
