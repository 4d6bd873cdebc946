"""PTB's update processing, concurrent across chats and in arrival order within one: a chat's second question
is answered (and its turn remembered) after its first, never before."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.tasks import InOrder

MAX_CONCURRENT_UPDATES = 256  # PTB's default when concurrent_updates=True


class PerChatOrder(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._chats = InOrder()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:  # nothing to keep in order with (e.g. an inline query)
            await coroutine
            return
        async with self._chats.hold(str(chat.id)):
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: the application waits for running updates itself."""
