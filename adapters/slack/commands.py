"""`/storebot` subcommands: `ask <question>`, `kb status`, `kb reload`, `kb rollback`."""

from __future__ import annotations

from dataclasses import dataclass

OPS_ONLY = frozenset({"kb reload", "kb rollback"})
REFUSED = "Sorry, only the store's ops team may change the knowledge base. This attempt has been logged."


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # "ask" | "kb status" | "kb reload" | "kb rollback"
    argument: str = ""


def parse_command(text: str) -> Command | None:
    """The subcommand, or None when the text is not one (the caller shows the usage)."""
    words = text.split()
    if len(words) >= 2 and words[0].lower() == "ask":
        return Command("ask", text.strip()[3:].strip())
    if len(words) == 2 and words[0].lower() == "kb" and words[1].lower() in ("status", "reload", "rollback"):
        return Command(f"kb {words[1].lower()}")
    return None


def usage(command: str) -> str:
    return (f"Usage: `{command} ask <question>` · `{command} kb status` · "
            f"`{command} kb reload` (ops) · `{command} kb rollback` (ops)")
