"""What the core sends to shoppers on Telegram through the outbox, one sender per outbound event: staff
replies, the handoff's closing and the honest "still waiting", and answers sent later."""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot, CallbackQuery
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from adapters.telegram.convert import buttons_of
from adapters.telegram.formatting import MAX_MESSAGE, split_text, to_html_messages
from bot import messages
from bot.outbound import Reminder, ReplyTo, Resolved, StaffToShopper
from bot.store.outbox import Delivery, Undeliverable

log = logging.getLogger(__name__)
TYPING_EVERY_S = 4.5  # Telegram clears "typing…" after about 5 s


class ShopperSenders:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def deliver(self, delivery: Delivery) -> None:
        try:
            await self._send(delivery)
        except (BadRequest, Forbidden) as err:  # the chat is gone or blocked the bot: retrying cannot help
            raise Undeliverable(f"Telegram: {err}") from err

    async def _send(self, delivery: Delivery) -> None:
        match delivery.event:
            case StaffToShopper() as message:
                text = f"{message.staff} (support): {message.text}" if message.staff else message.text
                await self._plain(message.conversation, text)
            case Resolved() as resolved:
                await self._plain(resolved.conversation, messages.HANDOFF_RESOLVED)
            case Reminder() as reminder:
                await self._plain(reminder.conversation, messages.HANDOFF_WAITING)
            case ReplyTo() as later:
                parts = to_html_messages(later.reply)
                for number, part in enumerate(parts[later.sent_parts:], start=later.sent_parts + 1):
                    await self._bot.send_message(later.conversation, part, parse_mode=ParseMode.HTML,
                                                 disable_web_page_preview=True,
                                                 reply_markup=buttons_of(later.reply) if number == len(parts) else None)
            case other:
                log.warning("delivery %s (%s) is not for shoppers: dropped", delivery.id, type(other).__name__)

    async def _plain(self, chat: str, text: str) -> None:
        for part in split_text(text, MAX_MESSAGE):  # plain text: staff words are never parsed as markup
            await self._bot.send_message(chat, part)


async def answer_query(query: CallbackQuery, text: str) -> None:
    """A failure (the press is too old to answer) is logged: the shopper cannot be told any other way."""
    try:
        await query.answer(text)
    except TelegramError as err:
        log.warning("could not answer button press %s: %s", query.id, err)


async def keep_typing(bot: Bot, chat_id: int) -> None:
    """Shows "typing…" until cancelled. It is cosmetic: a failure is logged and never costs the answer."""
    while True:
        try:
            await bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as err:
            log.warning("could not show typing in chat %s: %s", chat_id, err)
        await asyncio.sleep(TYPING_EVERY_S)
