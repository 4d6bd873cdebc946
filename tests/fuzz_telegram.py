"""Generators of Telegram updates for the fuzz, built as Bot API JSON and parsed by python-telegram-bot itself
(`Update.de_json`); a dict PTB refuses to parse is not ours to handle, but everything after a successful parse is.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from telegram import Bot, Update

from adapters.telegram.convert import GroupPolicy, to_incoming
from bot.events import Button, ButtonPress
from bot.types import IncomingMessage
from tests.fuzz_common import JSON, ONE_IN, check_incoming, texts

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


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _user(draw: st.DrawFn) -> dict[str, Any]:
    first_name = draw(NAMES) or "Ana"  # never empty: see test_fuzz_telegram.py test_senders_without_…
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
    for _ in range(draw(ONE_IN[5])):
        if aligned:  # a character boundary, or anywhere past the end
            start = bounds[draw(st.integers(0, len(bounds) - 1))] if draw(ONE_IN[4]) else size + draw(ONE_IN[8])
            later = [b for b in bounds if b >= start]
            if draw(ONE_IN[4]) and later:
                end = later[draw(st.integers(0, len(later) - 1))]
            else:
                end = max(start, size) + draw(ONE_IN[15])  # at or past the end
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
    if draw(ONE_IN[5]):  # most messages say who sent them; channel posts do not
        message["from"] = _user(draw)
    if draw(ONE_IN[6]) == 0:
        message["sender_chat"] = {"id": draw(TG_IDS), "type": draw(st.sampled_from(CHAT_TYPES))}
    body = " ".join(p for p in (draw(st.sampled_from(ADDRESSED)), draw(BODIES)) if p)
    where = draw(st.sampled_from(["text", "text", "caption", "none"]))
    if where == "text":
        message["text"] = body
        if draw(ONE_IN[3]):
            message["entities"] = _entities(draw, body, aligned)
    if where in ("caption", "none") or draw(ONE_IN[7]) == 0:
        media = draw(st.sampled_from(sorted(MEDIA)))
        message[media] = MEDIA[media]
    if where == "caption":
        message["caption"] = body
        if draw(ONE_IN[3]):
            message["caption_entities"] = _entities(draw, body, aligned)
    elif not aligned and draw(ONE_IN[4]) == 0:  # entities with no text or caption to belong to
        message["caption_entities" if draw(st.booleans()) else "entities"] = [
            {"type": draw(st.sampled_from(["mention", "bot_command"])), "offset": 0, "length": 3}]
    if depth == 0 and draw(ONE_IN[4]) == 0:
        replied = _message(draw, aligned, depth + 1)
        if draw(st.booleans()):  # a reply to one of the bot's own messages
            replied["from"] = {"id": 123, "is_bot": True, "first_name": "Northwind", "username": "NorthwindBot"}
        message["reply_to_message"] = replied
    for key in ("message_thread_id", "is_topic_message", "edit_date", "has_protected_content"):
        if draw(ONE_IN[6]) == 0:
            message[key] = draw(st.integers(0, 10**9) if key != "is_topic_message" else st.booleans())
    return message


def _dropped(draw: st.DrawFn, value: Any, keep: frozenset[str]) -> Any:
    """`value` with about one key in fifteen removed, at any depth, except those in `keep`."""
    if isinstance(value, dict):
        return {k: _dropped(draw, v, keep) for k, v in value.items() if k in keep or draw(ONE_IN[15])}
    if isinstance(value, list):
        return [_dropped(draw, v, keep) for v in value]
    return value


def _retyped(draw: st.DrawFn, value: Any) -> Any:
    """`value` with about one field in eight replaced by a JSON value of any type, at any depth."""
    if draw(ONE_IN[8]) == 0:
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
        if draw(ONE_IN[4]):
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
