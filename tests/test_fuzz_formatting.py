"""Property-based fuzz (hypothesis) of the formatting both ways: any reply becomes valid Telegram HTML and Slack
messages within Slack's limits, and the splitters lose nothing (generators: tests/fuzz_outbound.py).
"""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from adapters.slack.formatting import (
    BLOCKS_PER_MESSAGE,
    FALLBACK_LIMIT,
    SECTION_LIMIT,
    handoff_blocks,
    to_slack_messages,
)
from adapters.slack.formatting import split_text as slack_split
from adapters.telegram.formatting import MAX_MESSAGE, to_html_messages
from adapters.telegram.formatting import split_text as telegram_split
from bot.types import Citation, Reply
from tests.fuzz_common import FORMAT_FUZZ, FUZZ, TELEGRAM, texts
from tests.fuzz_outbound import CITATIONS, REPLIES, TRANSCRIPTS

_TG_TAG = re.compile(r"</?(a|b)( href=\"[^\"]*\")?>")
_TG_BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;|quot;|#x27;)")
_SLACK_BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
_SLACK_LINK_TARGET = re.compile(r"<https?://[^|>]*\|")  # a link's URL goes as it is; only its label is escaped


def _broken_mrkdwn_entity(text: str) -> bool:
    return bool(_SLACK_BROKEN_ENTITY.search(_SLACK_LINK_TARGET.sub("<", text)))


def _no_space(text: str) -> str:
    return "".join(text.split())


def check_telegram_html(reply: Reply, limit: int = MAX_MESSAGE) -> list[str]:
    """As tests/test_telegram_formatting.py asserts: each part fits, only our own tags (whole, nested right),
    no entity cut short, and never an empty part."""
    parts = to_html_messages(reply, limit)
    assert parts
    for part in parts:
        assert len(part) <= limit and part.strip()
        assert part.count("<a href=") == part.count("</a>") and part.count("<b>") == part.count("</b>")
        assert not _TG_BROKEN_ENTITY.search(part)
        outside = _TG_TAG.sub("", part)
        assert outside.count("<") == 0 and outside.count(">") == 0
        open_tags: list[str] = []
        for match in _TG_TAG.finditer(part):
            if match.group(0).startswith("</"):
                assert open_tags and open_tags.pop() == match.group(1)
            else:
                assert not open_tags
                open_tags.append(match.group(1))
        assert not open_tags
        html.unescape(part)
    return parts


@FORMAT_FUZZ
@given(REPLIES, st.one_of(st.just(MAX_MESSAGE), st.integers(100, MAX_MESSAGE)))
def test_replies_of_any_shape_become_valid_telegram_html(reply: Reply, limit: int) -> None:
    """Any reply (markup, `<>&`, huge text, up to 60 citations with odd titles and urls) becomes HTML parts that
    each fit the limit, with only our own tags, whole and nested right, and no entity cut short."""
    check_telegram_html(reply, limit)


@FUZZ
@given(texts(200, 12_000), st.just(MAX_MESSAGE) | st.integers(len("&amp;"), MAX_MESSAGE))  # "&amp;" must fit
def test_telegram_split_loses_nothing_and_every_piece_fits(text: str, limit: int) -> None:
    """The Telegram splitter: every piece fits once escaped, and nothing but whitespace is lost."""
    pieces = telegram_split(text, limit)
    assert all(p and len(html.escape(p, quote=False)) <= limit for p in pieces)
    assert _no_space("".join(pieces)) == _no_space(text)


def check_slack_messages(reply: Reply, conversation: str = "C1:1.5") -> None:
    """Within Slack's limits: ≤ 50 blocks, sections of 1–3,000 characters, the mrkdwn sources line whole and
    escaped, a short notification text, the buttons only under the last message; nothing of the answer lost."""
    messages = to_slack_messages(reply, conversation)
    assert messages
    shown: list[str] = []
    for number, message in enumerate(messages):
        assert len(message.blocks) <= 50 and (number == len(messages) - 1 or len(message.blocks) <= BLOCKS_PER_MESSAGE)
        assert len(message.text) <= FALLBACK_LIMIT and not _SLACK_BROKEN_ENTITY.search(message.text)
        for block in message.blocks:
            if block["type"] == "section":
                assert block["text"]["type"] == "plain_text" and 0 < len(block["text"]["text"]) <= SECTION_LIMIT
                shown.append(block["text"]["text"])
            elif block["type"] == "context":
                text = block["elements"][0]["text"]
                assert len(text) <= SECTION_LIMIT and not _broken_mrkdwn_entity(text)
                assert text.count("<") == text.count(">") and text.count("<") == text.count("<http")
            else:
                assert block["type"] == "actions" and number == len(messages) - 1
    assert _no_space("".join(shown)) == (_no_space(reply.text) or "…")


@FORMAT_FUZZ
@given(REPLIES)
def test_replies_of_any_shape_become_slack_messages_within_its_limits(reply: Reply) -> None:
    """Any reply becomes Block Kit messages within Slack's limits (see `check_slack_messages`)."""
    check_slack_messages(reply)


@FUZZ
@given(texts(200, 12_000), st.just(SECTION_LIMIT) | st.integers(1, SECTION_LIMIT))
def test_slack_split_loses_nothing_and_every_chunk_fits(text: str, limit: int) -> None:
    """The Slack splitter: every chunk fits, and nothing but whitespace is lost."""
    chunks = slack_split(text, limit)
    assert all(c and len(c) <= limit for c in chunks)
    assert _no_space("".join(chunks)) == _no_space(text)


@FORMAT_FUZZ
@given(st.one_of(st.from_regex(r"H[0-9A-F]{8}", fullmatch=True), st.text(max_size=12)), texts(40, 500),
       st.sampled_from([TELEGRAM, "telegram", "console"]), st.sampled_from(["button", "asked", "declined"]) | texts(30),
       TRANSCRIPTS, texts(200, 6000), st.lists(CITATIONS, max_size=40))
def test_handoff_openings_of_any_shape_stay_within_slacks_limits(
    handoff_id: str, name: str, platform: str, reason: str, transcript: list[dict[str, str]], last_answer: str,
    sources: list[Citation],
) -> None:
    """A handoff's opening blocks with odd names, reasons, transcripts, answers and sources: ≤ 50 blocks, sections
    of 1–3,000 characters, mrkdwn without a broken entity."""
    blocks = handoff_blocks(handoff_id, name, platform, reason, transcript, last_answer, sources)
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= SECTION_LIMIT
            if block["text"]["type"] == "mrkdwn":
                assert not _broken_mrkdwn_entity(block["text"]["text"])
        elif block["type"] == "context":
            text = block["elements"][0]["text"]
            assert len(text) <= SECTION_LIMIT and not _broken_mrkdwn_entity(text)
