"""What an adapter serves with: the conversation engine, knowledge-base operations for ops, and (with
Redis) the handoff desk, the outbox it delivers through, and reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.engine import Engine
from bot.handoff.desk import HandoffDesk
from bot.handoff.outbox import Outbox
from bot.ops.kb import KnowledgeOps
from bot.ops.reports import Reports


@dataclass(frozen=True, slots=True)
class Services:
    engine: Engine
    ops: KnowledgeOps
    desk: HandoffDesk | None = None
    outbox: Outbox | None = None
    reports: Reports | None = None


class Adapter(Protocol):
    """A platform adapter: turns platform events into IncomingMessages and Replies back."""

    async def run(self, services: Services) -> None: ...
