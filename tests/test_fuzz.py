"""Property-based fuzz (hypothesis) of malformed platform payloads: both adapters' conversion, the formatting
both ways, the outbox's (de)serialisation and the engine's one door must never raise on what they are given.

The generators are module-level so that `bench/fuzz.py` runs the same ones at 10,000 examples per target.
Telegram updates are built as Bot API JSON and parsed by python-telegram-bot itself (`Update.de_json`); a dict
PTB refuses to parse is not ours to handle, but everything after a successful parse is.

Inputs that broke a property when it was written are pinned with `@example` (the minimal ones hypothesis found),
so a property fails at once, on its smallest case, until the code is fixed; the generation phase then runs as
usual. Examples are not stored (`database=None`): nothing is written into the repository.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import html
import json
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from telegram import Bot, Update

from adapters.slack.commands import Command, parse_command
from adapters.slack.convert import SlackTarget, ThreadReply, from_event, plain_text, thread_reply_of
from adapters.slack.formatting import (
    BLOCKS_PER_MESSAGE,
    FALLBACK_LIMIT,
    SECTION_LIMIT,
    handoff_blocks,
    to_slack_messages,
)
from adapters.slack.formatting import split_text as slack_split
from adapters.slack.http import refusal
from adapters.slack.mrkdwn import to_plain
from adapters.telegram.convert import GroupPolicy, to_incoming
from adapters.telegram.formatting import MAX_MESSAGE, to_html_messages
from adapters.telegram.formatting import split_text as telegram_split
from bot.answerers.facts import FactAnswerer
from bot.answerers.query_engine import FactQueryEngine
from bot.app.metrics import MeteredEngine, Metrics
from bot.engine import Engine, StoreInfo
from bot.events import Button, ButtonPress, Event, OpsCommand, Resolve, StaffReply
from bot.handoff.desk import WAITING, HandoffDesk, HandoffPolicy
from bot.ops.desk import OpsDesk, OpsPolicy
from bot.ops.kb import AUDIT_STREAM, KnowledgeOps
from bot.ops.reports import Reports
from bot.outbound import (
    HandoffOpened,
    Outbound,
    Reminder,
    ReplyTo,
    Resolved,
    ShopperToStaff,
    StaffToShopper,
    TranscriptLine,
    decode,
    encode,
)
from bot.store.activity import ACTIVITY_STREAM, ActivityLog
from bot.store.feedback import FEEDBACK_STREAM, HANDOFF_STREAM, FeedbackStore
from bot.store.memory import RedisState
from bot.store.outbox import Outbox
from bot.store.redis_keys import as_text
from bot.types import Citation, Focus, IncomingMessage, Reply
from knowledge.index.builder import BuildOptions
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore

# --- shared settings -----------------------------------------------------------------------------------------

# Derandomized: the test command gives the same examples on every run (a new find must not fail CI at random);
# `python -m bench.fuzz` explores freshly with 10,000 examples per target.
FUZZ = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture, HealthCheck.large_base_example])
TELEGRAM_FUZZ = settings(FUZZ, max_examples=200)  # big nested updates: fewer of them
FORMAT_FUZZ = settings(FUZZ, max_examples=150)  # big replies: fewer of them
ENGINE_FUZZ = settings(FUZZ, max_examples=150)  # runs of 1–6 events: 500 or so through the engine

# Every key, stream entry and handoff of a fuzz run is namespaced by these platforms, so the run can remove what
# it wrote from a shared Redis without touching anything else (see `clean_up`).
TAG = uuid.uuid4().hex[:8]
TELEGRAM = f"fuzz-telegram-{TAG}"
SLACK = f"fuzz-slack-{TAG}"  # also the handoff desk's staff platform, as "slack" is in production
OPS_USER = "UOPS"  # the only user the fuzz engine's ops policy allows (never sent a reload or rollback)

# --- text ----------------------------------------------------------------------------------------------------

FRAGMENTS = [
    "", " ", "  ", "\n", "\n\n", "\r\n", "\t", "\n \n", "<", ">", "&", "&amp;", "&lt;", "&gt;", "&amp;lt;", "&#x27;",
    "&quot;", '"', "'", "*bold*", "_it_", "~s~", "`c`", "```", "<b>", "</b>", "</a>", '<a href="x">', "<script>",
    "|", "<@U1>", "<@UBOT0001>", "<@UBOT0001|bot>", "<@U2|jane>", "<#C1|general>", "<#C2>", "<!here>",
    "<!channel>", "<!everyone>", "<!subteam^S1|@team>", "<!date^1700000000^{date}|fallback>",
    "<https://x.example/a|label>", "<https://x.example/a>", "<http://x.example|x.example>", "<mailto:a@b.c|a@b.c>",
    "<mailto:a@b.c>", "<tel:+123|call>", "<javascript:alert(1)|x>", "<>", "<|>", "<<>>", "<a|>", "<|b>",
    "/help", "/help@NorthwindBot", "/help@x y", "/start", "/sources", "/reset", "/forget", "/human", "/frobnicate",
    "/", "//", "/@", "@NorthwindBot", "@northwindbot", "@", "resolve", "RESOLVE", "report", "ask", "kb", "status",
    "reload", "rollback", "talk to a human", "real person please", "shipping cost?", "how much does delivery cost",
    "can I return an item?", "Summit Pro tent", "how heavy is it?", "paypal", "€60", "$24", "1,299.00",
    "\x00", "\x01", "\x1b[31m", "\x1b", "\x7f", "\x85", "\u200b", "\u200d", "\u202e", "\u2066", "\u2028", "\ufeff",
    "\ufffd", "\u0301", "😀", "👍", "👨‍👩‍👧", "🏳️‍🌈", "\U0001f1e9\U0001f1ea", "𝕏", "שלום", "مرحبا", "日本語",
    "한국어", "ß", "ﬁ", "İ", "²", "¹d", "٣", "１２", "…", ".", "!?", "?!.", ".\n", "x" * 50, "word " * 20,
]
HUGE_UNITS = ["x", "& ", "<>", "😀", "a b. ", "\n", " ", "ab\n\n", "*_~", "<@U1> ", "é"]


def texts(max_size: int = 60, huge: int = 20_000) -> st.SearchStrategy[str]:
    """Any text a person (or a broken client) could send: arbitrary Unicode, markup and command fragments, and
    now and then a huge one (`huge` characters at most; 0: never)."""
    parts: list[st.SearchStrategy[str]] = [
        st.text(max_size=max_size),
        st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=max(max_size // 3, 1)).map("".join),
    ]
    if huge:
        parts.append(st.builds(lambda unit, size: (unit * size)[:size], st.sampled_from(HUGE_UNITS),
                               st.integers(max_size, huge)))
    return st.one_of(*parts)


# What the engine is sent: the texts above, bytes read as Latin-1 ("binary garbage"), and the exact commands.
ENGINE_TEXTS = st.one_of(texts(), st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
                         st.sampled_from([f for f in FRAGMENTS if f.startswith(("/", "resolve", "talk", "real"))]))
# Text that is not valid Unicode: a lone surrogate, as `bytes.decode("utf-8", "surrogateescape")` or a JSON
# "\udc80" escape gives.
SURROGATE_TEXTS = st.tuples(texts(20, 0), st.characters(categories=["Cs"]), texts(20, 0)).map("".join)

JSON_SCALARS = (st.none() | st.booleans() | st.integers(-(2**64), 2**64)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- Telegram ------------------------------------------------------------------------------------------------

TG_BOT = Bot("123:FUZZ")
TG_POLICY = GroupPolicy(bot_username="NorthwindBot", bot_id=123, staff_user_ids=frozenset({7}))
TG_BUTTONS: dict[str, Button] = {"up": "up", "down": "down", "human": "human"}  # as the adapter's BUTTONS
ENTITY_TYPES = ["mention", "bot_command", "hashtag", "cashtag", "url", "email", "phone_number", "bold", "italic",
                "underline", "strikethrough", "spoiler", "blockquote", "code", "pre", "text_link", "text_mention",
                "custom_emoji", "", "unknown_kind"]
CHAT_TYPES = ["private", "group", "supergroup", "channel", "", "PRIVATE", "sender"]
ADDRESSED = ["", "@NorthwindBot", "@northwindbot", "@NorthwindBot,", "/help", "/help@NorthwindBot",
             "/start@northwindbot", "/help@OtherBot", "/human", "/forget", "@OtherBot", "/"]
TG_IDS = st.one_of(st.sampled_from([7, 42, 123, 555, -100, -1001234567890, 0]), st.integers(-(2**52), 2**52))


NAMES = texts(20, 0)
SHORT_TEXTS = texts(12, 0)
BODIES = texts(80, 6000)
CALLBACK_DATA = st.sampled_from(list(TG_BUTTONS)) | texts(30, 100)
TINY_TEXTS = st.text(max_size=8)
KINDS_OF_UPDATE = st.sampled_from(["message", "message", "message", "edited_message", "channel_post",
                                   "edited_channel_post", "business_message", "callback_query", "unknown"])
MEDIA = {
    "photo": [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}],
    "document": {"file_id": "d", "file_unique_id": "e"},
    "sticker": {"file_id": "s", "file_unique_id": "t", "type": "regular", "width": 1, "height": 1,
                "is_animated": False, "is_video": False},
    "location": {"latitude": 1.0, "longitude": 2.0},
    "voice": {"file_id": "v", "file_unique_id": "w", "duration": 1},
}
# Fields the Bot API always sends in the objects generated here ("from": in a callback query; in a message it is
# left out by the generator now and then, as for channel posts). "text" and "caption" stay with their entities.
REQUIRED = frozenset({"update_id", "message_id", "date", "chat", "id", "type", "is_bot", "first_name", "from",
                      "chat_instance", "file_id", "file_unique_id", "width", "height", "latitude", "longitude",
                      "duration", "is_animated", "is_video", "offset", "length", "url", "user", "custom_emoji_id",
                      "text", "caption"})
_ONE_IN = {n: st.integers(0, n - 1) for n in (2, 3, 4, 5, 6, 7, 8, 10, 15)}  # draw(_ONE_IN[n]) == 0: one time in n


def _user(draw: st.DrawFn) -> dict[str, Any]:
    first_name = draw(NAMES) or "Ana"  # never empty: see test_senders_without_a_first_name_…
    user: dict[str, Any] = {"id": draw(TG_IDS), "is_bot": draw(st.booleans()), "first_name": first_name}
    for key in ("last_name", "username", "language_code"):
        if draw(st.booleans()):
            user[key] = draw(SHORT_TEXTS)
    return user


def _entities(draw: st.DrawFn, text: str, aligned: bool) -> list[dict[str, Any]]:
    """Entities as Telegram sends them for `text` (the mention or command at its start), plus odd ones: out of
    range, empty, overlapping. `aligned`: their ends never fall inside a character (a surrogate pair in UTF-16,
    as Telegram counts); otherwise they may, and offsets may be negative."""
    size = _utf16_len(text)
    bounds = [0]
    for char in text:
        bounds.append(bounds[-1] + (2 if ord(char) > 0xFFFF else 1))
    entities: list[dict[str, Any]] = []
    first = text.split(" ", 1)[0]
    if first.startswith(("@", "/")) and draw(st.booleans()):
        entities.append({"type": "mention" if first.startswith("@") else "bot_command", "offset": 0,
                         "length": _utf16_len(first)})
    for _ in range(draw(_ONE_IN[5])):
        if aligned:  # a character boundary, or anywhere past the end
            start = bounds[draw(st.integers(0, len(bounds) - 1))] if draw(_ONE_IN[4]) else size + draw(_ONE_IN[8])
            later = [b for b in bounds if b >= start]
            if draw(_ONE_IN[4]) and later:
                end = later[draw(st.integers(0, len(later) - 1))]
            else:
                end = max(start, size) + draw(_ONE_IN[15])  # at or past the end
        else:
            start = draw(st.integers(-5, size + 5))
            end = draw(st.integers(start - 3, size + 5))
        entity: dict[str, Any] = {"type": draw(st.sampled_from(ENTITY_TYPES)), "offset": start, "length": end - start}
        if entity["type"] == "text_link":
            entity["url"] = draw(st.sampled_from(["https://x.example", "tg://user?id=1"]) | TINY_TEXTS)
        if entity["type"] == "text_mention":
            entity["user"] = _user(draw)
        if entity["type"] == "custom_emoji":
            entity["custom_emoji_id"] = draw(TINY_TEXTS)
        entities.append(entity)
    return entities


def _message(draw: st.DrawFn, aligned: bool, depth: int = 0) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": draw(TG_IDS), "type": draw(st.sampled_from(CHAT_TYPES))}
    for key in ("title", "username", "first_name"):
        if draw(st.booleans()):
            chat[key] = draw(SHORT_TEXTS)
    message: dict[str, Any] = {"message_id": draw(st.integers(-10, 2**31)), "date": draw(st.integers(0, 2**32)),
                               "chat": chat}
    if draw(_ONE_IN[5]):  # most messages say who sent them; channel posts do not
        message["from"] = _user(draw)
    if draw(_ONE_IN[6]) == 0:
        message["sender_chat"] = {"id": draw(TG_IDS), "type": draw(st.sampled_from(CHAT_TYPES))}
    body = " ".join(p for p in (draw(st.sampled_from(ADDRESSED)), draw(BODIES)) if p)
    where = draw(st.sampled_from(["text", "text", "caption", "none"]))
    if where == "text":
        message["text"] = body
        if draw(_ONE_IN[3]):
            message["entities"] = _entities(draw, body, aligned)
    if where in ("caption", "none") or draw(_ONE_IN[7]) == 0:
        media = draw(st.sampled_from(sorted(MEDIA)))
        message[media] = MEDIA[media]
    if where == "caption":
        message["caption"] = body
        if draw(_ONE_IN[3]):
            message["caption_entities"] = _entities(draw, body, aligned)
    elif not aligned and draw(_ONE_IN[4]) == 0:  # entities with no text or caption to belong to
        message["caption_entities" if draw(st.booleans()) else "entities"] = [
            {"type": draw(st.sampled_from(["mention", "bot_command"])), "offset": 0, "length": 3}]
    if depth == 0 and draw(_ONE_IN[4]) == 0:
        replied = _message(draw, aligned, depth + 1)
        if draw(st.booleans()):  # a reply to one of the bot's own messages
            replied["from"] = {"id": 123, "is_bot": True, "first_name": "Northwind", "username": "NorthwindBot"}
        message["reply_to_message"] = replied
    for key in ("message_thread_id", "is_topic_message", "edit_date", "has_protected_content"):
        if draw(_ONE_IN[6]) == 0:
            message[key] = draw(st.integers(0, 10**9) if key != "is_topic_message" else st.booleans())
    return message


def _dropped(draw: st.DrawFn, value: Any, keep: frozenset[str]) -> Any:
    """`value` with about one key in fifteen removed, at any depth, except those in `keep`."""
    if isinstance(value, dict):
        return {k: _dropped(draw, v, keep) for k, v in value.items() if k in keep or draw(_ONE_IN[15])}
    if isinstance(value, list):
        return [_dropped(draw, v, keep) for v in value]
    return value


def _retyped(draw: st.DrawFn, value: Any) -> Any:
    """`value` with about one field in eight replaced by a JSON value of any type, at any depth."""
    if draw(_ONE_IN[8]) == 0:
        return draw(JSON)
    if isinstance(value, dict):
        return {k: _retyped(draw, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_retyped(draw, v) for v in value]
    return value


@st.composite
def telegram_update(draw: st.DrawFn, aligned: bool = True, malformed: bool = False) -> dict[str, Any]:
    """An update as the Bot API sends it: every kind of message (optional fields now and then missing), callback
    queries with garbage data, kinds PTB does not know. `aligned`: see `_entities`. `malformed`: any field may be
    missing, and any may be a JSON value of another type."""
    update: dict[str, Any] = {"update_id": draw(st.integers(-10, 2**31))}
    kind = draw(KINDS_OF_UPDATE)
    if kind == "callback_query":
        query: dict[str, Any] = {"id": draw(TINY_TEXTS), "from": _user(draw), "chat_instance": draw(TINY_TEXTS)}
        if draw(_ONE_IN[4]):
            query["data"] = draw(CALLBACK_DATA)
        placed = draw(st.sampled_from(["message", "inaccessible", "inline", "none"]))
        if placed == "message":
            query["message"] = _message(draw, aligned, 1)
        elif placed == "inaccessible":
            query["message"] = {"chat": {"id": draw(TG_IDS), "type": "private"}, "message_id": 1, "date": 0}
        elif placed == "inline":
            query["inline_message_id"] = draw(TINY_TEXTS)
        update["callback_query"] = query
    elif kind == "unknown":
        update[draw(st.text(min_size=1, max_size=12))] = draw(JSON)
    else:
        update[kind] = _message(draw, aligned)
    shaped: dict[str, Any] = (_retyped(draw, _dropped(draw, update, frozenset())) if malformed
                              else _dropped(draw, update, REQUIRED))
    return shaped


def _nameless(value: Any) -> Any:
    """`value` with every user's first name empty (as a deleted account's reads)."""
    if isinstance(value, dict):
        return {k: "" if k == "first_name" and "is_bot" in value else _nameless(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nameless(v) for v in value]
    return value


TELEGRAM_UPDATES = telegram_update(aligned=True)
TELEGRAM_UPDATES_NAMELESS = TELEGRAM_UPDATES.map(_nameless)
TELEGRAM_UPDATES_CUT_ENTITIES = telegram_update(aligned=False)
TELEGRAM_UPDATES_MALFORMED = telegram_update(malformed=True)  # never sent by the Bot API, yet PTB parses some


def parse_update(data: dict[str, Any]) -> Update | None:
    """PTB's parse of the update, or None when PTB itself refuses it (Telegram's problem, not ours)."""
    try:
        return Update.de_json(data, TG_BOT)
    except Exception:
        return None


def check_incoming(msg: IncomingMessage | None) -> None:
    if msg is not None:
        assert isinstance(msg, IncomingMessage)
        for name in ("platform", "conversation_id", "user_id", "text", "display_name"):
            assert isinstance(getattr(msg, name), str), (name, getattr(msg, name))
        assert msg.event_id is None or isinstance(msg.event_id, str)
        assert isinstance(msg.is_direct, bool) and isinstance(msg.is_staff, bool)


def telegram_button(update: Update) -> ButtonPress | None:
    """A callback query as `TelegramAdapter._on_button` turns it into the core's event (None: "expired"); for
    bench/fuzz.py, which sends it on to the engine."""
    query = update.callback_query
    if query is None:
        return None
    kind = TG_BUTTONS.get(query.data) if isinstance(query.data, str) else None
    if query.message is None or kind is None or query.from_user is None:
        return None
    return ButtonPress("telegram", str(query.message.chat.id), str(query.from_user.id), kind,
                       query.from_user.full_name)


def convert_telegram(data: dict[str, Any]) -> tuple[Update | None, IncomingMessage | None]:
    """The property of every Telegram target: parse with PTB; after a successful parse, conversion never raises
    and gives None or a message of strings."""
    update = parse_update(data)
    if update is None:
        return None, None
    msg = to_incoming(update, TG_POLICY)
    check_incoming(msg)
    return update, msg


@TELEGRAM_FUZZ
@given(TELEGRAM_UPDATES)
def test_telegram_updates_with_odd_values_convert_without_raising(data: dict[str, Any]) -> None:
    """Updates shaped as the Bot API sends them (optional fields missing, huge and odd text and captions, group,
    channel and business chats, edits, callback queries with garbage data, replies to the bot, entities out of
    range) parse, and convert to None or a message of strings."""
    convert_telegram(data)


def _group_message(**fields: Any) -> dict[str, Any]:
    return {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "group"},
                                        "from": {"id": 42, "is_bot": False, "first_name": "Ana"}, **fields}}


def _private_message(**fields: Any) -> dict[str, Any]:
    return {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 42, "type": "private"},
                                        "from": {"id": 42, "is_bot": False, "first_name": "Ana"}, **fields}}


@TELEGRAM_FUZZ
@given(TELEGRAM_UPDATES_NAMELESS)
@example(_private_message(text="hi", **{"from": {"id": 42, "is_bot": False, "first_name": ""}}))
def test_senders_without_a_first_name_convert_to_a_string_display_name(data: dict[str, Any]) -> None:
    """A user whose first name is empty (a deleted account reads so) still gives a string display name."""
    convert_telegram(data)


@TELEGRAM_FUZZ
@given(TELEGRAM_UPDATES_CUT_ENTITIES)
@example(_group_message(text="😀 hi", entities=[{"type": "mention", "offset": 0, "length": 1}]))
@example(_group_message(photo=[{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}],
                        caption_entities=[{"type": "mention", "offset": 0, "length": 3}]))
def test_telegram_entities_that_cut_a_character_or_have_no_text_convert_without_raising(data: dict[str, Any]) -> None:
    """Entities whose offset or end falls inside a character (half a surrogate pair in UTF-16), negative ones, and
    entities with no text or caption to point into."""
    convert_telegram(data)


@TELEGRAM_FUZZ
@given(TELEGRAM_UPDATES_MALFORMED)
@example(_private_message(text=0))
@example(_private_message(text="hi", **{"from": {"id": [], "is_bot": False, "first_name": "Ana"}}))
@example(_group_message(text="/help", entities=[{"type": "bot_command", "offset": 0, "length": "5"}]))
def test_telegram_updates_with_missing_or_wrongly_typed_fields_convert_without_raising(data: dict[str, Any]) -> None:
    """Required fields missing and any field of any JSON type: whatever PTB still parses converts without raising."""
    convert_telegram(data)


# --- Slack ---------------------------------------------------------------------------------------------------

SLACK_BOT = "UBOT0001"
SLACK_BOT_IDS = st.sampled_from([SLACK_BOT, None, "", "U1"])
SLACK_TS = st.sampled_from(["1.5", "1700000000.000100", "0", "", "1.5 "]) | st.text(max_size=12)
SLACK_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(["message", "message", "app_mention", "app_mention", "reaction_added", "Message", ""]),
    "subtype": st.sampled_from(["thread_broadcast", "file_share", "message_changed", "message_deleted",
                                "bot_message", "channel_join", "me_message"]),
    "channel_type": st.sampled_from(["im", "channel", "group", "mpim", "app_home"]),
    "channel": st.sampled_from(["C1", "D1", "G1", "C2", ""]) | st.text(max_size=12),
    "user": st.sampled_from(["U1", "U2", SLACK_BOT, "", "W1"]) | st.text(max_size=12),
    "bot_id": st.sampled_from(["B1", ""]),
    "ts": SLACK_TS,
    "thread_ts": SLACK_TS,
    "event_ts": SLACK_TS,
    "text": texts(80, 5000),
    "blocks": JSON,
    "files": JSON,
    "team": st.text(max_size=8),
}


_EXTRA_FIELDS = st.dictionaries(st.text(max_size=8), JSON, max_size=3)


@st.composite
def slack_event(draw: st.DrawFn) -> dict[str, Any]:
    """An event's `event` object: each field plausible, missing, or any JSON value; extra keys of any kind."""
    event: dict[str, Any] = {}
    for key, plausible in SLACK_FIELDS.items():
        choice = draw(_ONE_IN[10])
        if choice < 6 and key not in ("subtype", "bot_id", "blocks", "files"):
            event[key] = draw(plausible)
        elif choice < 2 or choice == 9:
            event[key] = draw(plausible if choice < 2 else JSON)
    event.update(draw(_EXTRA_FIELDS))
    return event


SLACK_EVENTS = slack_event()


def convert_slack(event: dict[str, Any], bot_user_id: str | None) -> tuple[tuple[IncomingMessage, SlackTarget] | None,
                                                                            ThreadReply | None]:
    """The property of every Slack target: both conversions never raise and give strings where strings are due."""
    converted = from_event(event, bot_user_id)
    if converted is not None:
        msg, target = converted
        check_incoming(msg)
        assert isinstance(target, SlackTarget) and isinstance(target.channel, str)
    staff = thread_reply_of(event, bot_user_id)
    if staff is not None:
        assert all(isinstance(v, str) for v in (staff.thread, staff.user, staff.text, staff.message_id))
        assert staff.text
    return converted, staff


@FUZZ
@given(SLACK_EVENTS, SLACK_BOT_IDS)
@example({"type": "message", "channel_type": "im", "channel": ["D1"], "user": "U1", "ts": "1.5"}, SLACK_BOT)
def test_slack_events_of_any_shape_convert_without_raising(event: dict[str, Any], bot_user_id: str | None) -> None:
    """`from_event` and `thread_reply_of` on events whose every field may be plausible, missing or any JSON value."""
    convert_slack(event, bot_user_id)


@FUZZ
@given(texts(120, 8000), SLACK_BOT_IDS, st.booleans(),
       st.dictionaries(st.sampled_from(["U1", "U2", SLACK_BOT]) | st.text(max_size=5), texts(10, 0), max_size=3))
def test_slack_markup_of_any_shape_reads_as_plain_text(text: str, bot_user_id: str | None, show_urls: bool,
                                                       names: dict[str, str]) -> None:
    plain = to_plain(text, bot_user_id, show_urls=show_urls, names=names)
    assert isinstance(plain, str) and plain == plain.strip()
    assert isinstance(plain_text(text, bot_user_id), str)


# `/storebot` text: a subcommand word (or not) and any arguments, digits of every script among them.
_COMMAND_WORDS = st.tuples(
    st.sampled_from(["ask", "resolve", "report", "report", "kb", "Report", "KB", "Ask", ""]),
    st.sampled_from(["", " ", " ", "\t", "\n"]),
    st.one_of(texts(30, 0), st.sampled_from(["status", "reload", "rollback", "7", "7d", "0.5", "1.5d", ".5", "5.", "²",
                                             "¹d", "٣", "１２", "7dd", "-1", "1e3", "①"]),
              st.text(alphabet=st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=4),
              st.integers(1, 400).map(lambda n: "9" * n)),
).map("".join)
COMMAND_TEXTS = st.one_of(texts(60, 3000), _COMMAND_WORDS, _COMMAND_WORDS)


def parse_slash_command(text: str) -> Command | None:
    command = parse_command(text)
    assert command is None or (isinstance(command, Command) and isinstance(command.argument, str)
                               and isinstance(command.days, float))
    return command


@FUZZ
@given(COMMAND_TEXTS)
@example("report ²")
def test_slash_command_text_of_any_shape_parses_without_raising(text: str) -> None:
    parse_slash_command(text)


SIGNING_SECRET = "fuzz-signing-secret"
STAMPS = st.one_of(
    st.just("now"), st.just("stale"), st.none(), st.just(""),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=12),
    st.integers(0, 10**12).map(str), st.integers(1, 6000).map(lambda n: "1" * n), st.text(max_size=12),
)
SIGNATURES = st.one_of(st.just("valid"), st.none(), st.just(""), st.just("v0=" + "0" * 64),
                       st.text(alphabet="0123456789abcdef", max_size=64).map(lambda h: "v0=" + h),
                       st.text(max_size=70), st.text(max_size=5).map(lambda s: "v0=" + s))


def sign(body: str, stamp: str, secret: str = SIGNING_SECRET) -> str:
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


def signed_headers(body: str, stamp: str | None, signature: str | None) -> dict[str, str]:
    """Headers with the timestamp and signature drawn: "now"/"stale" stamps and a "valid" signature are
    computed for `body`, the rest sent as drawn (None: the header is left out)."""
    stamp = {"now": str(int(time.time())), "stale": str(int(time.time()) - 3600)}.get(stamp or "", stamp)
    headers = {"Content-Type": "application/json"}
    if stamp is not None:
        headers["X-Slack-Request-Timestamp"] = stamp
    if signature is not None:
        headers["X-Slack-Signature"] = sign(body, stamp or "") if signature == "valid" else signature
    return headers


@FUZZ
@given(texts(80, 3000), STAMPS, SIGNATURES)
@example("{}", "²", "valid")  # a digit to str.isdigit, not to int()
@example("{}", "1" * 400, "valid")  # an int too large for a float
@example("{}", "1" * 5000, "valid")  # more digits than int() reads
@example("{}", "now", "v0=é")  # a fresh timestamp and a non-ASCII signature
def test_the_signature_check_answers_any_request_without_raising(body: str, stamp: str | None,
                                                                 signature: str | None) -> None:
    headers = signed_headers(body, stamp, signature)
    reason = refusal(body, headers, SIGNING_SECRET)
    assert reason is None or isinstance(reason, str)
    if stamp == "now" and signature == "valid":
        assert reason is None


# --- formatting ----------------------------------------------------------------------------------------------

URLS = st.one_of(
    st.sampled_from(["", "https://shop.example/p/tent-2p", 'https://shop.example/p?a=1&b="2"', "http://x",
                     "javascript:alert(1)", "https://x.example/a b", "https://x.example/<b>|c", "mailto:a@b.c",
                     "https://", "HTTPS://X.EXAMPLE"]),
    st.text(max_size=30), texts(30, 0).map(lambda s: "https://shop.example/" + s),
)
CITATIONS = st.builds(Citation, source_id=st.text(max_size=8), title=texts(40, 800), url=URLS,
                      source=texts(20, 400))
MODES = st.sampled_from(["extractive", "llm", "smalltalk", "command", "notice", "handoff", ""])
REPLIES = st.builds(Reply, text=texts(200, 20_000), citations=st.lists(CITATIONS, max_size=60).map(tuple),
                    confident=st.booleans(), mode=MODES)
_TG_TAG = re.compile(r"</?(a|b)( href=\"[^\"]*\")?>")
_TG_BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;|quot;|#x27;)")
_SLACK_BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
_SLACK_LINK_TARGET = re.compile(r"<https?://[^|>]*\|")  # a link's URL goes as it is; only its label is escaped


def _broken_mrkdwn_entity(text: str) -> bool:
    return bool(_SLACK_BROKEN_ENTITY.search(_SLACK_LINK_TARGET.sub("<", text)))


def _no_space(text: str) -> str:
    return "".join(text.split())


def check_telegram_html(reply: Reply, limit: int = MAX_MESSAGE) -> list[str]:
    """As tests/test_telegram_formatting.py asserts: each part fits, only our own tags (whole, nested right),
    no entity cut short, and never an empty part."""
    parts = to_html_messages(reply, limit)
    assert parts
    for part in parts:
        assert len(part) <= limit and part.strip()
        assert part.count("<a href=") == part.count("</a>") and part.count("<b>") == part.count("</b>")
        assert not _TG_BROKEN_ENTITY.search(part)
        outside = _TG_TAG.sub("", part)
        assert outside.count("<") == 0 and outside.count(">") == 0
        open_tags: list[str] = []
        for match in _TG_TAG.finditer(part):
            if match.group(0).startswith("</"):
                assert open_tags and open_tags.pop() == match.group(1)
            else:
                assert not open_tags
                open_tags.append(match.group(1))
        assert not open_tags
        html.unescape(part)
    return parts


@FORMAT_FUZZ
@given(REPLIES, st.one_of(st.just(MAX_MESSAGE), st.integers(100, MAX_MESSAGE)))
def test_replies_of_any_shape_become_valid_telegram_html(reply: Reply, limit: int) -> None:
    """Any reply (markup, `<>&`, huge text, up to 60 citations with odd titles and urls) becomes HTML parts that
    each fit the limit, with only our own tags, whole and nested right, and no entity cut short."""
    check_telegram_html(reply, limit)


@FUZZ
@given(texts(200, 12_000), st.just(MAX_MESSAGE) | st.integers(len("&amp;"), MAX_MESSAGE))  # "&amp;" must fit
def test_telegram_split_loses_nothing_and_every_piece_fits(text: str, limit: int) -> None:
    """The Telegram splitter: every piece fits once escaped, and nothing but whitespace is lost."""
    pieces = telegram_split(text, limit)
    assert all(p and len(html.escape(p, quote=False)) <= limit for p in pieces)
    assert _no_space("".join(pieces)) == _no_space(text)


def check_slack_messages(reply: Reply, conversation: str = "C1:1.5") -> None:
    """Within Slack's limits: ≤ 50 blocks, sections of 1–3,000 characters, the mrkdwn sources line whole and
    escaped, a short notification text, the buttons only under the last message; nothing of the answer lost."""
    messages = to_slack_messages(reply, conversation)
    assert messages
    shown: list[str] = []
    for number, message in enumerate(messages):
        assert len(message.blocks) <= 50 and (number == len(messages) - 1 or len(message.blocks) <= BLOCKS_PER_MESSAGE)
        assert len(message.text) <= FALLBACK_LIMIT and not _SLACK_BROKEN_ENTITY.search(message.text)
        for block in message.blocks:
            if block["type"] == "section":
                assert block["text"]["type"] == "plain_text" and 0 < len(block["text"]["text"]) <= SECTION_LIMIT
                shown.append(block["text"]["text"])
            elif block["type"] == "context":
                text = block["elements"][0]["text"]
                assert len(text) <= SECTION_LIMIT and not _broken_mrkdwn_entity(text)
                assert text.count("<") == text.count(">") and text.count("<") == text.count("<http")
            else:
                assert block["type"] == "actions" and number == len(messages) - 1
    assert _no_space("".join(shown)) == (_no_space(reply.text) or "…")


@FORMAT_FUZZ
@given(REPLIES)
def test_replies_of_any_shape_become_slack_messages_within_its_limits(reply: Reply) -> None:
    """Any reply becomes Block Kit messages within Slack's limits (see `check_slack_messages`)."""
    check_slack_messages(reply)


@FUZZ
@given(texts(200, 12_000), st.just(SECTION_LIMIT) | st.integers(1, SECTION_LIMIT))
def test_slack_split_loses_nothing_and_every_chunk_fits(text: str, limit: int) -> None:
    """The Slack splitter: every chunk fits, and nothing but whitespace is lost."""
    chunks = slack_split(text, limit)
    assert all(c and len(c) <= limit for c in chunks)
    assert _no_space("".join(chunks)) == _no_space(text)


TRANSCRIPTS = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["shopper", "bot"]), "text": texts(80, 1500)}),
                       max_size=12)


@FORMAT_FUZZ
@given(st.one_of(st.from_regex(r"H[0-9A-F]{8}", fullmatch=True), st.text(max_size=12)), texts(40, 500),
       st.sampled_from([TELEGRAM, "telegram", "console"]), st.sampled_from(["button", "asked", "declined"]) | texts(30),
       TRANSCRIPTS, texts(200, 6000), st.lists(CITATIONS, max_size=40))
def test_handoff_openings_of_any_shape_stay_within_slacks_limits(
    handoff_id: str, name: str, platform: str, reason: str, transcript: list[dict[str, str]], last_answer: str,
    sources: list[Citation],
) -> None:
    """A handoff's opening blocks with odd names, reasons, transcripts, answers and sources: ≤ 50 blocks, sections
    of 1–3,000 characters, mrkdwn without a broken entity."""
    blocks = handoff_blocks(handoff_id, name, platform, reason, transcript, last_answer, sources)
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= SECTION_LIMIT
            if block["text"]["type"] == "mrkdwn":
                assert not _broken_mrkdwn_entity(block["text"]["text"])
        elif block["type"] == "context":
            text = block["elements"][0]["text"]
            assert len(text) <= SECTION_LIMIT and not _broken_mrkdwn_entity(text)


# --- the outbox's serialisation ------------------------------------------------------------------------------

FOCUS = st.none() | st.builds(Focus, products=st.lists(st.text(max_size=8), max_size=3).map(tuple),
                              topic=st.text(max_size=8), question=st.text(max_size=20),
                              options=st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)),
                                               max_size=2).map(tuple))
PLAIN_CITATIONS = st.builds(Citation, st.text(max_size=8), st.text(max_size=20), st.text(max_size=20),
                            st.text(max_size=20))
PLAIN_REPLIES = st.builds(Reply, text=st.text(max_size=200), citations=st.lists(PLAIN_CITATIONS, max_size=3).map(tuple),
                          confident=st.booleans(), mode=MODES, model=st.text(max_size=8), focus=FOCUS)
OUTBOUND: st.SearchStrategy[Outbound] = st.one_of(
    st.builds(HandoffOpened, st.text(max_size=10), st.text(max_size=10), st.text(max_size=20), st.text(max_size=10),
              st.lists(st.builds(TranscriptLine, st.sampled_from(["shopper", "bot"]), st.text(max_size=50)),
                       max_size=5).map(tuple),
              st.text(max_size=100), st.lists(PLAIN_CITATIONS, max_size=3).map(tuple)),
    st.builds(ShopperToStaff, st.text(max_size=10), st.text(max_size=20), st.text(max_size=100)),
    st.builds(StaffToShopper, st.text(max_size=10), st.text(max_size=100), st.text(max_size=20)),
    st.builds(Resolved, st.text(max_size=10), st.text(max_size=10), st.text(max_size=20), st.text(max_size=20)),
    st.builds(Reminder, st.text(max_size=10), st.text(max_size=10), st.text(max_size=20), st.integers()),
    st.builds(ReplyTo, st.text(max_size=10), PLAIN_REPLIES, st.integers(0, 100)),
)


@st.composite
def _garbled(draw: st.DrawFn, data: str) -> str:
    """A real entry's JSON cut, spliced or with a field's value swapped for any JSON value."""
    how = draw(st.integers(0, 2))
    if how == 0:
        cut = draw(st.integers(0, len(data)))
        return data[:cut] + draw(st.text(max_size=5))
    value = json.loads(data)
    if how == 1 and value:
        value[draw(st.sampled_from(sorted(value)))] = draw(JSON)
    elif value:
        del value[draw(st.sampled_from(sorted(value)))]
    return json.dumps(value)


ENTRY_DATA = st.one_of(
    st.text(max_size=40), JSON.map(json.dumps),
    OUTBOUND.map(lambda e: encode(e)["data"]).flatmap(_garbled),
    st.integers(1, 5000).map(lambda n: "[" * n + "]" * n),  # nesting deeper than a parser's stack
    st.integers(1, 5000).map(lambda n: '{"a":' * n + "1" + "}" * n),
)
OUTBOX_ENTRIES = st.one_of(
    st.dictionaries(st.text(max_size=8), st.text(max_size=40), max_size=4),
    st.fixed_dictionaries({}, optional={"type": st.sampled_from(
        ["HandoffOpened", "ShopperToStaff", "StaffToShopper", "Resolved", "Reminder", "ReplyTo", "Outbound",
         "TranscriptLine", "Citation", "Reply", ""]) | st.text(max_size=10), "data": ENTRY_DATA}),
)


def decode_entry(entry: dict[str, str]) -> Outbound | None:
    """decode's contract: an event, or a ValueError (nothing else) for an entry no sender could handle."""
    try:
        return decode(entry)
    except ValueError:
        return None


@FUZZ
@given(OUTBOX_ENTRIES)
@example({"type": "ReplyTo", "data": "[" * 5000 + "]" * 5000})
def test_outbox_entries_of_any_shape_decode_or_raise_only_value_error(entry: dict[str, str]) -> None:
    """Entries as Redis hands them back (strings): unknown types, cut, spliced or retyped JSON, deep nesting."""
    decode_entry(entry)


@FUZZ
@given(OUTBOUND)
def test_every_outbound_event_survives_encode_and_decode(event: Outbound) -> None:
    """Every kind of outbound event, with any text, citations and focus, decodes to what was encoded."""
    entry = encode(event)
    assert set(entry) == {"type", "data"} and all(isinstance(v, str) for v in entry.values())
    assert decode(entry) == event


# --- the engine ----------------------------------------------------------------------------------------------

HOT_USERS = ["u-hot-1", "u-hot-2", OPS_USER]
USERS = st.one_of(st.sampled_from(HOT_USERS), st.integers(0, 10**9).map(lambda n: f"u{n}"), st.text(max_size=10))
CONVERSATIONS = st.one_of(st.sampled_from(["c1", "c2", "C1:1.5", "D1"]), st.integers(0, 10**9).map(lambda n: f"c{n}"),
                          st.text(max_size=12))
PLATFORMS = st.sampled_from([TELEGRAM, SLACK])
DAYS = st.floats(min_value=0, allow_nan=False)  # what `parse_command` can give: digits read as a float, up to inf


def engine_messages(text: st.SearchStrategy[str] = ENGINE_TEXTS) -> st.SearchStrategy[IncomingMessage]:
    return st.builds(IncomingMessage, platform=PLATFORMS, conversation_id=CONVERSATIONS, user_id=USERS, text=text,
                     event_id=st.none() | st.integers(0, 50).map(str) | st.text(max_size=10),
                     is_direct=st.booleans(), is_staff=st.booleans(), display_name=texts(20, 0))


ENGINE_EVENTS: st.SearchStrategy[Event] = st.one_of(
    engine_messages(), engine_messages(), engine_messages(),
    st.builds(ButtonPress, PLATFORMS, CONVERSATIONS, USERS, st.sampled_from(["up", "down", "human"]), texts(20, 0)),
    st.builds(StaffReply, st.just(SLACK), CONVERSATIONS, USERS, texts(80, 3000), st.text(max_size=10)),
    st.builds(Resolve, PLATFORMS, USERS, st.from_regex(r"H[0-9A-Fa-f]{8}", fullmatch=True) | st.text(max_size=10),
              st.just("") | CONVERSATIONS),
    st.builds(OpsCommand, PLATFORMS, st.text(max_size=6).filter(lambda user: user != OPS_USER),  # refused
              st.sampled_from(["kb status", "kb reload", "kb rollback", "report"]), DAYS),
    st.builds(OpsCommand, PLATFORMS, st.just(OPS_USER), st.sampled_from(["kb status", "report"]), DAYS),
)

ENGINE_RUNS = st.lists(ENGINE_EVENTS, min_size=1, max_size=6)  # a few events, often of one conversation or user


def scoped(event: Event, scope: str) -> Event:
    """The event with its conversation, thread, user and delivery ids in a namespace of its own, so that a run of
    events replays the same way (hypothesis replays each while shrinking); the ops user stays itself."""
    def own(value: str) -> str:
        return f"{scope}/{value}"

    def user(value: str) -> str:
        return value if value == OPS_USER else own(value)

    match event:
        case IncomingMessage():
            return dataclasses.replace(event, conversation_id=own(event.conversation_id), user_id=user(event.user_id),
                                       event_id=None if event.event_id is None else own(event.event_id))
        case ButtonPress():
            return dataclasses.replace(event, conversation_id=own(event.conversation_id), user_id=user(event.user_id))
        case StaffReply():
            return dataclasses.replace(event, thread=own(event.thread), user_id=user(event.user_id),
                                       message_id=own(event.message_id))
        case Resolve():
            thread = own(event.thread) if event.thread else ""
            return dataclasses.replace(event, user_id=user(event.user_id), thread=thread)
        case OpsCommand():
            return dataclasses.replace(event, user_id=user(event.user_id))


class FlatEmbedder:
    """What groups a report's questions in the fuzz: one unit vector for every text (one group), at no cost, so a
    report over a shared Redis's whole activity stream stays cheap however many questions it holds."""

    model_id = "flat"
    dims = 4

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dims), dtype=np.float32)
        vectors[:, 0] = 1.0
        return vectors


def fuzz_engine(redis: Redis, handle: IndexHandle, embedder: SentenceTransformerEmbedder, store: VersionStore,
                source: Path, work: Path, rate_per_minute: int = 30) -> Engine:
    """The engine as `storebot serve` wires it on Redis (metered door, extractive answers, feedback, activity log,
    handoff desk, ops desk), its staff platform `SLACK`; only `OPS_USER` may run ops commands, and reports group
    questions with `FlatEmbedder`."""
    retriever = HybridRetriever(handle, embedder)
    activity = ActivityLog(redis)
    desk = HandoffDesk(redis, Outbox(redis), activity, HandoffPolicy(staff_platform=SLACK, after_declines=2))
    ops = OpsDesk(KnowledgeOps(store, source, lambda: embedder, work / "fuzz-cache.sqlite", BuildOptions(), redis,
                               handle),
                  Reports(redis, activity, FlatEmbedder, retriever), OpsPolicy(frozenset({OPS_USER})))
    state = RedisState(redis, memory_turns=10, memory_ttl_s=600, rate_per_minute=rate_per_minute, dedupe_ttl_s=600)
    answerer = FactQueryEngine(FactAnswerer(retriever, "Fuzz Shop"))
    return MeteredEngine(Metrics(), state, answerer, StoreInfo("Fuzz Shop", "Hello from Fuzz Shop!"),
                         FeedbackStore(redis), desk, activity, ops)


def check_reply(reply: Reply | None) -> None:
    assert reply is None or (isinstance(reply, Reply) and isinstance(reply.text, str) and reply.text.strip())


async def clean_up(redis: Redis, tag: str = TAG) -> int:
    """Removes what a fuzz run wrote: its platforms' keys, its handoffs and its entries in the shared streams."""
    removed = 0
    async for key in redis.scan_iter(match=f"*{tag}*", count=1000):
        removed += int(await redis.delete(key))
    async for key in redis.scan_iter(match="storebot:handoff:H????????", count=1000):
        if tag in as_text(await redis.hget(key, "platform") or b""):
            removed += int(await redis.delete(key))
            await redis.zrem(WAITING, as_text(key).rsplit(":", 1)[1])
    for stream in (ACTIVITY_STREAM, FEEDBACK_STREAM, HANDOFF_STREAM, AUDIT_STREAM):
        start = "-"
        while True:
            entries: Any = await redis.xrange(stream, min=start, count=1000)
            ours = [i for i, fields in entries if tag.encode() in (fields or {}).get(b"platform", b"")]
            if ours:
                removed += int(await redis.xdel(stream, *ours))
            if len(entries) < 1000:
                break
            start = "(" + as_text(entries[-1][0])
    return removed


@dataclass
class FuzzRig:
    engine: Engine
    redis: Redis


@pytest.fixture
async def rig(built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder, redis_url: str,
              tmp_path: Path) -> AsyncIterator[FuzzRig]:
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    engine = fuzz_engine(redis, handle, embedder, built_store, tiny_source, tmp_path, rate_per_minute=4)
    try:
        yield FuzzRig(engine, redis)
    finally:
        await clean_up(redis)
        await redis.aclose()


async def run_events(engine: Engine, events: list[Event], scope: str | None = None) -> None:
    """Each event through the one door, in order (in a namespace of their own when `scope` is given): every reply
    is a Reply with text, or None."""
    for event in events:
        check_reply(await engine.handle(event if scope is None else scoped(event, scope)))


@ENGINE_FUZZ
@given(ENGINE_RUNS)
@example([OpsCommand(TELEGRAM, OPS_USER, "report", math.inf)])  # `/storebot report 999…` (309+ nines) reads as inf
async def test_the_engine_answers_any_events_without_raising(rig: FuzzRig, events: list[Event]) -> None:
    """Runs of messages (any text: empty, huge, binary, control and bidi characters, markup, every command),
    button presses, staff replies, resolves and ops commands, often in one conversation or from one user (memory,
    dedupe, the rate limit, handoffs): every reply is a Reply with text, or None."""
    await run_events(rig.engine, events, uuid.uuid4().hex[:8])


@ENGINE_FUZZ
@given(st.lists(engine_messages(SURROGATE_TEXTS), min_size=1, max_size=3))
@example([IncomingMessage(TELEGRAM, "c1", "u1", "\ud800 hi")])
async def test_the_engine_answers_text_with_a_lone_surrogate_without_raising(rig: FuzzRig,
                                                                             events: list[Event]) -> None:
    """Text that is not valid Unicode (a lone surrogate) gets a reply like any other."""
    await run_events(rig.engine, events, uuid.uuid4().hex[:8])


def slash_command_event(command: Command, user: str) -> Event | None:
    """`/storebot` as `SlashCommands.on_command` hands it to the core, from the ops user (None: a usage text, or a
    reload or rollback, which the fuzz never runs)."""
    if command.name == "ask":
        return IncomingMessage(SLACK, f"C1:command:{user}", user, command.argument, is_staff=True)
    if command.name == "resolve":
        return Resolve(SLACK, user, handoff_id=command.argument)
    if command.name in ("kb status", "report"):
        return OpsCommand(SLACK, OPS_USER, "report" if command.name == "report" else "kb status", command.days)
    return None


@example(text="report " + "9" * 400)  # digits enough to read as inf days
@FUZZ
@given(COMMAND_TEXTS)
async def test_slash_commands_of_any_shape_run_through_the_engine_without_raising(rig: FuzzRig, text: str) -> None:
    """`/storebot` text parsed, then run as `SlashCommands.on_command` runs it (ops commands from the ops user)."""
    command = parse_slash_command(text)
    event = slash_command_event(command, f"{uuid.uuid4().hex[:8]}/staff") if command is not None else None
    if event is not None:
        check_reply(await rig.engine.handle(event))
