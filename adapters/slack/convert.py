"""Slack events → IncomingMessage, and where the reply goes.

A channel mention is answered in its thread, and the thread is one conversation. A direct message is
answered in the DM (or its thread). Deliveries are keyed by the message itself (channel + ts), so a
retry, a duplicated event id, or the `app_mention` + `message` pair Slack sends for one message all
produce one answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.slack.mrkdwn import to_plain
from bot.types import IncomingMessage


@dataclass(frozen=True, slots=True)
class SlackTarget:
    channel: str
    thread_ts: str | None  # None: the top level of a DM


def plain_text(text: str, bot_user_id: str | None) -> str:
    """Slack's wire text as a person typed it: no bot mention, links as their labels, entities decoded."""
    return to_plain(text, bot_user_id, show_urls=False)


FIELDS = ("type", "subtype", "channel", "channel_type", "user", "text", "ts", "thread_ts", "bot_id")


def _fields(event: object) -> dict[str, str]:
    """The event's fields this module reads, those that are text; anything else (a list where a channel id
    belongs) is as good as missing."""
    if not isinstance(event, dict):
        return {}
    return {name: value for name in FIELDS if isinstance(value := event.get(name), str)}


def from_event(event: dict[str, Any], bot_user_id: str | None) -> tuple[IncomingMessage, SlackTarget] | None:
    """The message to answer and where, or None for events the bot must not answer."""
    event = _fields(event)
    channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
    if not channel or not ts or not user or event.get("bot_id") or user == bot_user_id:
        return None
    kind, subtype = event.get("type"), event.get("subtype")
    is_dm = event.get("channel_type") == "im"
    if kind == "message" and (not is_dm or subtype is not None):
        return None  # channel messages are answered through their app_mention; edits, joins etc. never
    if kind not in ("app_mention", "message"):
        return None
    thread = event.get("thread_ts") or (None if is_dm else ts)
    conversation = f"{channel}:{thread}" if thread else channel
    text = plain_text(str(event.get("text") or ""), bot_user_id)
    msg = IncomingMessage("slack", conversation, str(user), text, event_id=f"{channel}:{ts}", is_direct=is_dm,
                          is_staff=True)
    return msg, SlackTarget(str(channel), thread)


@dataclass(frozen=True, slots=True)
class ThreadReply:
    """A person's message in a channel thread (a candidate staff reply to a handed-over shopper)."""

    thread: str  # "channel:thread_ts", as handoff threads are recorded
    user: str
    text: str  # plain text for the shopper: links as "label (url)", no Slack markup or entities
    message_id: str  # "channel:ts": the same message redelivered is relayed once


def thread_reply_of(event: dict[str, Any], bot_user_id: str | None) -> ThreadReply | None:
    event = _fields(event)
    if event.get("type") != "message" or event.get("channel_type") == "im":
        return None
    if event.get("subtype") not in (None, "thread_broadcast", "file_share"):  # edits, joins, bot posts…
        return None
    channel, thread, user, raw = event.get("channel"), event.get("thread_ts"), event.get("user"), event.get("text")
    if not channel or not thread or not user or not raw or event.get("bot_id") or user == bot_user_id:
        return None
    if bot_user_id and (f"<@{bot_user_id}>" in str(raw) or f"<@{bot_user_id}|" in str(raw)):
        return None  # addressed to the bot: handled as its app_mention
    text = to_plain(str(raw), bot_user_id)  # the URLs stay: the shopper needs them, the labels alone are useless
    if not text:
        return None  # nothing readable left (a bare "<!here>"): nothing to relay
    return ThreadReply(f"{channel}:{thread}", str(user), text, f"{channel}:{event.get('ts')}")
