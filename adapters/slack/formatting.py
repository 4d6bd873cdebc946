"""Replies as Slack messages: Block Kit with escaped text, sources as links, 👍/👎 buttons.

The answer body goes in `plain_text` sections, so nothing in it (`*`, `_`, `~`, `<`, links) is
interpreted. Only the sources line is mrkdwn; its titles are escaped. Slack caps a section's text
at 3,000 characters and a message at 50 blocks; longer answers are split across messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from bot.types import Citation, Reply

SECTION_LIMIT = 3000
BLOCKS_PER_MESSAGE = 45  # of Slack's 50, leaving room for the sources and buttons
FALLBACK_LIMIT = 300  # notification text
FEEDBACK_ACTIONS: dict[str, Literal["up", "down"]] = {"storebot_up": "up", "storebot_down": "down"}
_FORMATTING = re.compile(r"([*_~`])")


@dataclass(frozen=True, slots=True)
class SlackMessage:
    text: str  # the fallback shown in notifications
    blocks: tuple[dict[str, Any], ...]


def escape(text: str) -> str:
    """Escapes text for mrkdwn: the three control characters, and formatting marks neutralised with a
    zero-width space so `*not bold*` stays literal."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _FORMATTING.sub("\u200b\\1\u200b", text)


def link(citation: Citation) -> str:
    title = escape(citation.title.replace("|", "/")) or "source"
    url = citation.url
    if url.startswith(("http://", "https://")) and not any(c in url for c in "<>| "):
        return f"<{url}|{title}>"
    return f"{title} ({escape(citation.source)})" if citation.source else title


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Chunks of at most `limit` characters, cut at a paragraph, line or word boundary when possible."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        cut = cut if cut > limit // 2 else limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def to_slack_messages(reply: Reply, conversation: str) -> list[SlackMessage]:
    """Messages to post in order; the last carries the sources and, for answers, the feedback buttons."""
    sections = [{"type": "section", "text": {"type": "plain_text", "text": chunk, "emoji": False}}
                for chunk in split_text(reply.text) or ["…"]]
    tail: list[dict[str, Any]] = []
    if reply.citations:
        sources = "Sources: " + " · ".join(link(c) for c in reply.citations)
        tail.append({"type": "context", "elements": [{"type": "mrkdwn", "text": sources[:SECTION_LIMIT]}]})
    if reply.mode in ("extractive", "llm", "smalltalk"):
        tail.append({"type": "actions", "elements": [
            _button("👍", "storebot_up", conversation), _button("👎", "storebot_down", conversation)]})
    groups = [sections[i:i + BLOCKS_PER_MESSAGE] for i in range(0, len(sections), BLOCKS_PER_MESSAGE)]
    groups[-1] = groups[-1] + tail
    return [SlackMessage(_fallback(group), tuple(group)) for group in groups]


def _button(label: str, action_id: str, conversation: str) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": label, "emoji": True},
            "action_id": action_id, "value": conversation}


def _fallback(blocks: list[dict[str, Any]]) -> str:
    text = " ".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    text = text if len(text) <= FALLBACK_LIMIT else text[:FALLBACK_LIMIT - 1] + "…"
    return escape(text)


def notice_blocks(text: str, by_user: str | None = None) -> list[dict[str, Any]]:
    """A status message: literal text, optionally under a line that mentions who asked for it."""
    blocks: list[dict[str, Any]] = []
    if by_user:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Requested by <@{by_user}>"}]})
    blocks += [{"type": "section", "text": {"type": "plain_text", "text": chunk, "emoji": False}}
               for chunk in split_text(text)[:BLOCKS_PER_MESSAGE]]
    return blocks


def handoff_blocks(handoff_id: str, name: str, platform: str, reason: str, transcript: list[dict[str, str]],
                   last_answer: str, sources: list[Citation]) -> list[dict[str, Any]]:
    """The thread's first message: who, from where, why, the recent conversation, and a Resolve button."""
    why = {"button": "asked for a person", "asked": "asked for a person", "declined": "the bot could not answer"}
    lines = [f"{'Shopper' if t['role'] == 'shopper' else 'Bot'}: {t['text']}" for t in transcript]
    headline = (f"*Handoff {escape(handoff_id)}*: {escape(name)} on {escape(platform)} "
                f"({why.get(reason, escape(reason))}). "
                "Reply in this thread to answer them; the bot stays silent until you resolve it.")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": headline}}]
    blocks += [{"type": "section", "text": {"type": "plain_text", "text": chunk, "emoji": False}}
               for chunk in split_text("\n".join(lines) or "(no conversation yet)")[:20]]
    if last_answer:
        sources_text = " · ".join(link(c) for c in sources) if sources else "none"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"Bot's last answer: {escape(last_answer)[:1500]}\nSources: {sources_text}")[:SECTION_LIMIT]}]})
    blocks.append({"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Resolve"}, "style": "primary",
         "action_id": "storebot_resolve", "value": handoff_id}]})
    return blocks
