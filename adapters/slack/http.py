"""Slack over HTTP: the gate in front of Bolt, and the Web API client's retries.

The gate checks every incoming request before Bolt sees it — timestamp, signature (over the raw bytes), UTF-8,
a JSON object whose fields Bolt routes by have the types Slack sends — and refuses a bad one with a 4xx and one
log line (method, path, reason, body length; never the body). Bolt's own verifier would log a forged request's
body at INFO, so it is off. Outgoing calls retry a 429 after its Retry-After, and a 500/503 or a dropped
connection with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)


def retry_handlers() -> list[AsyncRetryHandler]:
    return [AsyncConnectionErrorRetryHandler(max_retry_count=3), AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=3)]


def refusal(text: str, headers: Mapping[str, str], secret: str) -> str | None:
    """Why a request does not come from Slack, or None when its signature holds (slack_sdk's verifier,
    after the checks it would raise on instead of answering)."""
    stamp, signature = headers.get("X-Slack-Request-Timestamp"), headers.get("X-Slack-Signature")
    if not stamp or not signature:
        return "no signature"
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return "timestamp not an integer"
    if not signature.isascii():
        return "bad or stale signature"
    return None if SignatureVerifier(secret).is_valid(text, stamp, signature) else "bad or stale signature"


INTERACTIVE = frozenset({"block_actions", "interactive_message", "view_submission", "view_closed", "shortcut",
                         "message_action", "block_suggestion", "dialog_submission", "dialog_cancellation",
                         "dialog_suggestion", "workflow_step_edit"})


def _objects(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def misshapen(body: Mapping[str, Any]) -> str | None:
    """The field of a JSON object that Bolt (or a listener) would fail on, with a 500 and a traceback, or None.
    slack_bolt 1.30 reads these without checking their types: `request/internals.py` (team, enterprise, user,
    channel, authorizations), `request/payload_utils.py` and the listener matchers (type, event, actions, view,
    workflow_step), the authorization and self-event middleware (event), the unhandled-request warning (view,
    actions). The listeners read a button's user, a command's user and channel, and reply to response_url."""
    kind = body.get("type")
    if "type" in body and not isinstance(kind, str):
        return "type not a string"
    for key in ("event", "view"):
        if key in body and not isinstance(body[key], dict):
            return f"{key} not an object"
    if not isinstance(body.get("event", {}).get("function", {}), dict):  # read for a function_executed event
        return "event.function not an object"
    for key in ("team", "enterprise", "user", "channel"):
        if not isinstance(body.get(key), dict | str | None):
            return f"{key} not an object or a string"
    for key in ("team_id", "enterprise_id", "user_id", "channel_id", "response_url", "command", "action_id",
                "callback_id"):
        if not isinstance(body.get(key), str | None):
            return f"{key} not a string"
    if body.get("authorizations") is not None and not _objects(body["authorizations"]):
        return "authorizations not a list of objects"
    if "command" in body and not (isinstance(body.get("user_id"), str) and isinstance(body.get("channel_id"), str)):
        return "a command without user_id or channel_id"
    if "actions" in body or kind in ("block_actions", "interactive_message"):
        actions = body.get("actions")
        if not actions or not _objects(actions):
            return "actions not a non-empty list of objects"
        if kind == "block_actions" and not all(isinstance(action.get("action_id"), str) for action in actions):
            return "an action without an action_id"
    if kind in INTERACTIVE and not (isinstance(body.get("user"), dict) and isinstance(body["user"].get("id"), str)):
        return "user not an object with an id"
    view = body.get("view")
    if isinstance(view, dict) and "callback_id" in view and not isinstance(view.get("type"), str):
        return "view without a type"
    steps = kind == "workflow_step_edit" or (kind == "view_submission" and isinstance(view, dict)
                                             and view.get("type") == "workflow_step")
    if steps and not isinstance(body.get("workflow_step"), dict):
        return "workflow_step not an object"
    return None


def web_app(app: AsyncApp, path: str, secret: str) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()

        def refuse(status: int, reason: str) -> web.Response:
            log.warning("Slack request refused (%s): %s %s: %s, %d bytes", status, request.method, request.path,
                        reason, len(raw))
            return web.Response(status=status, text=reason)

        try:  # Slack sends UTF-8; the signature is checked over the text, as slack_sdk's verifier does
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return refuse(400, "body not UTF-8")
        reason = refusal(text, request.headers, secret)
        if reason is not None:
            return refuse(401, reason)
        headers: dict[str, str | Sequence[str]] = {key: request.headers.getall(key) for key in request.headers}
        try:
            body = parse_body(text, request.content_type)
        except ValueError:  # JSON that does not parse, as the body or as a form's `payload`
            return refuse(400, "body not parseable")
        if not isinstance(body, dict):
            return refuse(400, "body not a JSON object")
        reason = misshapen(body)
        if reason is not None:
            return refuse(400, reason)
        try:  # Bolt reads the routing fields here, nested ones too (an authorization's or an event's team)
            bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=headers)
        except (TypeError, AttributeError, KeyError, IndexError):
            return refuse(400, "body not shaped like a Slack request")
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    application = web.Application()
    application.router.add_post(path, handle)
    return application
