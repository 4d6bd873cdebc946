"""Slack over HTTP at its edges: no answer lost to a 429 or a 503 from the Web API, and every request
that is not Slack's refused with a 4xx and one log line — never its body, never a traceback.

Real Bolt behind the adapter's gate, the Web API stand-in, the engine on real Redis with an echoing answerer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import aiohttp
import pytest
from redis.asyncio import Redis
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from adapters.slack.adapter import EXPIRED, SlackAdapter
from adapters.slack.commands import parse_command
from adapters.slack.settings import SlackSettings
from bot.app.services import Services
from bot.engine import Engine, StoreInfo
from bot.store.feedback import FeedbackStore
from bot.store.journal import Journal
from bot.store.memory import RedisState
from bot.store.outbox import Outbox
from bot.types import Reply, Turn
from tests.slack_standin import (
    SIGNING_SECRET,
    SlackApiStandIn,
    action_body,
    command_body,
    direct_message,
    event_body,
)

MARKER = "SECRET-BODY-MARKER-7f3a"


@dataclass
class Echo:
    questions: list[str] = field(default_factory=list)

    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        self.questions.append(question)
        return Reply(f"Answer to: {question}")


@dataclass
class Rig:
    api: SlackApiStandIn
    echo: Echo
    url: str
    session: aiohttp.ClientSession
    reached_bolt: list[dict[str, Any]] = field(default_factory=list)  # bodies past the gate, in Bolt's middleware

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        async with self.session.post(self.url, data=body, headers=headers) as response:
            return response.status, await response.text()


@pytest.fixture
async def rig(redis_url: str) -> AsyncIterator[Rig]:
    api = SlackApiStandIn()
    await api.start()
    redis = Redis.from_url(redis_url)
    echo = Echo()
    engine = Engine(RedisState(redis, 10, 3600, 100, 600), echo, StoreInfo("Test Shop", "Hello!"),
                    FeedbackStore(redis))
    adapter = SlackAdapter(SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                                         api_base_url=api.api_url, http_port=0, placeholder_after_s=5))
    await adapter.start(Services(engine, journal=Journal(redis, f"test-{random.randrange(10**9)}", 600)))
    session = aiohttp.ClientSession()
    rig = Rig(api, echo, f"http://127.0.0.1:{adapter.port}/slack/events", session)

    async def note(req: AsyncBoltRequest, next_: Any) -> BoltResponse:
        rig.reached_bolt.append(req.body)
        response: BoltResponse = await next_()
        return response

    adapter.app.use(note)
    try:
        yield rig
    finally:
        await session.close()
        await adapter.stop()
        await api.stop()
        await redis.aclose()


def _sign(body: bytes, stamp: str | None = None, secret: str = SIGNING_SECRET,
          content_type: str = "application/json") -> dict[str, str]:
    stamp = stamp or str(int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}", "Content-Type": content_type}


def _fresh(prefix: str) -> str:
    return f"{prefix}{random.randrange(10**8, 10**9)}"


async def test_429s_and_503s_from_slack_lose_no_answer(rig: Rig) -> None:
    rig.api.rate_limit_every["chat.postMessage"] = 5
    channel = _fresh("D")
    for number in range(10):
        if number == 6:  # this answer meets 503, 503, then a 429
            rig.api.unavailable["chat.postMessage"] = 2
        body = event_body(direct_message(channel, "UBOB", f"question {number}", f"{time.time():.6f}"))
        status, _ = await rig.post(body.encode(), _sign(body.encode()))
        assert status == 200
        await rig.api.wait_for("chat.postMessage", lambda p: p["channel"] == channel, count=number + 1, within=20)
    posted = rig.api.called("chat.postMessage", lambda p: p["channel"] == channel)
    assert [p["text"] for p in posted] == [f"Answer to: question {n}" for n in range(10)]
    assert rig.api.refused == [("chat.postMessage", 429), ("chat.postMessage", 503), ("chat.postMessage", 503),
                               ("chat.postMessage", 429)]


def _bulk() -> str:
    return (MARKER + " ") * (100_000 // (len(MARKER) + 1))


def _json_event() -> bytes:
    return event_body(direct_message(_fresh("D"), "UMALLORY", _bulk(), f"{time.time():.6f}")).encode()


def _bad_json() -> bytes:
    return ('{"type": "event_callback", "event": {"text": "' + _bulk()).encode()


def _bad_payload() -> bytes:
    return ("payload=" + '{"type": "block_actions", "x": "' + _bulk()).encode()


CASES: dict[str, tuple[int, bytes, dict[str, str]]] = {
    "invalid JSON": (400, _bad_json(), {}),
    "a form whose payload is invalid JSON": (400, _bad_payload(),
                                             {"Content-Type": "application/x-www-form-urlencoded"}),
    "not UTF-8": (400, b"\xff\xfe{" + _bulk().encode() + b"\xc3\x28", {}),
    "a JSON array": (400, json.dumps([_bulk()]).encode(), {}),
    "an object not shaped like Slack's": (400, json.dumps({"authorizations": 5, "text": _bulk()}).encode(), {}),
    "a timestamp that is not an integer": (401, _json_event(), {"X-Slack-Request-Timestamp": "12.5e9"}),
    "a stale timestamp": (401, _json_event(), {"X-Slack-Request-Timestamp": str(int(time.time()) - 3600)}),
    "no signature": (401, _json_event(), {"X-Slack-Signature": ""}),
    "a wrong signature": (401, _json_event(), {"X-Slack-Signature": "v0=" + "0" * 64}),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_malformed_or_forged_request_is_a_4xx_logged_in_one_line_without_its_body(
    case: str, rig: Rig, caplog: pytest.LogCaptureFixture,
) -> None:
    expected, body, overrides = CASES[case]
    headers = _sign(body, content_type=overrides.get("Content-Type", "application/json"))
    if "X-Slack-Request-Timestamp" in overrides:  # signed with that timestamp, so only the timestamp is wrong
        headers = _sign(body, overrides["X-Slack-Request-Timestamp"])
    headers |= {k: v for k, v in overrides.items() if k == "X-Slack-Signature"}
    with caplog.at_level(logging.DEBUG):
        status, text = await rig.post(body, headers)
    assert status == expected and MARKER not in text
    assert MARKER not in caplog.text
    assert not [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]
    [line] = [r for r in caplog.records if r.name == "adapters.slack.http"]
    assert "POST /slack/events" in line.getMessage() and f"{len(body)} bytes" in line.getMessage()
    assert not rig.echo.questions
    assert not [c for c in rig.api.calls if c[0] != "auth.test"] and not rig.api.refused


def _event_with(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(event_body(direct_message(_fresh("D"), "UMALLORY", MARKER, f"{time.time():.6f}")))
    return body | fields


def _button_with(**fields: Any) -> dict[str, Any]:
    form = action_body("storebot_resolve", MARKER, "UMALLORY", _fresh("C"), "http://127.0.0.1:9/r")
    payload: dict[str, Any] = json.loads(parse_qs(form)["payload"][0])
    return payload | fields


# Signed JSON objects with a field Bolt routes by (slack_bolt 1.30, request/internals.py, payload_utils.py, the
# authorization and self-event middleware, its unhandled-request warning) of a type Slack never sends: each made
# Bolt raise (a 500 with a traceback, or a listener failing after its ack) before the gate refused it.
MISSHAPEN: dict[str, dict[str, Any]] = {
    "event a number": _event_with(event=5),
    "event null": _event_with(event=None),
    "event a list": _event_with(event=[{"type": "message"}]),
    "event a string": _event_with(event="type"),
    "event a number, in a shared channel": _event_with(event=5, is_ext_shared_channel=True),
    "event.function not an object": _event_with(event={"type": "function_executed", "function_execution_id": "Fx",
                                                       "function": 5}),
    "type not a string": _event_with(type=["event_callback"]),
    "authorizations a number": _event_with(authorizations=5),
    "authorizations a list of strings": _event_with(authorizations=["T0001"]),
    "team_id an object": _event_with(team_id={"id": "T0001"}),
    "enterprise a number": _event_with(enterprise=5),
    "enterprise a list": _event_with(enterprise=["id"]),
    "a button's actions a number": _button_with(actions=5),
    "a button's actions empty": _button_with(actions=[]),
    "a button's actions a string": _button_with(actions="x"),
    "a button's action not an object": _button_with(actions=[1]),
    "a button without an action_id": _button_with(actions=[{"value": "v"}]),
    "a button's user a string": _button_with(user="UMALLORY"),
    "a button's user without an id": _button_with(user={}),
    "a button's team a number": _button_with(team=5),
    "a button's response_url a list": _button_with(response_url=["http://127.0.0.1:9/r"]),
    "an attachment action without actions": {"type": "interactive_message", "callback_id": "c",
                                             "user": {"id": "UMALLORY"}},
    "a view submission's view a number": {"type": "view_submission", "view": 5, "user": {"id": "UMALLORY"}},
    "a view a list": {"type": "shortcut", "callback_id": "c", "view": [1], "user": {"id": "UMALLORY"}},
    "a view without a type": {"type": "view_submission", "view": {"callback_id": "c"}, "user": {"id": "UMALLORY"}},
    "a step edit without its step": {"type": "workflow_step_edit", "callback_id": "c", "user": {"id": "UMALLORY"}},
    "a suggestion's action_id a number": {"type": "block_suggestion", "action_id": 5, "user": {"id": "UMALLORY"}},
    "a command without channel_id": {"command": "/storebot", "text": "kb status", "user_id": "UMALLORY"},
    "a command a number": {"command": 5, "text": "kb status", "user_id": "UMALLORY", "channel_id": "C1"},
}


@pytest.mark.parametrize("case", list(MISSHAPEN))
@pytest.mark.parametrize("form", [False, True], ids=["json", "form payload"])
async def test_a_signed_body_with_a_wrongly_typed_routing_field_is_a_400_and_never_reaches_bolt(
    case: str, form: bool, rig: Rig, caplog: pytest.LogCaptureFixture,
) -> None:
    text = json.dumps(MISSHAPEN[case] | {"marker": MARKER})
    body = (urlencode({"payload": text}) if form else text).encode()
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    with caplog.at_level(logging.DEBUG):
        status, reply = await rig.post(body, _sign(body, content_type=content_type))
        await asyncio.sleep(0.05)  # anything a listener would have started
    assert status == 400 and MARKER not in reply
    assert reply != "body not shaped like a Slack request"  # named by the gate's own check, not Bolt's failure
    assert MARKER not in caplog.text
    assert not [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]
    [line] = [r for r in caplog.records if r.name == "adapters.slack.http"]
    assert "Slack request refused (400): POST /slack/events:" in line.getMessage()
    assert f"{len(body)} bytes" in line.getMessage()
    assert not rig.reached_bolt and not rig.echo.questions
    assert not [c for c in rig.api.calls if c[0] != "auth.test"]


async def test_well_formed_signed_requests_still_pass_the_gate(rig: Rig) -> None:
    """An event, a button press and a slash command as Slack sends them: 200, and on to their listeners."""
    channel = _fresh("D")
    event = event_body(direct_message(channel, "UBOB", "where is my order?", f"{time.time():.6f}")).encode()
    status, _ = await rig.post(event, _sign(event))
    assert status == 200
    await rig.api.wait_for("chat.postMessage", lambda p: p["channel"] == channel, within=20)
    assert rig.echo.questions == ["where is my order?"]
    press = action_body("storebot_resolve", "H-none", "UBOB", _fresh("C"), rig.api.response_url()).encode()
    command = command_body("Kb Status", "UBOB", _fresh("C"), rig.api.response_url()).encode()
    for body in (press, command):
        status, _ = await rig.post(body, _sign(body, content_type="application/x-www-form-urlencoded"))
        assert status == 200
    assert len(rig.reached_bolt) == 3


@pytest.mark.parametrize("action_id", ["storebot_resolve", "storebot_up"])
async def test_a_button_without_a_value_is_answered_as_expired(rig: Rig, action_id: str,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    form = action_body(action_id, "x", "UBOB", _fresh("C"), rig.api.response_url())
    payload = json.loads(parse_qs(form)["payload"][0])
    del payload["actions"][0]["value"]
    body = urlencode({"payload": json.dumps(payload)}).encode()
    with caplog.at_level(logging.WARNING):
        status, _ = await rig.post(body, _sign(body, content_type="application/x-www-form-urlencoded"))
        response = await rig.api.wait_for_response(lambda r: r.get("text") == EXPIRED, within=5)
    assert status == 200 and response["response_type"] == "ephemeral"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("text", "name", "argument", "days"), [
    ("Report 7", "report", "", 7.0), ("REPORT", "report", "", 7.0), ("rEpOrT 30D", "report", "", 30.0),
    ("KB RELOAD", "kb reload", "", 7.0), ("Kb Status", "kb status", "", 7.0), ("kb ROLLBACK", "kb rollback", "", 7.0),
    ("Resolve H-AbC123", "resolve", "H-AbC123", 7.0), ("ASK Where IS my Order?", "ask", "Where IS my Order?", 7.0),
])
def test_subcommand_words_are_read_in_any_case_and_arguments_as_they_are(text: str, name: str, argument: str,
                                                                         days: float) -> None:
    command = parse_command(text)
    assert command is not None
    assert (command.name, command.argument, command.days) == (name, argument, days)


async def test_answers_slack_refuses_for_a_while_are_sent_later_once_each_and_in_order(redis_url: str) -> None:
    """503s beyond the client's retries: those answers wait in the outbox, the conversation's next answers queue
    behind them, and all are delivered when Slack is back — each once, in the order asked."""
    api = SlackApiStandIn()
    await api.start()
    redis = Redis.from_url(redis_url)
    engine = Engine(RedisState(redis, 10, 3600, 100, 600), Echo(), StoreInfo("Test Shop", "Hello!"))
    adapter = SlackAdapter(SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                                         api_base_url=api.api_url, http_port=0, placeholder_after_s=5))
    outbox = Outbox(redis, lease_ms=500, block_ms=50)
    await adapter.start(Services(engine, outbox))
    session = aiohttp.ClientSession()
    rig = Rig(api, Echo(), f"http://127.0.0.1:{adapter.port}/slack/events", session)
    channel = _fresh("D")
    try:
        api.rate_limit_every["chat.postMessage"] = 5
        for number in range(12):
            if number == 3:  # Slack down for a while: more 503s than the client's three retries of one post
                api.unavailable["chat.postMessage"] = 9
            body = event_body(direct_message(channel, "UBOB", f"question {number}", f"{time.time():.6f}"))
            status, _ = await rig.post(body.encode(), _sign(body.encode()))
            assert status == 200
            for _ in range(500):  # the shopper waits for an answer (or for it to be queued) before asking again
                if len(api.called("chat.postMessage", lambda p: p["channel"] == channel)) > number \
                        or await outbox.has_queued("slack", channel):
                    break
                await asyncio.sleep(0.02)
        await api.wait_for("chat.postMessage", lambda p: p["channel"] == channel, count=12, within=60)
        await asyncio.sleep(0.5)  # nothing more arrives
    finally:
        await session.close()
        await adapter.stop()
        await api.stop()
        await redis.aclose()
    posted = [p["text"] for p in api.called("chat.postMessage", lambda p: p["channel"] == channel)]
    assert posted == [f"Answer to: question {n}" for n in range(12)]
    assert ("chat.postMessage", 503) in api.refused and ("chat.postMessage", 429) in api.refused
