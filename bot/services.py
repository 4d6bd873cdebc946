"""What an adapter serves with: the conversation engine, knowledge-base operations for ops, and (with
Redis) the handoff desk, the outbox it delivers through, and reports."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine import Engine
from bot.handoff import HandoffDesk
from bot.knowledge_ops import KnowledgeOps
from bot.outbox import Outbox
from bot.report import Reports


@dataclass(frozen=True, slots=True)
class Services:
    engine: Engine
    ops: KnowledgeOps
    desk: HandoffDesk | None = None
    outbox: Outbox | None = None
    reports: Reports | None = None
