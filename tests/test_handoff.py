"""Handoff end to end: a shopper on Telegram reaches a person in Slack and comes back.

Two "processes" (one Telegram adapter, one Slack adapter, each with its own engine and desk) share
nothing but a real Redis; both platforms are local stand-ins driven through the real libraries.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from adapters.slack.adapter import SlackAdapter
from adapters.slack.settings import SlackSettings
from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.settings import TelegramSettings
from bot import messages
from bot.answerers.facts import FactAnswerer
from bot.answerers.replies import DECLINE
from bot.app.services import Services
from bot.engine import Engine, StoreInfo
from bot.handoff.desk import HandoffDesk, HandoffPolicy
from bot.ops.desk import OpsDesk, OpsPolicy
from bot.ops.kb import KnowledgeOps
from bot.ops.reports import Reports
from bot.store.activity import ActivityLog
from bot.store.feedback import FeedbackStore
from bot.store.memory import RedisState
from bot.store.outbox import Outbox
from knowledge.index.builder import BuildOptions
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.slack_standin import SIGNING_SECRET, SignedPoster, SlackApiStandIn, action_body
from tests.telegram_standin import BotApiStandIn, button_press, text_update

SUPPORT = "CSUPPORT"


@dataclass
class Sides:
    telegram_api: BotApiStandIn
    slack_api: SlackApiStandIn
    redis: Redis
    telegram: TelegramAdapter
    slack: SlackAdapter
    slack_services: Services
    make_services: Callable[[], Services]
    poster: SignedPoster

    async def restart_slack(self) -> None:
        """Stops the Slack process and starts a new one (new consumer, same Redis)."""
        await self.slack.stop()
        await self.poster.close()
        self.slack_services = self.make_services()
        self.slack = _slack_adapter(self.slack_api)
        await self.slack.start(self.slack_services)
        self.poster = SignedPoster(f"http://127.0.0.1:{self.slack.port}/slack/events")


def _slack_adapter(api: SlackApiStandIn) -> SlackAdapter:
    return SlackAdapter(SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET, api_base_url=api.api_url,
                                      http_port=0, support_channel=SUPPORT))


@pytest.fixture
async def sides(built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder, redis_url: str,
                tmp_path: Path) -> AsyncIterator[Sides]:
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    retriever = HybridRetriever(handle, embedder)

    def make_services() -> Services:  # one process's wiring; processes share only Redis
        outbox = Outbox(redis, lease_ms=300, block_ms=100)
        activity = ActivityLog(redis)
        desk = HandoffDesk(redis, outbox, activity, HandoffPolicy(remind_after_s=3600, after_declines=2))
        ops = KnowledgeOps(built_store, tiny_source, lambda: embedder, tmp_path / "cache.sqlite", BuildOptions(),
                           redis, handle)
        ops_desk = OpsDesk(ops, Reports(redis, activity, lambda: embedder, retriever), OpsPolicy(frozenset({"UOPS"})))
        engine = Engine(RedisState(redis, 10, 3600, 1000, 600), FactAnswerer(retriever),
                        StoreInfo("Test Shop", "Hello!"), FeedbackStore(redis), desk, activity, ops_desk)
        return Services(engine, outbox, desk, desk)

    telegram_api, slack_api = BotApiStandIn(), SlackApiStandIn()
    await telegram_api.start()
    await slack_api.start()
    slack_api.display_names["UJANE"] = "Jane"
    telegram_services = make_services()
    telegram = TelegramAdapter(TelegramSettings(bot_token="123:TEST", api_base_url=telegram_api.base_url))
    await telegram.start(telegram_services.engine, telegram_services.outbox)
    slack_services = make_services()
    slack = _slack_adapter(slack_api)
    await slack.start(slack_services)
    rig = Sides(telegram_api, slack_api, redis, telegram, slack, slack_services, make_services,
                SignedPoster(f"http://127.0.0.1:{slack.port}/slack/events"))
    try:
        yield rig
    finally:
        await rig.slack.stop()
        await telegram.stop()
        await rig.poster.close()
        await telegram_api.stop()
        await slack_api.stop()
        await redis.aclose()


# PTB polls with offset = last update id + 1, so ids must grow within a run (and differ across runs: dedupe).
_UPDATE_IDS = itertools.count(int(time.time() * 10) % 10**8 * 10, 10)


def _ids() -> tuple[int, int]:
    """A fresh chat, and an update id with room for +1..+9 after it."""
    return random.randrange(10**6, 10**7), next(_UPDATE_IDS)


async def _sent_to(api: BotApiStandIn, chat: int, where: Callable[[dict[str, Any]], bool] = lambda p: True,
                   count: int = 1, within: float = 15) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    while True:
        found = [p for name, p in api.calls if name == "sendMessage" and p.get("chat_id") in (chat, str(chat))
                 and where(p)]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} message(s) to {chat}, got {found}")
        await asyncio.sleep(0.02)


def _texts(api: BotApiStandIn, chat: int) -> list[str]:
    return [str(p["text"]) for name, p in api.calls if name == "sendMessage" and p.get("chat_id") in (chat, str(chat))]


def _in_thread(root: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    return lambda p: p.get("channel") == SUPPORT and p.get("thread_ts") == root["posted_ts"]


def _staff_message(user: str, text: str, root: dict[str, Any]) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    return {"type": "message", "channel": SUPPORT, "channel_type": "channel", "user": user, "text": text, "ts": ts,
            "thread_ts": root["posted_ts"], "event_ts": ts}


async def _root_of(sides: Sides, chat: int) -> dict[str, Any]:
    """The Slack thread's first message for this chat's open handoff."""
    handoff = await sides.slack_services.desk.find("telegram", str(chat))  # type: ignore[union-attr]
    assert handoff is not None
    [root] = await sides.slack_api.wait_for("chat.postMessage", lambda p: p.get("channel") == SUPPORT
                                            and p.get("thread_ts") is None
                                            and str(p.get("text")).startswith(f"Handoff {handoff.id}:"))
    return root


async def _open_by_button(sides: Sides, chat: int, update: int) -> dict[str, Any]:
    """Shopper asks what the bot cannot answer, taps "Talk to a person"; returns the Slack thread's root."""
    sides.telegram_api.push_update(text_update(update, chat, "do you ship to mongolia?"))
    [declined] = await _sent_to(sides.telegram_api, chat)
    assert str(declined["text"]).startswith(DECLINE[:20])
    sides.telegram_api.push_update(button_press(update + 1, chat, "human"))
    await _sent_to(sides.telegram_api, chat, lambda p: p["text"] == messages.HANDOFF_OPENED)
    root = await _root_of(sides, chat)
    assert "do you ship to mongolia?" in str(root["blocks"])
    return root


async def test_a_shopper_reaches_a_person_and_comes_back(sides: Sides) -> None:
    chat, update = _ids()
    root = await _open_by_button(sides, chat, update)
    blocks = str(root["blocks"])
    assert "Ana" in blocks and "telegram" in blocks and "asked for a person" in blocks
    assert DECLINE[:30] in blocks  # the bot's last answer is in the transcript
    answered = [p for n, p in sides.telegram_api.calls if n == "answerCallbackQuery"]
    assert answered[-1]["text"] == messages.HANDOFF_OPENED
    handoff = await sides.slack_services.desk.by_thread(f"{SUPPORT}:{root['posted_ts']}")  # type: ignore[union-attr]
    assert handoff is not None and handoff.platform == "telegram" and handoff.conversation == str(chat)

    # The bot is silent; the shopper's words go to the thread.
    before = len(_texts(sides.telegram_api, chat))
    sides.telegram_api.push_update(text_update(update + 2, chat, "how much does delivery cost?"))
    [relayed] = await sides.slack_api.wait_for("chat.postMessage", _in_thread(root))
    assert "Ana: how much does delivery cost?" in str(relayed["blocks"])
    await asyncio.sleep(0.5)
    assert len(_texts(sides.telegram_api, chat)) == before  # no bot answer while a person has it

    # Staff reply in the thread reaches the shopper, with the staff member's name.
    status, _, _ = await sides.poster.event(_staff_message("UJANE", "Hi Ana, we ship to Mongolia in 7 days &amp; "
                                                                    "it's <b>free</b>.", root))
    assert status == 200
    [staff] = await _sent_to(sides.telegram_api, chat, lambda p: "(support)" in str(p["text"]))
    assert staff["text"] == "Jane (support): Hi Ana, we ship to Mongolia in 7 days & it's <b>free</b>."
    assert "parse_mode" not in staff  # staff text is sent as plain text, never parsed as markup

    # Resolve with the button: the shopper is told, the thread notes it, and the bot answers again.
    url = sides.slack_api.response_url()
    await sides.poster.form(action_body("storebot_resolve", handoff.id, "UJANE", SUPPORT, url))
    await _sent_to(sides.telegram_api, chat, lambda p: p["text"] == messages.HANDOFF_RESOLVED)
    await sides.slack_api.wait_for("chat.postMessage", lambda p: _in_thread(root)(p) and "Resolved by" in p["text"])
    sides.telegram_api.push_update(text_update(update + 3, chat, "how much does delivery cost?"))
    await _sent_to(sides.telegram_api, chat, lambda p: str(p["text"]).startswith("Shipping is free"))
    # A second resolve is refused politely.
    await sides.poster.form(action_body("storebot_resolve", handoff.id, "UJANE", SUPPORT, url))
    await sides.slack_api.wait_for_response(lambda r: "already closed" in r["text"])


async def test_asking_for_a_person_or_repeated_declines_open_a_handoff(sides: Sides) -> None:
    for ask, in_transcript in (("/human", False), ("can I talk to an agent please", True)):
        chat, update = _ids()
        sides.telegram_api.push_update(text_update(update, chat, ask))
        [notice] = await _sent_to(sides.telegram_api, chat)
        assert notice["text"] == messages.HANDOFF_OPENED
        root = await _root_of(sides, chat)
        assert "Ana on telegram (asked for a person)" in str(root["blocks"])
        assert (ask in str(root["blocks"])) is in_transcript  # commands are not part of the conversation
    chat, update = _ids()
    sides.telegram_api.push_update(text_update(update, chat, "do you ship to mongolia?"))
    await _sent_to(sides.telegram_api, chat)
    sides.telegram_api.push_update(text_update(update + 1, chat, "what about antarctica then?"))
    [_, second] = await _sent_to(sides.telegram_api, chat, count=2)
    assert second["text"] == messages.HANDOFF_OPENED  # two declines in a row
    blocks = str((await _root_of(sides, chat))["blocks"])
    assert "the bot could not answer" in blocks
    assert "do you ship to mongolia?" in blocks and "what about antarctica then?" in blocks


async def test_a_slack_restart_mid_handoff_loses_nothing_and_repeats_nothing(sides: Sides) -> None:
    chat, update = _ids()
    root = await _open_by_button(sides, chat, update)
    await sides.slack.stop()  # the Slack process goes away
    sides.telegram_api.push_update(text_update(update + 2, chat, "are you there?"))
    await asyncio.sleep(0.3)  # PTB handles updates concurrently; a person does not type two messages in 1 ms
    sides.telegram_api.push_update(text_update(update + 3, chat, "hello??"))
    await asyncio.sleep(0.5)
    assert not sides.slack_api.called("chat.postMessage", _in_thread(root))  # queued in Redis meanwhile
    await sides.restart_slack()
    relayed = await sides.slack_api.wait_for("chat.postMessage", _in_thread(root), count=2)
    assert [p["text"] for p in relayed] == ["Ana: are you there?", "Ana: hello??"]
    await sides.poster.event(_staff_message("UJANE", "Yes, here!", root))  # the new process relays staff replies
    await _sent_to(sides.telegram_api, chat, lambda p: p["text"] == "Jane (support): Yes, here!")
    await asyncio.sleep(0.8)  # longer than the claim idle time: nothing is delivered twice
    assert len(sides.slack_api.called("chat.postMessage", _in_thread(root))) == 2
    assert len(sides.slack_api.called("chat.postMessage", lambda p: p.get("posted_ts") == root["posted_ts"])) == 1
    assert len([t for t in _texts(sides.telegram_api, chat) if "Yes, here!" in t]) == 1


async def test_an_unanswered_handoff_gets_a_reminder_and_an_honest_message_once(sides: Sides) -> None:
    chat, update = _ids()
    root = await _open_by_button(sides, chat, update)
    desk = sides.slack_services.desk
    assert desk is not None
    assert await desk.remind(now=time.time()) == 0  # not due yet
    assert await desk.remind(now=time.time() + 3601) >= 1
    assert await desk.remind(now=time.time() + 7200) == 0  # each handoff is reminded once
    await sides.slack_api.wait_for("chat.postMessage", lambda p: _in_thread(root)(p) and "Nobody has answered Ana"
                                   in p["text"] and "<!here>" in p["text"])
    await _sent_to(sides.telegram_api, chat, lambda p: p["text"] == messages.HANDOFF_WAITING)


async def test_resolve_by_command_and_by_mention_in_the_thread(sides: Sides) -> None:
    chat, update = _ids()
    root = await _open_by_button(sides, chat, update)
    handoff = await sides.slack_services.desk.by_thread(f"{SUPPORT}:{root['posted_ts']}")  # type: ignore[union-attr]
    assert handoff is not None
    from tests.slack_standin import command_body, mention

    _, text, _ = await sides.poster.form(command_body(f"resolve {handoff.id}", "UJANE", SUPPORT,
                                                      sides.slack_api.response_url()))
    assert f"Handoff {handoff.id} resolved" in text
    await _sent_to(sides.telegram_api, chat, lambda p: p["text"] == messages.HANDOFF_RESOLVED)
    # A new handoff in another conversation, closed with "@storebot resolve" in its thread.
    chat, update = _ids()
    root = await _open_by_button(sides, chat, update)
    await sides.poster.event(mention(SUPPORT, "UJANE", "resolve", f"{time.time():.6f}", thread_ts=root["posted_ts"]))
    await _sent_to(sides.telegram_api, chat, lambda p: p["text"] == messages.HANDOFF_RESOLVED)


async def test_slash_report_is_for_ops_only(sides: Sides) -> None:
    from tests.slack_standin import command_body

    _, refused, _ = await sides.poster.form(command_body("report 7d", "UEVE", SUPPORT, sides.slack_api.response_url()))
    assert "only the store's ops team" in refused
    url = sides.slack_api.response_url()
    status, ack, _ = await sides.poster.form(command_body("report 7d", "UOPS", SUPPORT, url))
    assert status == 200 and "Building the report" in ack
    report = await sides.slack_api.wait_for_response(lambda r: str(r.get("text", "")).startswith("Last 7 days:"))
    assert report["response_type"] == "ephemeral" and "👍" in report["text"]
