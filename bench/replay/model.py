"""The replay's records: a shopper's conversation and questions, what a platform delivered, a serve process,
a scenario; and the Redis keys the bench reads about a conversation."""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.store.journal_keys import seen_key
from bot.store.memory import RedisState


@dataclass
class Question:
    index: int  # its place in the conversation
    key: int  # which of the pool's questions
    text: str
    delivery_id: int  # update_id (Telegram) / the message's number (Slack ts and event id)
    first_sent: float | None = None
    acked_at: float | None = None
    answered_at: float | None = None
    deliveries: list[tuple[float, int, str]] = field(default_factory=list)  # (time, process, status or failure)


@dataclass
class Conversation:
    platform: str  # "telegram" | "slack"
    address: str  # chat id | DM channel id
    questions: list[Question] = field(default_factory=list)
    replies: list[tuple[float, str, int | None]] = field(default_factory=list)  # (time, kind, question key)


@dataclass
class PlatformStats:
    events: int = 0  # deliveries planned: first deliveries and redeliveries
    redelivered: int = 0
    posts: int = 0  # HTTP requests made, retries included
    statuses: Counter[str] = field(default_factory=Counter)  # "200", "500", "connection failed", "timeout"…
    retries: int = 0  # deliveries sent again after a non-200 or a failed connection
    given_up: int = 0  # deliveries the platform stopped retrying
    first_event: float | None = None
    last_ack: float | None = None


@dataclass
class Process:
    number: int
    popen: subprocess.Popen[bytes]
    telegram_url: str
    slack_url: str
    log: Path
    down: bool = False  # the load balancer saw its connection fail


@dataclass
class Scenario:
    name: str
    conversations: list[Conversation]
    redeliver: dict[tuple[int, int], tuple[str, bool]]  # (conversation, question) → (when, to the same process)
    stats: dict[str, PlatformStats]
    started: float = 0.0
    acked: int = 0
    fault_at: int = 0  # acknowledged questions before the fault
    fault_now: asyncio.Event = field(default_factory=asyncio.Event)
    fault_note: str = ""
    redis_down: float | None = None  # when Redis was killed (scenario b)
    redis_back: float | None = None  # when it came back
    log_from: dict[int, int] = field(default_factory=dict)
    log_to: dict[int, int] = field(default_factory=dict)


def slack_ts(number: int) -> str:
    return f"{1_700_000_000 + number // 1_000_000}.{number % 1_000_000:06d}"


def lock_key(conversation: Conversation) -> str:
    return RedisState.lock_key(conversation.platform, conversation.address)


def memory_key(conversation: Conversation) -> str:
    return RedisState.memory_key(conversation.platform, conversation.address)


def dedupe_key(conversation: Conversation, question: Question) -> str:
    """The journal's mark of a question taken in (`bot/store/journal.py`)."""
    event = str(question.delivery_id) if conversation.platform == "telegram" else \
        f"{conversation.address}:{slack_ts(question.delivery_id)}"
    return seen_key(conversation.platform, conversation.address, event)
