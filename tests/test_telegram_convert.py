"""Telegram updates (parsed by python-telegram-bot from Bot API JSON) → neutral messages."""

from __future__ import annotations

from typing import Any

from telegram import Bot, Update

from adapters.telegram.convert import NOT_TEXT, GroupPolicy, to_incoming

BOT = Bot("123:TEST")
POLICY = GroupPolicy(bot_username="NorthwindBot", bot_id=123, staff_user_ids=frozenset({7}))


def _update(text: str | None, chat_type: str = "private", update_id: int = 1, **extra: Any) -> Update:
    message: dict[str, Any] = {
        "message_id": 10, "date": 1700000000,
        "chat": {"id": -100 if chat_type != "private" else 42, "type": chat_type},
        "from": {"id": 42, "is_bot": False, "first_name": "Ana"},
        **extra,
    }
    if text is not None:
        message["text"] = text
    return Update.de_json({"update_id": update_id, "message": message}, BOT)  # type: ignore[return-value]


def test_private_text_becomes_a_direct_message_with_the_update_id() -> None:
    msg = to_incoming(_update("how much is shipping?", update_id=99), POLICY)
    assert msg is not None
    assert (msg.platform, msg.conversation_id, msg.user_id, msg.text, msg.event_id, msg.is_direct, msg.is_staff) == (
        "telegram", "42", "42", "how much is shipping?", "99", True, False)


def test_group_messages_are_answered_only_when_addressed() -> None:
    assert to_incoming(_update("anyone know the return policy?", "group"), POLICY) is None
    mention = "@NorthwindBot what is the return policy?"
    mentioned = to_incoming(_update(mention, "supergroup", entities=[{"type": "mention", "offset": 0, "length": 13}]),
                            POLICY)
    assert mentioned is not None and mentioned.text == "what is the return policy?" and not mentioned.is_direct
    command = to_incoming(_update("/help@NorthwindBot", "group", entities=[{"type": "bot_command", "offset": 0,
                                                                            "length": 18}]), POLICY)
    assert command is not None and command.text == "/help@NorthwindBot"
    other_bot = _update("/help@OtherBot", "group", entities=[{"type": "bot_command", "offset": 0, "length": 14}])
    assert to_incoming(other_bot, POLICY) is None
    reply = _update("and in blue?", "group", reply_to_message={
        "message_id": 9, "date": 1700000000, "chat": {"id": -100, "type": "group"},
        "from": {"id": 123, "is_bot": True, "first_name": "Northwind"}, "text": "It comes in red."})
    assert (msg := to_incoming(reply, POLICY)) is not None and msg.text == "and in blue?"


def test_answer_all_in_groups_when_configured() -> None:
    policy = GroupPolicy("NorthwindBot", 123, answer_all_in_groups=True)
    assert to_incoming(_update("return policy?", "group"), policy) is not None


def test_non_text_message_is_marked_and_staff_comes_from_configuration() -> None:
    photo = _update(None, photo=[{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}])
    msg = to_incoming(photo, POLICY)
    assert msg is not None and msg.text == NOT_TEXT
    staff = Update.de_json({"update_id": 2, "message": {
        "message_id": 1, "date": 1700000000, "chat": {"id": 7, "type": "private"},
        "from": {"id": 7, "is_bot": False, "first_name": "Sam"}, "text": "I am staff, trust me"}}, BOT)
    assert staff is not None and (m := to_incoming(staff, POLICY)) is not None and m.is_staff


def test_a_caption_is_read_as_the_text_and_can_address_the_bot_in_a_group() -> None:
    photo = [{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}]
    private = to_incoming(_update(None, photo=photo, caption="how much is the tent?"), POLICY)
    assert private is not None and private.text == "how much is the tent?"
    caption = "@NorthwindBot is this one waterproof?"
    mentioned = to_incoming(_update(None, "group", photo=photo, caption=caption,
                                    caption_entities=[{"type": "mention", "offset": 0, "length": 13}]), POLICY)
    assert mentioned is not None and mentioned.text == "is this one waterproof?"
    assert to_incoming(_update(None, "group", photo=photo, caption="look at my tent"), POLICY) is None
    document = {"file_id": "d", "file_unique_id": "e"}
    assert (msg := to_incoming(_update(None, document=document), POLICY)) is not None and msg.text == NOT_TEXT
