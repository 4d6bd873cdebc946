"""The Telegram transport: python-telegram-bot's Application, polling or webhook.

Thin: `convert` turns updates into the core's events, every one handed to `Engine.handle`; `formatting`
turns replies into HTML; `senders` sends what the core sends to shoppers. All behaviour is the engine's.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters.settings_base import load
from adapters.telegram.convert import COMMANDS, NOT_TEXT, GroupPolicy, buttons_of, to_incoming
from adapters.telegram.formatting import to_html_messages
from adapters.telegram.ordering import PerChatOrder
from adapters.telegram.senders import ShopperSenders, answer_query, keep_typing
from adapters.telegram.settings import TelegramSettings
from adapters.telegram.webhook import WebhookServer
from bot.app.services import Services
from bot.app.settings import Settings
from bot.engine import Engine
from bot.events import Button, ButtonPress
from bot.store.outbox import Outbox, start_consuming
from bot.tasks import cancel_and_wait, passing
from bot.types import IncomingMessage, Reply

log = logging.getLogger(__name__)
BUTTONS: dict[str, Button] = {"up": "up", "down": "down", "human": "human"}
ONLY_TEXT = "Sorry, I can only read text messages. Please type your question."
SORRY = "Sorry, something went wrong on our side and I couldn't answer that. Please try again in a moment."
EXPIRED = "This button has expired."  # a button we no longer know, or on a message we cannot see
BUTTON_FAILED = "Sorry, that didn't work. Please try again in a moment."


class TelegramAdapter:
    def __init__(self, settings: TelegramSettings) -> None:
        builder = ApplicationBuilder().token(settings.bot_token).concurrent_updates(PerChatOrder())
        if settings.flood_limits:
            # Keeps under Telegram's flood limits and retries a 429 after its retry_after.
            builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]  # PTB generics
        if settings.api_base_url:
            builder = builder.base_url(settings.api_base_url)
        self.application: Application = builder.build()  # type: ignore[type-arg]
        self._settings = settings
        self._policy: GroupPolicy | None = None
        self._core: Engine | None = None
        self._relay: asyncio.Task[None] | None = None
        self._outbox: Outbox | None = None
        self._retry_later: set[int] = set()
        self._webhook = WebhookServer(self.application, settings, self._retry_later) if settings.webhook_url else None
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
        self._policy = GroupPolicy(me.username, me.id, self._settings.answer_all_in_groups, self._settings.staff)
        await me.set_my_commands(COMMANDS)
        await self.application.start()
        if self._webhook is not None:
            await self._webhook.start()
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(poll_interval=0.0, timeout=10)
        self._outbox = outbox
        if outbox is not None:
            self._relay = await start_consuming(outbox, "telegram", ShopperSenders(self.application.bot).deliver)

    async def stop(self) -> None:
        if self._relay is not None:
            await cancel_and_wait(self._relay)
        if self._webhook is not None:
            await self._webhook.stop()
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
        await self._send(context.bot, msg.conversation_id, reply)

    async def _send(self, bot: Bot, chat: str, reply: Reply) -> None:
        """Sends the reply; if Telegram will not take it now (after PTB's retries), the outbox sends it when it
        does, and the chat's next answers wait behind it, so the shopper reads them in order."""
        outbox, parts, sent = self._outbox, to_html_messages(reply), 0
        try:
            if outbox is None or not await outbox.has_queued("telegram", chat):
                for part in parts:
                    await bot.send_message(chat, part, parse_mode=ParseMode.HTML, disable_web_page_preview=True,
                                           reply_markup=buttons_of(reply) if sent == len(parts) - 1 else None)
                    sent += 1
                return
        except (RetryAfter, NetworkError) as err:
            if outbox is None or isinstance(err, BadRequest):  # nowhere to keep it, or Telegram refuses it for good
                raise
            log.warning("answer for chat %s queued after %d of %d parts: %s", chat, sent, len(parts), err)
        await outbox.queue_reply("telegram", chat, reply, sent)

    async def _answer(self, bot: Bot, chat_id: int, msg: IncomingMessage) -> Reply | None:
        """The engine's reply, with "typing…" only once it is slow: every API call counts against the flood
        limit, so a quick answer costs one (sendMessage), not two. The core's exceptions propagate (to
        `_on_error`); if this handler is cancelled, so is the answering."""
        assert self._core is not None
        answering = asyncio.create_task(self._core.handle(msg))
        typing: asyncio.Task[None] | None = None
        try:
            done, _ = await asyncio.wait({answering}, timeout=self._settings.typing_after_s)
            if not done:
                # A task of its own, so that a typing call queued behind the flood limiter never delays the answer.
                typing = asyncio.create_task(keep_typing(bot, chat_id))
            return await answering
        finally:
            # A typing call still in flight is aborted too (its connection is dropped and reopened): rare, and
            # better than holding the answer back for a cosmetic call.
            await cancel_and_wait(*(task for task in (answering, typing) if task is not None))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything that fails inside the core: logged with the update id. Over the webhook, a passing failure
        (Redis unreachable) is left to Telegram's redelivery; otherwise the shopper gets a short apology."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("update %s failed: %r", update_id, context.error, exc_info=context.error)
        if self._webhook is not None and update_id is not None and passing(context.error):
            self._retry_later.add(update_id)  # answered 500: Telegram delivers it again
            return
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
        kind = BUTTONS.get(query.data) if isinstance(query.data, str) else None
        if query.message is None or kind is None or query.from_user is None:
            await answer_query(query, EXPIRED)
            return
        chat = query.message.chat.id
        try:
            reply = await self._core.handle(ButtonPress("telegram", str(chat), str(query.from_user.id), kind,
                                                        query.from_user.full_name))
        except Exception:
            log.exception("button %r in chat %s failed", kind, chat)
            await answer_query(query, BUTTON_FAILED)
            return
        ack = reply.text if reply is not None else ""
        await answer_query(query, ack)
        if kind == "human":
            await context.bot.send_message(chat, ack)


def create(settings: Settings) -> TelegramAdapter:
    return TelegramAdapter(load(TelegramSettings))
