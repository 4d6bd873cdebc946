"""Property-based fuzz (hypothesis) of Slack input: events, mrkdwn, `/storebot` text and the signature check
of the gate must never raise on what they are given (generators: tests/fuzz_slack.py).
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from adapters.slack.convert import plain_text
from adapters.slack.http import refusal
from adapters.slack.mrkdwn import to_plain
from tests.fuzz_common import FUZZ, texts
from tests.fuzz_slack import (
    COMMAND_TEXTS,
    SIGNATURES,
    SIGNING_SECRET,
    SLACK_BOT,
    SLACK_BOT_IDS,
    SLACK_EVENTS,
    STAMPS,
    convert_slack,
    parse_slash_command,
    signed_headers,
)


@FUZZ
@given(SLACK_EVENTS, SLACK_BOT_IDS)
@example({"type": "message", "channel_type": "im", "channel": ["D1"], "user": "U1", "ts": "1.5"}, SLACK_BOT)
def test_slack_events_of_any_shape_convert_without_raising(event: dict[str, Any], bot_user_id: str | None) -> None:
    """`from_event` and `thread_reply_of` on events whose every field may be plausible, missing or any JSON value."""
    convert_slack(event, bot_user_id)


@FUZZ
@given(texts(120, 8000), SLACK_BOT_IDS, st.booleans(),
       st.dictionaries(st.sampled_from(["U1", "U2", SLACK_BOT]) | st.text(max_size=5), texts(10, 0), max_size=3))
def test_slack_markup_of_any_shape_reads_as_plain_text(text: str, bot_user_id: str | None, show_urls: bool,
                                                       names: dict[str, str]) -> None:
    plain = to_plain(text, bot_user_id, show_urls=show_urls, names=names)
    assert isinstance(plain, str) and plain == plain.strip()
    assert isinstance(plain_text(text, bot_user_id), str)


@FUZZ
@given(COMMAND_TEXTS)
@example("report ²")
def test_slash_command_text_of_any_shape_parses_without_raising(text: str) -> None:
    parse_slash_command(text)


@FUZZ
@given(texts(80, 3000), STAMPS, SIGNATURES)
@example("{}", "²", "valid")  # a digit to str.isdigit, not to int()
@example("{}", "1" * 400, "valid")  # an int too large for a float
@example("{}", "1" * 5000, "valid")  # more digits than int() reads
@example("{}", "now", "v0=é")  # a fresh timestamp and a non-ASCII signature
def test_the_signature_check_answers_any_request_without_raising(body: str, stamp: str | None,
                                                                 signature: str | None) -> None:
    headers = signed_headers(body, stamp, signature)
    reason = refusal(body, headers, SIGNING_SECRET)
    assert reason is None or isinstance(reason, str)
    if stamp == "now" and signature == "valid":
        assert reason is None
