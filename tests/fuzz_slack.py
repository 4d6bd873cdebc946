"""Generators of Slack input for the fuzz: events (each field plausible, missing or any JSON value), `/storebot`
text, and the timestamp and signature headers of a request to the Slack gate.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from hypothesis import strategies as st

from adapters.slack.commands import Command, parse_command
from adapters.slack.convert import SlackTarget, ThreadReply, from_event, thread_reply_of
from bot.events import Event, OpsCommand, Resolve
from bot.types import IncomingMessage
from tests.fuzz_common import JSON, ONE_IN, OPS_USER, SLACK, check_incoming, texts

# --- events --------------------------------------------------------------------------------------------------

SLACK_BOT = "UBOT0001"
SLACK_BOT_IDS = st.sampled_from([SLACK_BOT, None, "", "U1"])
SLACK_TS = st.sampled_from(["1.5", "1700000000.000100", "0", "", "1.5 "]) | st.text(max_size=12)
SLACK_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(["message", "message", "app_mention", "app_mention", "reaction_added", "Message", ""]),
    "subtype": st.sampled_from(["thread_broadcast", "file_share", "message_changed", "message_deleted",
                                "bot_message", "channel_join", "me_message"]),
    "channel_type": st.sampled_from(["im", "channel", "group", "mpim", "app_home"]),
    "channel": st.sampled_from(["C1", "D1", "G1", "C2", ""]) | st.text(max_size=12),
    "user": st.sampled_from(["U1", "U2", SLACK_BOT, "", "W1"]) | st.text(max_size=12),
    "bot_id": st.sampled_from(["B1", ""]),
    "ts": SLACK_TS,
    "thread_ts": SLACK_TS,
    "event_ts": SLACK_TS,
    "text": texts(80, 5000),
    "blocks": JSON,
    "files": JSON,
    "team": st.text(max_size=8),
}


_EXTRA_FIELDS = st.dictionaries(st.text(max_size=8), JSON, max_size=3)


@st.composite
def slack_event(draw: st.DrawFn) -> dict[str, Any]:
    """An event's `event` object: each field plausible, missing, or any JSON value; extra keys of any kind."""
    event: dict[str, Any] = {}
    for key, plausible in SLACK_FIELDS.items():
        choice = draw(ONE_IN[10])
        if choice < 6 and key not in ("subtype", "bot_id", "blocks", "files"):
            event[key] = draw(plausible)
        elif choice < 2 or choice == 9:
            event[key] = draw(plausible if choice < 2 else JSON)
    event.update(draw(_EXTRA_FIELDS))
    return event


SLACK_EVENTS = slack_event()


def convert_slack(event: dict[str, Any], bot_user_id: str | None) -> tuple[tuple[IncomingMessage, SlackTarget] | None,
                                                                            ThreadReply | None]:
    """The property of every Slack target: both conversions never raise and give strings where strings are due."""
    converted = from_event(event, bot_user_id)
    if converted is not None:
        msg, target = converted
        check_incoming(msg)
        assert isinstance(target, SlackTarget) and isinstance(target.channel, str)
    staff = thread_reply_of(event, bot_user_id)
    if staff is not None:
        assert all(isinstance(v, str) for v in (staff.thread, staff.user, staff.text, staff.message_id))
        assert staff.text
    return converted, staff


# --- `/storebot` text ----------------------------------------------------------------------------------------

# `/storebot` text: a subcommand word (or not) and any arguments, digits of every script among them.
_COMMAND_WORDS = st.tuples(
    st.sampled_from(["ask", "resolve", "report", "report", "kb", "Report", "KB", "Ask", ""]),
    st.sampled_from(["", " ", " ", "\t", "\n"]),
    st.one_of(texts(30, 0), st.sampled_from(["status", "reload", "rollback", "7", "7d", "0.5", "1.5d", ".5", "5.", "²",
                                             "¹d", "٣", "１２", "7dd", "-1", "1e3", "①"]),
              st.text(alphabet=st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=4),
              st.integers(1, 400).map(lambda n: "9" * n)),
).map("".join)
COMMAND_TEXTS = st.one_of(texts(60, 3000), _COMMAND_WORDS, _COMMAND_WORDS)


def parse_slash_command(text: str) -> Command | None:
    command = parse_command(text)
    assert command is None or (isinstance(command, Command) and isinstance(command.argument, str)
                               and isinstance(command.days, float))
    return command


def slash_command_event(command: Command, user: str) -> Event | None:
    """`/storebot` as `SlashCommands.on_command` hands it to the core, from the ops user (None: a usage text, or a
    reload or rollback, which the fuzz never runs)."""
    if command.name == "ask":
        return IncomingMessage(SLACK, f"C1:command:{user}", user, command.argument, is_staff=True)
    if command.name == "resolve":
        return Resolve(SLACK, user, handoff_id=command.argument)
    if command.name in ("kb status", "report"):
        return OpsCommand(SLACK, OPS_USER, "report" if command.name == "report" else "kb status", command.days)
    return None


# --- signed requests -----------------------------------------------------------------------------------------

SIGNING_SECRET = "fuzz-signing-secret"
STAMPS = st.one_of(
    st.just("now"), st.just("stale"), st.none(), st.just(""),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=12),
    st.integers(0, 10**12).map(str), st.integers(1, 6000).map(lambda n: "1" * n), st.text(max_size=12),
)
SIGNATURES = st.one_of(st.just("valid"), st.none(), st.just(""), st.just("v0=" + "0" * 64),
                       st.text(alphabet="0123456789abcdef", max_size=64).map(lambda h: "v0=" + h),
                       st.text(max_size=70), st.text(max_size=5).map(lambda s: "v0=" + s))


def sign(body: str, stamp: str, secret: str = SIGNING_SECRET) -> str:
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


def signed_headers(body: str, stamp: str | None, signature: str | None) -> dict[str, str]:
    """Headers with the timestamp and signature drawn: "now"/"stale" stamps and a "valid" signature are
    computed for `body`, the rest sent as drawn (None: the header is left out)."""
    stamp = {"now": str(int(time.time())), "stale": str(int(time.time()) - 3600)}.get(stamp or "", stamp)
    headers = {"Content-Type": "application/json"}
    if stamp is not None:
        headers["X-Slack-Request-Timestamp"] = stamp
    if signature is not None:
        headers["X-Slack-Signature"] = sign(body, stamp or "") if signature == "valid" else signature
    return headers
