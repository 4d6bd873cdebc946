"""A terminal chat: each line is a message, each reply is printed with its sources."""

from __future__ import annotations

import asyncio
import getpass
import logging

from rich.console import Console

from bot.app.services import Services
from bot.app.settings import Settings
from bot.types import IncomingMessage

log = logging.getLogger(__name__)
SORRY = "Sorry, something went wrong on my side and I couldn't answer that. Please try again in a moment."


class ConsoleAdapter:
    def __init__(self, settings: Settings, console: Console | None = None) -> None:
        self._store = settings.store_name
        self._console = console or Console(highlight=False)
        self._user = getpass.getuser()

    async def run(self, services: Services) -> None:
        handler = services.engine
        self._console.print(f"[bold]{self._store}[/bold] assistant. Ask a question; /help for commands, Ctrl-D quits.")
        number = 0
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except (EOFError, KeyboardInterrupt):
                self._console.print()
                return
            number += 1
            msg = IncomingMessage("console", f"console:{self._user}", self._user, line, f"console-{id(self)}-{number}")
            try:
                reply = await handler.handle(msg)
            except Exception:  # Redis down, no index…: the chat goes on, and the log says what broke
                log.exception("console message %s failed", msg.event_id)
                self._console.print("bot> " + SORRY, markup=False)
                continue
            if reply is None:
                continue
            self._console.print("bot> " + reply.text, markup=False)
            for index, citation in enumerate(reply.citations, start=1):
                where = citation.url or citation.source
                self._console.print(f"     [{index}] {citation.title} — {where}", style="dim", markup=False)


def create(settings: Settings) -> ConsoleAdapter:
    return ConsoleAdapter(settings)
