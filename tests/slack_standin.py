"""A local Slack Web API stand-in (aiohttp), and incoming requests signed the way Slack signs them.

Outgoing: the real `AsyncWebClient(base_url=...)` calls `/api/<method>`; calls are recorded per
method. Response URLs (`respond()`) point at `/respond/<id>` here. Incoming: events, slash commands
and interactions are POSTed to the app with `X-Slack-Signature` from `slack_sdk.signature`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

BOT_USER_ID = "UBOT0001"
SIGNING_SECRET = "test-signing-secret"


class SlackApiStandIn:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.responses: list[dict[str, Any]] = []  # bodies posted to response URLs
        self.usergroups: dict[str, list[str]] = {}
        self.display_names: dict[str, str] = {}  # users.info
        self.fail: dict[str, str] = {}  # method → Slack error code returned on every call
        self.rate_limit_every: dict[str, int] = {}  # method → every Nth call is a 429 with `Retry-After: 1`
        self.unavailable: dict[str, int] = {}  # method → how many of its next calls get a 503
        self.refused: list[tuple[str, int]] = []  # (method, status) of the calls answered 429 / 503
        self._attempts: dict[str, int] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.socket: web.WebSocketResponse | None = None  # Socket Mode: the app's open connection
        self.socket_acks: dict[str, dict[str, Any]] = {}  # envelope id → the app's acknowledgement

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # e.g. users.info
        app.router.add_post("/respond/{id}", self._respond)
        app.router.add_get("/socket", self._socket_mode)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self) -> str:
        return f"{self.url}/respond/{uuid.uuid4().hex}"

    def called(self, method: str, where: Callable[[dict[str, Any]], bool] = lambda p: True) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method and where(params)]

    async def wait_for(self, method: str, where: Callable[[dict[str, Any]], bool] = lambda p: True,
                       count: int = 1, within: float = 15) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within
        while len(found := self.called(method, where)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} called {len(found)} time(s), expected {count}: {self.calls}")
            await asyncio.sleep(0.02)
        return found

    async def wait_for_response(self, where: Callable[[dict[str, Any]], bool], within: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while not (found := [r for r in self.responses if where(r)]):
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching response; got {self.responses}")
            await asyncio.sleep(0.02)
        return found[0]

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.method == "GET":
            params: dict[str, Any] = dict(request.query)
        elif request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
            params = {k: _maybe_json(v) for k, v in params.items()}
        attempt = self._attempts[method] = self._attempts.get(method, 0) + 1
        if self.unavailable.get(method, 0) > 0:
            self.unavailable[method] -= 1
            self.refused.append((method, 503))
            return web.Response(status=503, text="service unavailable")
        every = self.rate_limit_every.get(method)
        if every and attempt % every == 0:
            self.refused.append((method, 429))
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"})
        self.calls.append((method, params))
        if method in self.fail:
            return web.json_response({"ok": False, "error": self.fail[method]})
        ts = f"{time.time():.0f}.{next(self._ts):06d}"
        if method == "chat.postMessage":
            params["posted_ts"] = ts  # recorded with the call, so tests can reply in the thread
        results: dict[str, dict[str, Any]] = {
            "auth.test": {"url": "https://test.slack.com/", "team": "Test", "user": "storebot", "team_id": "T0001",
                          "user_id": BOT_USER_ID, "bot_id": "B0001"},
            "chat.postMessage": {"channel": params.get("channel"), "ts": ts},
            "chat.update": {"channel": params.get("channel"), "ts": params.get("ts")},
            "usergroups.users.list": {"users": self.usergroups.get(str(params.get("usergroup")), [])},
            "users.info": {"user": {"id": params.get("user"), "name": str(params.get("user")).lower(),
                                    "profile": {"display_name": self.display_names.get(str(params.get("user")), "")}}},
            "apps.connections.open": {"url": self.url.replace("http://", "ws://") + "/socket"},
        }
        return web.json_response({"ok": True, **results.get(method, {})})

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Delivers an event the way Socket Mode does; the app must ack its envelope id."""
        deadline = time.monotonic() + 15
        while self.socket is None:
            if time.monotonic() > deadline:
                raise AssertionError("the app never opened a Socket Mode connection")
            await asyncio.sleep(0.02)
        envelope_id = uuid.uuid4().hex
        await self.socket.send_json({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                     "accepts_response_payload": kind != "events_api"})
        return envelope_id

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"type": "hello", "num_connections": 1})
        self.socket = socket
        async for message in socket:
            if message.type == aiohttp.WSMsgType.TEXT:
                ack = json.loads(message.data)
                self.socket_acks[ack["envelope_id"]] = ack
        return socket

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def signed_headers(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                   content_type: str = "application/json") -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None  # None only without a timestamp or body; typed Optional by slack_sdk
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature, "Content-Type": content_type}


def event_body(event: dict[str, Any], event_id: str | None = None) -> str:
    return json.dumps({
        "token": "legacy", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
        "event": event, "authorizations": [{"team_id": "T0001", "user_id": BOT_USER_ID, "is_bot": True}],
    })


def mention(channel: str, user: str, text: str, ts: str, thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "channel": channel, "user": user, "text": f"<@{BOT_USER_ID}> {text}", "ts": ts,
             "event_ts": ts}
    return event | ({"thread_ts": thread_ts} if thread_ts else {})


def direct_message(channel: str, user: str, text: str, ts: str) -> dict[str, Any]:
    return {"type": "message", "channel_type": "im", "channel": channel, "user": user, "text": text, "ts": ts,
            "event_ts": ts}


def command_body(text: str, user: str, channel: str, response_url: str) -> str:
    return urlencode({"token": "legacy", "team_id": "T0001", "channel_id": channel, "user_id": user,
                      "command": "/storebot", "text": text, "response_url": response_url,
                      "trigger_id": uuid.uuid4().hex})


def action_body(action_id: str, value: str, user: str, channel: str, response_url: str) -> str:
    payload = {"type": "block_actions", "team": {"id": "T0001"}, "user": {"id": user}, "api_app_id": "A0001",
               "channel": {"id": channel}, "container": {"type": "message", "channel_id": channel},
               "response_url": response_url, "trigger_id": uuid.uuid4().hex,
               "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value,
                            "action_ts": f"{time.time():.6f}"}]}
    return urlencode({"payload": json.dumps(payload)})


class SignedPoster:
    """POSTs to the app the way Slack does; returns (status, body, seconds until the response)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._session = aiohttp.ClientSession()

    async def post(self, body: str, headers: dict[str, str]) -> tuple[int, str, float]:
        started = time.perf_counter()
        async with self._session.post(self.url, data=body.encode(), headers=headers) as response:
            return response.status, await response.text(), time.perf_counter() - started

    async def event(self, event: dict[str, Any], event_id: str | None = None,
                    extra_headers: dict[str, str] | None = None) -> tuple[int, str, float]:
        body = event_body(event, event_id)
        return await self.post(body, signed_headers(body) | (extra_headers or {}))

    async def form(self, body: str) -> tuple[int, str, float]:
        return await self.post(body, signed_headers(body, content_type="application/x-www-form-urlencoded"))

    async def close(self) -> None:
        await self._session.close()
