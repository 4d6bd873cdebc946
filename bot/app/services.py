"""What an adapter serves with: the engine (the one door for everything inbound) and, with Redis, the
journal it takes questions into, the outbox it delivers through and the handoff threads its staff-side
sender records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.engine import Engine
from bot.handoff.desk import HandoffDesk
from bot.outbound import HandoffThreads
from bot.store.journal import Journal
from bot.store.outbox import Outbox


@dataclass(frozen=True, slots=True)
class Services:
    engine: Engine
    outbox: Outbox | None = None
    threads: HandoffThreads | None = None  # None: no handoff desk (no Redis, or HANDOFF_TO empty)
    desk: HandoffDesk | None = None  # for the process's own background work (reminders), not for adapters
    journal: Journal | None = None  # with Redis: questions taken in before they are acknowledged


class Adapter(Protocol):
    """A platform adapter: turns platform events into the core's events, and what comes back into messages."""

    async def run(self, services: Services) -> None: ...
