"""Everything the core sends to a platform through the outbox, one dataclass per kind (opsdroid's events).

Serialised once, at the outbox boundary (`encode` / `decode`); each adapter has a sender per type.
"""

from __future__ import annotations

import json
import types
from dataclasses import asdict, dataclass, fields, is_dataclass
from typing import Any, Protocol, Union, get_args, get_origin, get_type_hints

from bot.types import Citation, Reply, Role


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    role: Role
    text: str


@dataclass(frozen=True, slots=True)
class HandoffOpened:
    """To staff: a conversation needs a person (with what was said so far)."""

    handoff: str
    platform: str  # the shopper's
    name: str
    reason: str  # "button" | "asked" | "declined"
    transcript: tuple[TranscriptLine, ...] = ()
    last_answer: str = ""
    sources: tuple[Citation, ...] = ()


@dataclass(frozen=True, slots=True)
class ShopperToStaff:
    handoff: str
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class StaffToShopper:
    conversation: str
    text: str
    staff: str = ""  # shown as "Jane (support): …"; empty: the text alone


@dataclass(frozen=True, slots=True)
class Resolved:
    """The handoff is closed: staff are told who closed it, the shopper that the bot is back."""

    handoff: str
    conversation: str
    name: str
    by: str


@dataclass(frozen=True, slots=True)
class Reminder:
    """Nobody has answered in time: staff are reminded, the shopper told honestly."""

    handoff: str
    conversation: str
    name: str
    minutes: int


@dataclass(frozen=True, slots=True)
class ReplyTo:
    """An answer for a conversation, sent when the platform takes it."""

    conversation: str
    reply: Reply
    sent_parts: int = 0  # of the reply's messages, as the platform splits it, those already sent


Outbound = HandoffOpened | ShopperToStaff | StaffToShopper | Resolved | Reminder | ReplyTo
KINDS: dict[str, type[Any]] = {kind.__name__: kind for kind in get_args(Outbound)}


class HandoffThreads(Protocol):
    """Where the staff platform's sender records and finds a handoff's thread."""

    async def thread_of(self, handoff_id: str) -> str: ...
    async def attach_thread(self, handoff_id: str, thread: str) -> None: ...


def encode(event: Outbound) -> dict[str, str]:
    return {"type": type(event).__name__, "data": json.dumps(asdict(event), ensure_ascii=False)}


def decode(entry: dict[str, str]) -> Outbound:
    """An outbox entry back as its event; a ValueError for one no sender could handle."""
    if "type" not in entry and "kind" in entry:
        return _legacy(entry)
    kind = KINDS.get(entry.get("type", ""))
    if kind is None:
        raise ValueError(f"unknown outbound event type {entry.get('type')!r}")
    try:
        built: Outbound = _build(kind, json.loads(entry.get("data", "")))
    except (TypeError, KeyError, AttributeError, RecursionError, json.JSONDecodeError) as err:
        raise ValueError(f"malformed {kind.__name__}: {type(err).__name__}") from None
    return built


def _build(kind: Any, value: Any) -> Any:
    """JSON back into the declared type: dataclasses, tuples of them, optionals, plain values."""
    if is_dataclass(kind) and isinstance(kind, type):
        hints = get_type_hints(kind)
        return kind(**{f.name: _build(hints[f.name], value[f.name]) for f in fields(kind) if f.name in value})
    origin = get_origin(kind)
    if origin is tuple:
        args = get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], item) for item in value)
        return tuple(_build(arg, item) for arg, item in zip(args, value, strict=True))
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        return _build(next(arg for arg in get_args(kind) if arg is not type(None)), value)
    return value


def _legacy(entry: dict[str, str]) -> Outbound:
    """An entry queued by the version before typed events (`kind` + flat fields), still in a stream after an
    upgrade: read as today's event, so a handoff in progress across the deploy loses no message."""
    kind, get = entry["kind"], entry.get
    name = get("name") or "the shopper"  # staff-side entries of that version named nobody
    try:
        match kind:
            case "opened":
                transcript = tuple(TranscriptLine(t["role"], t["text"]) for t in json.loads(get("transcript", "[]")))
                sources = tuple(Citation(**c) for c in json.loads(get("sources", "[]")))
                return HandoffOpened(entry["handoff"], get("platform", ""), name, get("reason", ""),
                                     transcript, get("last_answer", ""), sources)
            case "shopper":
                return ShopperToStaff(entry["handoff"], name, entry["text"])
            case "staff":
                return StaffToShopper(entry["conversation"], entry["text"], get("staff", ""))
            case "resolved":
                return Resolved(get("handoff", ""), get("conversation", ""), name, get("by", ""))
            case "reminder" | "waiting":
                return Reminder(get("handoff", ""), get("conversation", ""), name,
                                int(get("minutes", "0") or 0))
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as err:
        raise ValueError(f"malformed {kind!r} entry of the previous version: {err}") from None
    raise ValueError(f"unknown outbox entry kind {kind!r}")
