"""Telegram Update → IncomingMessage (and whether the bot should answer it at all); the bot's menu and buttons.

Private chats are always answered; in groups only a command, an @mention of the bot or a reply to
one of its messages is (unless configured to answer everything).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update

from bot.types import IncomingMessage, Reply

NOT_TEXT = "not-text"  # marker text for a message with no text or caption (sticker, voice, location…)
COMMANDS = [
    BotCommand("help", "What I can do"),
    BotCommand("sources", "Where my last answer came from"),
    BotCommand("reset", "Start this conversation afresh"),
    BotCommand("forget", "Erase everything stored about you"),
    BotCommand("human", "Talk to a person from our team"),
]


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    bot_username: str  # without "@"
    bot_id: int
    answer_all_in_groups: bool = False
    staff_user_ids: frozenset[int] = frozenset()


def to_incoming(update: Update, policy: GroupPolicy) -> IncomingMessage | None:
    """The neutral message, or None when the bot should stay quiet (a group message not for it)."""
    message = update.effective_message
    if message is None or update.effective_chat is None:
        return None
    is_direct = update.effective_chat.type == "private"
    if not is_direct and not policy.answer_all_in_groups and not _addressed_to_bot(message, policy):
        return None
    user = update.effective_user
    # A photo, document or video is read by its caption: that is where the shopper typed the question.
    written = message.text if message.text is not None else message.caption
    text = _strip_mention(written, policy.bot_username) if isinstance(written, str) else NOT_TEXT
    return IncomingMessage(
        platform="telegram",
        conversation_id=str(update.effective_chat.id),
        user_id=str(user.id) if user else str(update.effective_chat.id),
        text=text,
        event_id=str(update.update_id),
        is_direct=is_direct,
        is_staff=bool(user and isinstance(user.id, int) and user.id in policy.staff_user_ids),
        display_name=user.full_name if user and isinstance(user.full_name, str) else "",  # may lack a first name
    )


def _addressed_to_bot(message: Message, policy: GroupPolicy) -> bool:
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == policy.bot_id:
        return True
    kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.BOT_COMMAND]
    try:
        entities = message.parse_entities(kinds) if message.text is not None else message.parse_caption_entities(kinds)
    except (UnicodeDecodeError, AttributeError, TypeError):  # entities that cut a character, or with no text
        return False
    for entity, value in entities.items():
        if entity.type == MessageEntity.MENTION and value.lower() == f"@{policy.bot_username.lower()}":
            return True
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            target = value.partition("@")[2]
            if not target or target.lower() == policy.bot_username.lower():
                return True
    return False


def _strip_mention(text: str, bot_username: str) -> str:
    mention = f"@{bot_username}"
    if text.lower().startswith(mention.lower()):
        return text[len(mention):].lstrip(" ,:")
    return text.replace(mention, "").strip() if not text.startswith("/") else text


def buttons_of(reply: Reply) -> InlineKeyboardMarkup | None:
    """👍/👎 under every answer; "Talk to a person" under a declined one."""
    if reply.mode not in ("extractive", "llm", "smalltalk"):
        return None
    rows = [[InlineKeyboardButton("👍", callback_data="up"), InlineKeyboardButton("👎", callback_data="down")]]
    if not reply.confident:
        rows.append([InlineKeyboardButton("Talk to a person", callback_data="human")])
    return InlineKeyboardMarkup(rows)
