"""A local stand-in for the OpenAI chat-completions endpoint, driven through the real openai client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import openai
from aiohttp import web

from bot.types import Reply, Turn

STORE = "Northwind Outfitters"
FINE_TUNED = "ft:gpt-4o-mini-2024-07-18:acme::abc123"


@dataclass
class StandIn:
    """An OpenAI-compatible `POST /v1/chat/completions`; `mode` is "ok", "error", "slow" or "empty"."""

    mode: str = "ok"
    content: str = "Shipping is free over €60 [1]."
    slow_s: float = 2.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        self.requests.append(body)
        if self.mode == "error":
            return web.json_response(
                {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}, status=500)
        if self.mode == "slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), self.slow_s)
        content = "" if self.mode == "empty" else self.content
        return web.json_response({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        })


@dataclass
class Served:
    stand_in: StandIn
    client: openai.AsyncOpenAI


@contextlib.asynccontextmanager
async def serve_chat() -> AsyncIterator[Served]:
    """The stand-in on a free local port, and the real openai client pointed at it."""
    stand_in = StandIn()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", stand_in.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    client = openai.AsyncOpenAI(api_key="test", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    try:
        yield Served(stand_in, client)
    finally:
        stand_in.release.set()
        await client.close()
        await runner.cleanup()


class CountingFallback:
    def __init__(self) -> None:
        self.calls = 0

    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        self.calls += 1
        return Reply("extractive answer", mode="extractive")
