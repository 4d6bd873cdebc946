"""A local Bot API stand-in (aiohttp) speaking Telegram's wire format, for the real PTB client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

BOT_USER = {"id": 123, "is_bot": True, "first_name": "Northwind", "username": "NorthwindBot"}


class BotApiStandIn:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent_at: dict[int, float] = {}  # chat id → time.perf_counter() of its last sendMessage
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._message_id = 1000
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.fail_next: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # method → (status, error body)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/bot"

    async def stop(self) -> None:
        self._new_update.set()
        if self._runner:
            await self._runner.cleanup()

    def push_update(self, update: dict[str, Any]) -> None:
        self._updates.append(update)
        self._new_update.set()

    def methods(self) -> list[str]:
        return [name for name, _ in self.calls]

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append((method, params))
        failures = self.fail_next.get(method)
        if failures:
            status, body = failures.pop(0)
            return web.json_response({"ok": False, "error_code": status, **body}, status=status)
        if "chat_id" in params and not str(params["chat_id"]).lstrip("-").isdigit():
            return web.json_response({"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
                                     status=400)
        result = await getattr(self, f"_{method}", self._true)(params)
        return web.json_response({"ok": True, "result": result})

    async def _true(self, params: dict[str, Any]) -> Any:
        return True

    async def _getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    async def _getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        pending = [u for u in self._updates if u["update_id"] >= offset]
        if not pending:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), 0.2)
            pending = [u for u in self._updates if u["update_id"] >= offset]
        return pending

    async def _sendMessage(self, params: dict[str, Any]) -> Any:
        self._message_id += 1
        self.sent_at[int(params["chat_id"])] = time.perf_counter()
        await self.sent.put(params)
        return {"message_id": self._message_id, "date": int(time.time()), "from": BOT_USER,
                "chat": {"id": int(params["chat_id"]), "type": "private"}, "text": params["text"]}


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data: dict[str, Any] = await request.json()
        return data
    form = await request.post()
    out: dict[str, Any] = {}
    for key, value in form.items():
        text = value if isinstance(value, str) else ""
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out


def text_update(update_id: int, chat_id: int, text: str, chat_type: str = "private") -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "chat": {"id": chat_id, "type": chat_type},
        "from": {"id": chat_id if chat_type == "private" else 555, "is_bot": False, "first_name": "Ana"},
    }}


def photo_update(update_id: int, chat_id: int, caption: str | None = None) -> dict[str, Any]:
    """A photo in a private chat, with the question typed as its caption (or none)."""
    update = text_update(update_id, chat_id, "")
    del update["message"]["text"]
    update["message"]["photo"] = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
    if caption is not None:
        update["message"]["caption"] = caption
    return update


def button_press(update_id: int, chat: int, data: str, on_message: bool = True) -> dict[str, Any]:
    """A press of an inline button; `on_message=False`: one without its message (e.g. under an inline result)."""
    user = {"id": chat, "is_bot": False, "first_name": "Ana"}
    query: dict[str, Any] = {"id": f"cb-{update_id}", "from": user, "chat_instance": "ci", "data": data}
    if on_message:
        query["message"] = {"message_id": 1, "date": 1700000000, "chat": {"id": chat, "type": "private"},
                            "text": "answer"}
    else:
        query["inline_message_id"] = f"inline-{update_id}"
    return {"update_id": update_id, "callback_query": query}
