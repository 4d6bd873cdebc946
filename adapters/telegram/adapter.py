"""The Telegram transport: python-telegram-bot's Application, polling (webhook: a later step).

Thin: converts updates with `convert`, formats replies with `formatting`; all behaviour is the engine's.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from telegram import Bot, BotCommand, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters.telegram.convert import NOT_TEXT, GroupPolicy, to_incoming
from adapters.telegram.formatting import MAX_MESSAGE, split_text, to_html_messages
from bot import messages
from bot.app.services import Services
from bot.app.settings import Settings
from bot.engine import Engine
from bot.handoff.outbox import Delivery, Outbox, Undeliverable, start_consuming
from bot.tasks import cancel_and_wait
from bot.types import IncomingMessage, Reply

log = logging.getLogger(__name__)
BUTTONS: dict[str, Literal["up", "down", "human"]] = {"up": "up", "down": "down", "human": "human"}
ONLY_TEXT = "Sorry, I can only read text messages. Please type your question."
SORRY = "Sorry, something went wrong on our side and I couldn't answer that. Please try again in a moment."
EXPIRED = "This button has expired."  # a button we no longer know, or on a message we cannot see
BUTTON_FAILED = "Sorry, that didn't work. Please try again in a moment."
COMMANDS = [
    BotCommand("help", "What I can do"),
    BotCommand("sources", "Where my last answer came from"),
    BotCommand("reset", "Start this conversation afresh"),
    BotCommand("forget", "Erase everything stored about you"),
    BotCommand("human", "Talk to a person from our team"),
]
NOTICES = {"resolved": messages.HANDOFF_RESOLVED, "waiting": messages.HANDOFF_WAITING}
TYPING_EVERY_S = 4.5  # Telegram clears "typing…" after about 5 s


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str  # the public URL Telegram posts to
    secret: str  # checked against X-Telegram-Bot-Api-Secret-Token; a mismatch is refused (403)
    listen: str = "127.0.0.1"
    port: int = 8443
    path: str = "telegram"


class TelegramAdapter:
    def __init__(self, token: str, base_url: str | None = None, answer_all_in_groups: bool = False,
                 staff_user_ids: frozenset[int] = frozenset(), webhook: WebhookConfig | None = None,
                 flood_limits: bool = True, typing_after_s: float = 1.0) -> None:
        builder = ApplicationBuilder().token(token).concurrent_updates(True)
        if flood_limits:
            # Keeps under Telegram's flood limits and retries a 429 after its retry_after.
            builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]  # PTB generics
        if base_url:
            builder = builder.base_url(base_url)
        self.application: Application = builder.build()  # type: ignore[type-arg]
        self._answer_all = answer_all_in_groups
        self._webhook = webhook
        self._staff = staff_user_ids
        self._typing_after_s = typing_after_s
        self._policy: GroupPolicy | None = None
        self._core: Engine | None = None
        self._relay: asyncio.Task[None] | None = None
        self.application.add_handler(MessageHandler(filters.UpdateType.MESSAGES, self._on_message))
        # Every button press, known or not: an unanswered one keeps the shopper's client spinning.
        self.application.add_handler(CallbackQueryHandler(self._on_button))
        self.application.add_error_handler(self._on_error)

    async def start(self, core: Engine, outbox: Outbox | None = None) -> None:
        """Initialise (getMe), register the command menu, then poll or serve the webhook; with an outbox,
        deliver what support staff send to shoppers (handoff replies and notices)."""
        self._core = core
        await self.application.initialize()
        me = self.application.bot
        self._policy = GroupPolicy(me.username, me.id, self._answer_all, self._staff)
        await me.set_my_commands(COMMANDS)
        await self.application.start()
        updater = self.application.updater
        assert updater is not None
        if self._webhook is None:
            await updater.start_polling(poll_interval=0.0, timeout=10)
        else:
            hook = self._webhook
            await updater.start_webhook(listen=hook.listen, port=hook.port, url_path=hook.path,
                                        webhook_url=hook.url, secret_token=hook.secret)
        if outbox is not None:
            self._relay = await start_consuming(outbox, "telegram", self._deliver)

    async def _deliver(self, delivery: Delivery) -> None:
        """A message from support staff (or about the handoff) to the shopper's chat, as plain text."""
        chat = delivery.fields.get("conversation", "")
        if delivery.kind == "staff":
            staff = delivery.fields.get("staff", "")
            text = f"{staff} (support): {delivery.fields['text']}" if staff else delivery.fields["text"]
        elif delivery.kind in NOTICES:
            text = NOTICES[delivery.kind]
        else:
            log.warning("unknown delivery %s dropped", delivery.kind)
            return
        try:
            for part in split_text(text, MAX_MESSAGE):  # plain text: staff words are never parsed as markup
                await self.application.bot.send_message(chat, part)
        except (BadRequest, Forbidden) as err:  # the chat is gone or blocked the bot: retrying cannot help
            raise Undeliverable(f"chat {chat}: {err}") from err

    async def stop(self) -> None:
        if self._relay is not None:
            await cancel_and_wait(self._relay)
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def run(self, services: Services) -> None:
        await self.start(services.engine, services.outbox)
        try:
            await asyncio.Event().wait()  # until cancelled (Ctrl-C)
        finally:
            await self.stop()

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self._policy is not None and self._core is not None
        msg = to_incoming(update, self._policy)
        chat = update.effective_chat
        if msg is None or chat is None:
            return
        if msg.text == NOT_TEXT:
            await context.bot.send_message(chat.id, ONLY_TEXT)
            return
        reply = await self._answer(context.bot, chat.id, msg)
        if reply is None:
            return
        parts = to_html_messages(reply)
        for number, part in enumerate(parts, start=1):
            await context.bot.send_message(chat.id, part, parse_mode=ParseMode.HTML, disable_web_page_preview=True,
                                           reply_markup=_buttons(reply) if number == len(parts) else None)

    async def _answer(self, bot: Bot, chat_id: int, msg: IncomingMessage) -> Reply | None:
        """The engine's reply, with "typing…" only once it is slow: every API call counts against the flood
        limit, so a quick answer costs one (sendMessage), not two. The core's exceptions propagate (to
        `_on_error`); if this handler is cancelled, so is the answering."""
        assert self._core is not None
        answering = asyncio.create_task(self._core.handle(msg))
        typing: asyncio.Task[None] | None = None
        try:
            done, _ = await asyncio.wait({answering}, timeout=self._typing_after_s)
            if not done:
                # A task of its own, so that a typing call queued behind the flood limiter never delays the answer.
                typing = asyncio.create_task(_keep_typing(bot, chat_id))
            return await answering
        finally:
            # A typing call still in flight is aborted too (its connection is dropped and reopened): rare, and
            # better than holding the answer back for a cosmetic call.
            await cancel_and_wait(*(task for task in (answering, typing) if task is not None))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything that fails inside the core (Redis down, no index): logged with the update id, and the
        shopper gets a short apology instead of silence."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("update %s failed: %r", update_id, context.error, exc_info=context.error)
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is not None:
            try:
                await context.bot.send_message(chat.id, SORRY)
            except TelegramError as err:
                log.warning("could not apologise in chat %s: %s", chat.id, err)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every press is answered (answerCallbackQuery), whatever happens, so the client stops spinning."""
        assert self._core is not None
        query = update.callback_query
        if query is None:
            return
        kind = BUTTONS.get(query.data or "")
        if query.message is None or kind is None:
            await _answer_query(query, EXPIRED)
            return
        chat = query.message.chat.id
        try:
            ack = await self._core.feedback("telegram", str(chat), str(query.from_user.id), kind,
                                            query.from_user.full_name)
        except Exception:
            log.exception("button %r in chat %s failed", kind, chat)
            await _answer_query(query, BUTTON_FAILED)
            return
        await _answer_query(query, ack)
        if kind == "human":
            await context.bot.send_message(chat, ack)


async def _answer_query(query: CallbackQuery, text: str) -> None:
    """A failure (the press is too old to answer) is logged: the shopper cannot be told any other way."""
    try:
        await query.answer(text)
    except TelegramError as err:
        log.warning("could not answer button press %s: %s", query.id, err)


async def _keep_typing(bot: Bot, chat_id: int) -> None:
    """Shows "typing…" until cancelled. It is cosmetic: a failure is logged and never costs the answer."""
    while True:
        try:
            await bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as err:
            log.warning("could not show typing in chat %s: %s", chat_id, err)
        await asyncio.sleep(TYPING_EVERY_S)


def _buttons(reply: Reply) -> InlineKeyboardMarkup | None:
    """👍/👎 under every answer; "Talk to a person" under a declined one."""
    if reply.mode not in ("extractive", "llm", "smalltalk"):
        return None
    rows = [[InlineKeyboardButton("👍", callback_data="up"), InlineKeyboardButton("👎", callback_data="down")]]
    if not reply.confident:
        rows.append([InlineKeyboardButton("Talk to a person", callback_data="human")])
    return InlineKeyboardMarkup(rows)


def create(settings: Settings) -> TelegramAdapter:
    if not settings.telegram_bot_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    webhook = None
    if settings.telegram_webhook_url:
        if not settings.telegram_webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET must be set in webhook mode")
        webhook = WebhookConfig(settings.telegram_webhook_url, settings.telegram_webhook_secret,
                                settings.telegram_webhook_listen, settings.telegram_webhook_port,
                                settings.telegram_webhook_path)
    return TelegramAdapter(settings.telegram_bot_token, settings.telegram_api_base_url or None,
                           settings.telegram_answer_all_in_groups, webhook=webhook,
                           typing_after_s=settings.telegram_typing_after_s)
