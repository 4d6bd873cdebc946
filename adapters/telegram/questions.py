"""A shopper's question on Telegram, from taking it in to its reply sent.

With Redis, a question is taken into the journal first (bot/store/journal.py): a delivery again of an update
already taken is dropped there, the chat's questions are answered in the order they were taken whichever
process took them, and if this process dies before replying, another one replies. Without Redis (the demo),
it is answered at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace

from telegram import Bot, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter

from adapters.telegram.convert import GroupPolicy, buttons_of, to_incoming
from adapters.telegram.formatting import to_html_messages
from adapters.telegram.senders import keep_typing
from bot.engine import Engine
from bot.store.journal import Journal, Taken, platform_order
from bot.store.outbox import Outbox
from bot.tasks import cancel_and_wait
from bot.types import IncomingMessage, Reply

log = logging.getLogger(__name__)


class Questions:
    def __init__(self, bot: Bot, core: Engine, outbox: Outbox | None, journal: Journal | None,
                 typing_after_s: float) -> None:
        self._bot = bot
        self._core = core
        self._outbox = outbox
        self._journal = journal
        self._typing_after_s = typing_after_s

    async def take(self, update: Update, msg: IncomingMessage) -> Taken | None:
        """The question journalled, or None when it is a delivery again. Raises while Redis is unreachable."""
        assert self._journal is not None and msg.event_id is not None
        return await self._journal.take("telegram", msg.conversation_id, msg.event_id, platform_order(update.update_id),
                                        json.dumps(update.to_dict()))

    async def answer(self, chat_id: int, msg: IncomingMessage, taken: Taken | None) -> None:
        """Answers and sends, in the chat's turn when taken (the engine then skips its own dedupe: done here)."""
        if taken is None or self._journal is None:
            await self._answer_and_send(chat_id, msg)
            return
        await self._journal.process(taken, lambda: self._answer_and_send(chat_id, replace(msg, event_id=None)))

    async def answer_again(self, taken: Taken, policy: GroupPolicy) -> None:
        """A question another process took and did not live to answer."""
        update = Update.de_json(json.loads(taken.payload), self._bot)
        msg, chat = to_incoming(update, policy), update.effective_chat
        if msg is None or chat is None:
            return
        await self.answer(chat.id, msg, taken)

    async def _answer_and_send(self, chat_id: int, msg: IncomingMessage) -> None:
        reply = await self._answer(chat_id, msg)
        if reply is not None:
            await self._send(msg.conversation_id, reply)

    async def _send(self, chat: str, reply: Reply) -> None:
        """Sends the reply; if Telegram will not take it now (after PTB's retries), the outbox sends it when it
        does, and the chat's next answers wait behind it, so the shopper reads them in order."""
        outbox, parts, sent = self._outbox, to_html_messages(reply), 0
        try:
            if outbox is None or not await outbox.has_queued("telegram", chat):
                for part in parts:
                    await self._bot.send_message(chat, part, parse_mode=ParseMode.HTML, disable_web_page_preview=True,
                                                 reply_markup=buttons_of(reply) if sent == len(parts) - 1 else None)
                    sent += 1
                return
        except (RetryAfter, NetworkError) as err:
            if outbox is None or isinstance(err, BadRequest):  # nowhere to keep it, or Telegram refuses it for good
                raise
            log.warning("answer for chat %s queued after %d of %d parts: %s", chat, sent, len(parts), err)
        await outbox.queue_reply("telegram", chat, reply, sent)

    async def _answer(self, chat_id: int, msg: IncomingMessage) -> Reply | None:
        """The engine's reply, with "typing…" only once it is slow: every API call counts against the flood
        limit, so a quick answer costs one (sendMessage), not two. The core's exceptions propagate; if this
        is cancelled, so is the answering."""
        answering = asyncio.create_task(self._core.handle(msg))
        typing: asyncio.Task[None] | None = None
        try:
            done, _ = await asyncio.wait({answering}, timeout=self._typing_after_s)
            if not done:
                # A task of its own, so that a typing call queued behind the flood limiter never delays the answer.
                typing = asyncio.create_task(keep_typing(self._bot, chat_id))
            return await answering
        finally:
            # A typing call still in flight is aborted too (its connection is dropped and reopened): rare, and
            # better than holding the answer back for a cosmetic call.
            await cancel_and_wait(*(task for task in (answering, typing) if task is not None))
