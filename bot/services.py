"""What an adapter serves with: the conversation engine and, for ops commands, the knowledge-base operations."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine import Engine
from bot.knowledge_ops import KnowledgeOps


@dataclass(frozen=True, slots=True)
class Services:
    engine: Engine
    ops: KnowledgeOps
