"""Neutral types at the boundary between adapters and the core."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Literal, Protocol

from knowledge.index.retrieval import Passage

Role = Literal["shopper", "bot"]


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    platform: str  # "telegram" | "slack" | "console"
    conversation_id: str  # chat id, or channel:thread_ts; opaque to the core
    user_id: str
    text: str
    event_id: str | None = None  # platform delivery id, for dedupe
    is_direct: bool = True
    is_staff: bool = False  # decided by the adapter from configuration, never by text
    display_name: str = ""  # shown to staff when the conversation is handed to a person


@dataclass(frozen=True, slots=True)
class Citation:
    source_id: str  # node id
    title: str
    url: str = ""
    source: str = ""  # file:line


@dataclass(frozen=True, slots=True)
class Focus:
    """What an answer was about: the products it named (best first) and the FAQ entry or page section."""

    products: tuple[str, ...] = ()  # product ids
    topic: str = ""  # node id of the FAQ entry or page section
    question: str = ""  # the question it answered, as resolved (for follow-ups on a topic)
    options: tuple[tuple[str, str], ...] = ()  # the variant of the first product it was about ("L", "Red")
    alike: bool = False  # answered for each product alike ("how much is the tent?" with two), not best first
    kind: str = ""  # the kind a list was of ("yoga pants"): "which is the cheapest?" then ranks all of it


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    citations: tuple[Citation, ...] = ()
    confident: bool = True  # False: the bot declined and offers a human
    mode: str = "extractive"  # which answerer produced it ("extractive", "llm", "command", "notice", "handoff")
    model: str = ""  # the chat model behind an "llm" answer
    focus: Focus | None = None  # what the answer was about, so "is it waterproof?" can follow


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    text: str
    citations: tuple[Citation, ...] = ()
    mode: str = ""  # for bot turns: which answerer produced it
    confident: bool = True  # for bot turns: False when it declined
    model: str = ""
    focus: Focus | None = None  # for bot turns: what the answer was about
    user: str = ""  # who said it, or whom the bot answered ("": stored before turns recorded it)


def focus_of(history: tuple[Turn, ...]) -> Focus | None:
    """The focus of the last answer, if the last answer had one (a declined answer keeps the one before)."""
    for turn in reversed(history):
        if turn.role != "bot" or turn.mode in ("command", "notice"):
            continue
        if turn.focus is not None:
            return turn.focus
        if turn.confident and turn.mode != "smalltalk":
            return None
    return None


class Answerer(Protocol):
    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply: ...


class PassageSearch(Protocol):
    async def asearch(self, query: str, top_k: int = 5) -> list[Passage]: ...


def citation_of(passage: Passage) -> Citation:
    return Citation(passage.node_id, passage.title, passage.url, passage.source)


@dataclass(slots=True)
class Admission:
    """A message let into its conversation: what the state knew then, and the turns to remember."""

    duplicate: bool = False  # a redelivered event: not admitted, nothing else to do
    rate_count: int = 0  # the user's messages this minute, this one included (0: not counted)
    history: tuple[Turn, ...] = ()  # the conversation's memory, read under the lock
    peeked: str | None = None  # the value of the `peek_key` asked for, if any
    pending: list[Turn] = field(default_factory=list)  # written to memory as the conversation is released

    def remember(self, *turns: Turn) -> None:
        self.pending.extend(turns)


class ConversationState(Protocol):
    """Dedupe, ordering, rate limits and memory; RedisState in production."""

    @property
    def rate_limit(self) -> int: ...
    def admit(self, platform: str, conversation: str, user: str, event_id: str | None = None, *,
              counted: bool = True, peek_key: str | None = None) -> AbstractAsyncContextManager[Admission]:
        """Holds the conversation (one message of it at a time, across processes) for the block, unless the event
        was delivered before (`duplicate`: then nothing is held). `counted` counts the message towards the
        user's rate limit; `peek_key` names one more key to read under the lock. Leaving the block writes the
        turns remembered and releases the conversation, whatever way the block is left."""
        ...
    async def load(self, platform: str, conversation: str) -> tuple[Turn, ...]: ...
    async def clear(self, platform: str, conversation: str) -> None: ...
    async def forget_user(self, platform: str, user: str) -> int:
        """Erases the user's turns (and the bot's turns answering them) from every conversation, other
        people's turns in a group staying; returns how many turns and keys were removed."""
        ...


class MessageHandler(Protocol):
    async def handle(self, msg: IncomingMessage) -> Reply | None: ...
