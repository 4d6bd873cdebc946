"""Slack message text (mrkdwn as it arrives on the wire) → plain text a shopper can read.

Slack sends what a person typed with its markup resolved into angle-bracket tokens:
`<https://x|label>`, `<mailto:a@b.c|a@b.c>`, `<@U123>`, `<#C1|general>`, `<!here>`,
`<!date^…|fallback>`, and escapes exactly three characters: `&amp; &lt; &gt;`. Everything else
(`*bold*`, `_italic_`, quotes…) is left as typed, which reads fine as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"<([^<>]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_SHOWN_WITHOUT_SCHEME = ("mailto:", "tel:", "sms:")
_BROADCASTS = {"here", "channel", "everyone"}


def unescape(text: str) -> str:
    """Decodes Slack's three entities in one pass, so a typed `&amp;lt;` stays `&lt;`."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def to_plain(text: str, bot_user_id: str | None = None, *, show_urls: bool = True,
             names: Mapping[str, str] | None = None) -> str:
    """Plain text: links as `label (url)` (or just the URL; labels only when `show_urls` is False),
    mentions as `@name`, `<!here>`-style broadcasts dropped, entities decoded; other text unchanged.

    `names` maps user ids to display names; an unresolved mention becomes `@` + its id.
    A mention of `bot_user_id` is dropped.
    """
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        out.append(unescape(text[pos:match.start()]))
        shown = _token(match.group(1), bot_user_id, show_urls, names or {})
        if not shown and out and out[-1].endswith((" ", "\n")) and text.startswith(" ", match.end()):
            pos = match.end() + 1  # "a <!here> b" → "a b", not "a  b"
        else:
            pos = match.end()
        out.append(shown)
    out.append(unescape(text[pos:]))
    return "".join(out).strip()


def _token(body: str, bot_user_id: str | None, show_urls: bool, names: Mapping[str, str]) -> str:
    target, _, label = body.partition("|")
    label = unescape(label).strip()
    if target.startswith("@"):  # a user: <@U123> or <@U123|name>
        user = target[1:]
        if user == bot_user_id:
            return ""
        name = names.get(user) or label.lstrip("@") or user
        return "@" + name
    if target.startswith("#"):  # a channel: <#C123|general>
        return "#" + (label.lstrip("#") or target[1:])
    if target.startswith("!"):  # <!here>, <!subteam^S1|@team>, <!date^…|fallback>
        command = target[1:].split("^", 1)[0]
        return "" if command in _BROADCASTS else label
    if _SCHEME.match(target):
        return _link(unescape(target), label, show_urls)
    return unescape(f"<{body}>")  # not Slack markup (Slack escapes a typed "<"): keep as it came


def _link(url: str, label: str, show_urls: bool) -> str:
    shown_url = url.split(":", 1)[1] if url.lower().startswith(_SHOWN_WITHOUT_SCHEME) else url
    if not label:
        return shown_url
    if not show_urls or _same(label, url, shown_url):
        return label  # auto-linked text such as "x.example/a" or an e-mail address: as typed
    return f"{label} ({shown_url})"


def _same(label: str, url: str, shown_url: str) -> bool:
    bare = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", url)
    return label.rstrip("/").lower() in {u.rstrip("/").lower() for u in (url, shown_url, bare)}
