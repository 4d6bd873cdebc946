"""Everything that comes into the core, one dataclass per kind, all through `Engine.handle(event)`.

Adapters only convert platform payloads into these (and send what comes back); what an event means —
who may run an ops command, which thread is a handoff, what a button does — is the core's to decide.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from bot.types import IncomingMessage, Reply

Button = Literal["up", "down", "human"]
OpsAction = Literal["kb status", "kb reload", "kb rollback", "report"]
Progress = Callable[[str], Awaitable[None]]


class Directory(Protocol):
    """What the core may ask a platform about people (as opsdroid's events carry their connector)."""

    async def members(self, group: str) -> frozenset[str]:
        """The user ids in a platform user group (for the ops policy); empty when it cannot be read."""
        ...

    async def display_name(self, user: str) -> str:
        """How staff are named to shoppers; the id itself when unknown."""
        ...


class NoDirectory:
    """For platforms (and tests) with no user groups or profiles to look up."""

    async def members(self, group: str) -> frozenset[str]:
        return frozenset()

    async def display_name(self, user: str) -> str:
        return user


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """A button under an answer: 👍, 👎 or "talk to a person"."""

    platform: str
    conversation_id: str
    user_id: str
    button: Button
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class StaffReply:
    """A person's message in a thread of the staff platform: relayed to the shopper if the thread is a handoff's."""

    platform: str
    thread: str  # the thread's id as the adapter recorded it for the handoff (Slack: "channel:thread_ts")
    user_id: str
    text: str
    message_id: str = ""  # the same message redelivered is relayed once
    directory: Directory = field(default_factory=NoDirectory, compare=False)


@dataclass(frozen=True, slots=True)
class Resolve:
    """Staff closing a handoff, by its id (button, command) or by its thread (a "resolve" said in it)."""

    platform: str
    user_id: str
    handoff_id: str = ""
    thread: str = ""


@dataclass(frozen=True, slots=True)
class OpsCommand:
    """A knowledge-base or report command; the core's ops policy decides whether the person may run it."""

    platform: str
    user_id: str
    action: OpsAction
    days: float = 7.0  # the period of a report
    directory: Directory = field(default_factory=NoDirectory, compare=False)
    progress: Progress | None = field(default=None, compare=False)  # reload stages, as they happen


Event = IncomingMessage | ButtonPress | StaffReply | Resolve | OpsCommand


class OpsHandler(Protocol):
    """Runs ops commands for the engine (`bot.ops.desk.OpsDesk`): policy, audit, the operation, its report."""

    async def run(self, command: OpsCommand) -> Reply: ...
