"""`/storebot` subcommands: `ask <question>`, `kb status`, `kb reload`, `kb rollback`, `resolve <handoff>`,
`report [days]`."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_REPORT_DAYS = 3650


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # "ask" | "kb status" | "kb reload" | "kb rollback" | "resolve" | "report"
    argument: str = ""
    days: float = 7.0  # report period


def parse_command(text: str) -> Command | None:
    """The subcommand, or None when the text is not one (the caller shows the usage)."""
    words = text.split()
    head = words[0].lower() if words else ""  # subcommand words in any case; arguments as they are
    if len(words) >= 2 and head == "ask":
        return Command("ask", text.strip()[3:].strip())
    if len(words) == 2 and head == "resolve":
        return Command("resolve", words[1])
    if head == "report" and len(words) <= 2:
        days = words[1].lower().removesuffix("d") if len(words) == 2 else "7"
        if not re.fullmatch(r"[0-9]{1,4}(?:\.[0-9]{1,3})?", days) or not 0 < float(days) <= MAX_REPORT_DAYS:
            return None
        return Command("report", days=float(days))
    if len(words) == 2 and head == "kb" and words[1].lower() in ("status", "reload", "rollback"):
        return Command(f"kb {words[1].lower()}")
    return None


def usage(command: str) -> str:
    return (f"Usage: `{command} ask <question>` · `{command} kb status` · `{command} resolve <handoff id>` · "
            f"`{command} kb reload` (ops) · `{command} kb rollback` (ops) · `{command} report [days]` (ops)")
