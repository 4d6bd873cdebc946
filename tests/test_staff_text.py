"""Staff replies typed in Slack reach the shopper as plain text: links keep their URLs, no Slack markup."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.slack.convert import thread_reply_of
from adapters.slack.mrkdwn import to_plain

BOT = "UBOT0001"


@pytest.mark.parametrize(("wire", "shown"), [
    ("see <https://x.example/a|our page>", "see our page (https://x.example/a)"),
    ("<mailto:a@b.c|email us> any time", "email us (a@b.c) any time"),
    ("it is here: <https://x.example/b>", "it is here: https://x.example/b"),
    ("write to <mailto:a@b.c|a@b.c>", "write to a@b.c"),  # Slack links a typed address to itself
    ("see <http://x.example/c|x.example/c>", "see x.example/c"),  # and a typed domain: shown as typed
    ("<https://x.example/?a=1&amp;b=2|prices &amp; sizes>", "prices & sizes (https://x.example/?a=1&b=2)"),
    ("call <tel:+15550100|our desk>", "call our desk (+15550100)"),
])
def test_links_keep_their_urls(wire: str, shown: str) -> None:
    assert to_plain(wire) == shown


def test_mentions_broadcasts_and_entities_become_readable() -> None:
    wire = ("<!here> thanks <@U123|jane> and <@U456>, see <#C1|general> <!channel> &amp; "
            "&lt;b&gt;bold&lt;/b&gt; <!subteam^S1|@returns-team> on <!date^1392734382^{date_num}|2014-02-18>")
    assert to_plain(wire, names={"U456": "Sam"}) == (
        "thanks @jane and @Sam, see #general & <b>bold</b> @returns-team on 2014-02-18")
    assert to_plain("ask <@U789> <!here|@here> now") == "ask @U789 now"


def test_ordinary_text_is_unchanged() -> None:
    typed = "Hi *Ana*, we ship in 7 days.\n\n_Thanks_ ~old~ `code` 3 > 2 & 1 < 2 — ok?"
    wire = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # as Slack sends it
    assert to_plain(wire) == typed
    assert to_plain("a literal &amp;lt; stays") == "a literal &lt; stays"  # decoded once, not twice


def _event(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel_type": "channel", "channel": "C9", "thread_ts": "1.0", "ts": "2.0",
            "user": "UJANE", "text": text, **extra}


def test_a_staff_thread_reply_carries_plain_text_for_the_shopper() -> None:
    reply = thread_reply_of(_event("Hi! See <https://x.example/a|our page> or <mailto:a@b.c|email us> &amp; "
                                   "<https://x.example/b>"), BOT)
    assert reply is not None
    assert reply.text == "Hi! See our page (https://x.example/a) or email us (a@b.c) & https://x.example/b"
    assert (reply.thread, reply.user, reply.message_id) == ("C9:1.0", "UJANE", "C9:2.0")


def test_thread_replies_with_nothing_for_the_shopper_are_not_relayed() -> None:
    assert thread_reply_of(_event("<!here>"), BOT) is None  # only a ping for colleagues
    assert thread_reply_of(_event(f"<@{BOT}|storebot> resolve"), BOT) is None  # addressed to the bot
    assert thread_reply_of(_event(f"<@{BOT}> resolve"), BOT) is None
