"""Property-based fuzz (hypothesis) of Telegram updates: PTB's parse, then the adapter's conversion, must never
raise on what it is given (generators: tests/fuzz_telegram.py).
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given

from tests.fuzz_common import TELEGRAM_FUZZ
from tests.fuzz_telegram import (
    TELEGRAM_UPDATES,
    TELEGRAM_UPDATES_CUT_ENTITIES,
    TELEGRAM_UPDATES_MALFORMED,
    TELEGRAM_UPDATES_NAMELESS,
    convert_telegram,
)


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
