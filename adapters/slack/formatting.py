"""Replies as Slack messages: Block Kit with escaped text, sources as links, 👍/👎 buttons.

The answer body goes in `plain_text` sections, so nothing in it (`*`, `_`, `~`, `<`, links) is
interpreted. Only the sources line is mrkdwn; its titles are escaped. Slack caps a section's text
at 3,000 characters and a message at 50 blocks; longer answers are split across messages.

Text is always cut as plain text and escaped afterwards (`shorten`, `_joined`), so a cut never
lands inside an entity (`&amp;`) or a link (`<url|title>`).
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
ANSWER_PREVIEW = 1500  # escaped characters of the bot's last answer shown in a handoff opening
_FORMATTING = re.compile(r"([*_~`])")
# Where a long text may be cut, best first; each yields the cut position (the chunk's end).
_BREAKS: tuple[tuple[re.Pattern[str], bool], ...] = (  # (pattern, cut at the match's end rather than its start)
    (re.compile(r"\n[ \t]*\n"), False),  # a paragraph break
    (re.compile(r"\n"), False),  # a line break
    (re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)"), True),  # a sentence end
)
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class SlackMessage:
    text: str  # the fallback shown in notifications
    blocks: tuple[dict[str, Any], ...]


def escape(text: str) -> str:
    """Escapes text for mrkdwn: the three control characters, and formatting marks neutralised with a
    zero-width space so `*not bold*` stays literal."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _FORMATTING.sub("\u200b\\1\u200b", text)


def shorten(text: str, limit: int, *, escaped: bool = False) -> str:
    """`text` if it fits in `limit` characters (counted after `escape` when `escaped`), else its longest
    prefix that fits with "…" appended, cut at a space unless one word fills more than half of it.
    The result is still plain text: escape it afterwards."""
    def size(char: str) -> int:
        return len(escape(char)) if escaped else 1

    if (len(escape(text)) if escaped else len(text)) <= limit:
        return text
    budget, end = limit - 1, 0  # one character for the ellipsis
    while end < len(text) and budget - size(text[end]) >= 0:
        budget -= size(text[end])
        end += 1
    cut = end if end < len(text) and text[end].isspace() else max(text.rfind(" ", 0, end), text.rfind("\n", 0, end))
    cut = cut if cut > end // 2 else end
    return text[:cut].rstrip() + "…"


def _joined(prefix: str, parts: list[str], limit: int, sep: str = " · ") -> str:
    """`prefix` and the already-escaped `parts` that fit in `limit` characters, whole; "…" if some did not."""
    text = prefix
    for number, part in enumerate(parts):
        more = number < len(parts) - 1
        candidate = text + (sep if number else "") + part
        if len(candidate) + (len(sep) + 1 if more else 0) > limit:
            return text + (sep if number else "") + "…"
        text = candidate
    return text


def link(citation: Citation) -> str:
    title = escape(shorten(citation.title.replace("|", "/"), 200)) or "source"
    url = citation.url
    if url.startswith(("http://", "https://")) and not any(c in url for c in "<>| "):
        return f"<{url}|{title}>"
    return f"{title} ({escape(shorten(citation.source, 200))})" if citation.source else title


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Chunks of at most `limit` characters, cut at a paragraph break when possible, else a line
    break, else a sentence end (each only if the chunk stays at least a third full), else a space;
    inside a word only when a single word is longer than `limit`."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def _cut_point(text: str, limit: int) -> int:
    """Where to end a chunk of `text` no longer than `limit`; a break right at `limit` counts."""
    for pattern, at_end in _BREAKS:
        cuts = [m.end() if at_end else m.start() for m in pattern.finditer(text, 0, limit + 1)]
        cuts = [cut for cut in cuts if limit // 3 <= cut <= limit]
        if cuts:
            return cuts[-1]
    spaces = [m.start() for m in _SPACE.finditer(text, 1, limit + 1)]
    return spaces[-1] if spaces else limit


def to_slack_messages(reply: Reply, conversation: str) -> list[SlackMessage]:
    """Messages to post in order; the last carries the sources and, for answers, the feedback buttons."""
    sections = [{"type": "section", "text": {"type": "plain_text", "text": chunk, "emoji": False}}
                for chunk in split_text(reply.text) or ["…"]]
    tail: list[dict[str, Any]] = []
    if reply.citations:
        sources = _joined("Sources: ", [link(c) for c in reply.citations], SECTION_LIMIT)
        tail.append({"type": "context", "elements": [{"type": "mrkdwn", "text": sources}]})
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
    return escape(shorten(text, FALLBACK_LIMIT, escaped=True))


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
    headline = (f"*Handoff {escape(handoff_id)}*: {escape(shorten(name, 100))} on {escape(platform)} "
                f"({why.get(reason) or escape(shorten(reason, 100))}). "
                "Reply in this thread to answer them; the bot stays silent until you resolve it.")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": headline}}]
    blocks += [{"type": "section", "text": {"type": "plain_text", "text": chunk, "emoji": False}}
               for chunk in split_text("\n".join(lines) or "(no conversation yet)")[:20]]
    if last_answer:  # cut as plain text, then escaped: never a broken entity or link at the end
        answer = f"Bot's last answer: {escape(shorten(last_answer, ANSWER_PREVIEW, escaped=True))}\nSources: "
        text = _joined(answer, [link(c) for c in sources], SECTION_LIMIT) if sources else answer + "none"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    blocks.append({"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Resolve"}, "style": "primary",
         "action_id": "storebot_resolve", "value": handoff_id}]})
    return blocks
