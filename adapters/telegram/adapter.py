"""The Telegram transport: python-telegram-bot's Application, polling or webhook.

Thin: `convert` turns updates into the core's events, every one handed to `Engine.handle`; `formatting`
turns replies into HTML; `senders` sends what the core sends to shoppers. All behaviour is the engine's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Update
from telegram.error import TelegramError
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
from adapters.telegram.convert import COMMANDS, NOT_TEXT, GroupPolicy, to_incoming
from adapters.telegram.ordering import PerChatOrder
from adapters.telegram.questions import Questions
from adapters.telegram.senders import ShopperSenders, answer_query
from adapters.telegram.settings import TelegramSettings
from adapters.telegram.webhook import WebhookServer
from bot.app.services import Services
from bot.app.settings import STOP_GRACE_S, Settings
from bot.engine import Engine
from bot.events import Button, ButtonPress
from bot.store.journal import Journal, Taken
from bot.store.outbox import Outbox, start_consuming
from bot.tasks import cancel_and_wait, passing

log = logging.getLogger(__name__)
BUTTONS: dict[str, Button] = {"up": "up", "down": "down", "human": "human"}
ONLY_TEXT = "Sorry, I can only read text messages. Please type your question."
SORRY = "Sorry, something went wrong on our side and I couldn't answer that. Please try again in a moment."
EXPIRED = "This button has expired."  # a button we no longer know, or on a message we cannot see
BUTTON_FAILED = "Sorry, that didn't work. Please try again in a moment."


class TelegramAdapter:
    def __init__(self, settings: TelegramSettings, stop_grace_s: float = STOP_GRACE_S) -> None:
        builder = ApplicationBuilder().token(settings.bot_token).concurrent_updates(PerChatOrder())
        if settings.flood_limits:
            # Keeps under Telegram's flood limits and retries a 429 after its retry_after.
            builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]  # PTB generics
        if settings.api_base_url:
            builder = builder.base_url(settings.api_base_url)
        self.application: Application = builder.build()  # type: ignore[type-arg]
        self._settings, self._stop_grace_s = settings, stop_grace_s
        self._policy: GroupPolicy | None = None
        self._core: Engine | None = None
        self._questions: Questions | None = None
        self._journal: Journal | None = None
        self._background: list[asyncio.Task[None]] = []
        self._retry_later: set[int] = set()
        self._webhook = (WebhookServer(self.application, settings, self._retry_later, stop_grace_s)
                         if settings.webhook_url else None)
        self.application.add_handler(MessageHandler(filters.UpdateType.MESSAGES, self._on_message))
        # Every button press, known or not: an unanswered one keeps the shopper's client spinning.
        self.application.add_handler(CallbackQueryHandler(self._on_button))
        self.application.add_error_handler(self._on_error)

    async def start(self, core: Engine, outbox: Outbox | None = None, journal: Journal | None = None) -> None:
        """Initialise (getMe), register the command menu, then poll or serve the webhook; with an outbox,
        deliver what support staff send to shoppers (handoff replies and notices); with a journal, answer
        what stopped processes left unanswered."""
        self._core, self._journal = core, journal
        await self.application.initialize()
        me = self.application.bot
        self._policy = GroupPolicy(me.username, me.id, self._settings.answer_all_in_groups, self._settings.staff)
        self._questions = Questions(me, core, outbox, journal, self._settings.typing_after_s)
        if journal is not None:
            self._background.append(asyncio.create_task(journal.run("telegram", self._answer_again)))
        await me.set_my_commands(COMMANDS)
        await self.application.start()
        if self._webhook is not None:
            await self._webhook.start()
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(poll_interval=0.0, timeout=10)
        if outbox is not None:
            self._background.append(await start_consuming(outbox, "telegram", ShopperSenders(me).deliver))

    async def stop(self) -> None:
        """Takes no new update, lets those in hand be answered (within the stop grace), then leaves: what is
        still unanswered is adopted by another process at once."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._stop_grace_s
        if self._webhook is not None:
            await self._webhook.stop()  # its port closed, then waits for the updates being handled
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()  # polling: answers the updates already fetched, while still alive
        if self._journal is not None:
            await self._journal.drain("telegram", give_up - loop.time())
        await cancel_and_wait(*self._background)
        await self.application.shutdown()

    async def run(self, services: Services) -> None:
        await self.start(services.engine, services.outbox, services.journal)
        try:
            await asyncio.Event().wait()  # until cancelled (Ctrl-C)
        finally:
            await self.stop()

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self._policy is not None and self._questions is not None
        msg = to_incoming(update, self._policy)
        chat = update.effective_chat
        if msg is None or chat is None:
            return
        if msg.text == NOT_TEXT:
            await context.bot.send_message(chat.id, ONLY_TEXT)
            return
        taken = None
        if self._journal is not None:
            try:
                taken = await self._questions.take(update, msg)
            except Exception as err:
                if self._webhook is None or not passing(err):
                    raise
                log.warning("update %s not taken (%s): left to Telegram's redelivery", update.update_id, err)
                self._retry_later.add(update.update_id)  # answered 500: Telegram delivers it again
                return
            if taken is None:
                log.info("duplicate delivery of update %s dropped", update.update_id)
                return
        await self._questions.answer(chat.id, msg, taken)

    async def _answer_again(self, taken: Taken) -> None:
        """A question a stopped process took and never answered (see bot/store/journal.py)."""
        assert self._policy is not None and self._questions is not None
        try:
            await self._questions.answer_again(taken, self._policy)
        except Exception:
            log.exception("adopted update %s failed", taken.event)
            with contextlib.suppress(TelegramError, ValueError):
                await self.application.bot.send_message(taken.conversation, SORRY)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything that fails inside the core: logged with the update id, and the shopper gets a short apology.
        (A question taken in is retried while Redis is unreachable before it fails here.)"""
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
    return TelegramAdapter(load(TelegramSettings), settings.stop_grace_s)
