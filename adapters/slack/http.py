"""Slack over HTTP: the gate in front of Bolt, and the Web API client's retries.

The gate checks every incoming request before Bolt sees it — timestamp, signature (over the raw bytes),
UTF-8, a JSON object — and refuses a bad one with a 4xx and one log line (method, path, reason, body
length; never the body). Bolt's own verifier would log a forged request's body at INFO, so it is off.
Outgoing calls retry a 429 after its Retry-After, and a 500/503 or a dropped connection with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

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
        try:  # Bolt reads the body's routing fields (team, enterprise, authorizations) here
            bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=headers)
        except (TypeError, AttributeError, KeyError, IndexError):
            return refuse(400, "body not shaped like a Slack request")
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    application = web.Application()
    application.router.add_post(path, handle)
    return application
