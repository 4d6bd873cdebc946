"""`storebot serve telegram slack` stopped by SIGTERM (`docker stop`, a rolling deploy) mid-answer: its ports close
at once, the questions in hand on both platforms are answered and marked done by this process, and it exits
cleanly — nothing for another process to adopt and answer again."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from typer.testing import CliRunner

from bot.cli.main import app
from bot.store.journal_keys import alive_key, journal_key, pending_key
from tests.redis_server import free_port
from tests.slack_standin import SIGNING_SECRET, SignedPoster, SlackApiStandIn, direct_message
from tests.telegram_standin import BotApiStandIn, text_update

SECRET = "stop-secret"


class HeldSlack(SlackApiStandIn):
    """The Web API, holding each chat.postMessage until released."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "chat.postMessage":
            self.arrived.set()
            await self.release.wait()
        return await super()._api(request)


class HeldReplies(BotApiStandIn):
    """The Bot API, holding each sendMessage until released: a reply in flight when the signal comes."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def _sendMessage(self, params: dict[str, Any]) -> Any:
        self.arrived.set()
        await self.release.wait()
        return await super()._sendMessage(params)


def _serve(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    script = Path(sys.executable).with_name("storebot")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli.main"]
    return subprocess.Popen([*command, "serve", "telegram", "slack"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


async def _post(url: str, update: dict[str, Any]) -> int:
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with aiohttp.ClientSession() as session, session.post(url, data=json.dumps(update), headers=headers) as r:
        return r.status


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _env(redis_url: str, api: BotApiStandIn, slack: SlackApiStandIn, port: int, slack_port: int) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))} | {
        "REDIS_URL": redis_url, "METRICS_PORT": "-1", "HF_HUB_OFFLINE": "1", "RATE_LIMIT_PER_MINUTE": "1000",
        "TELEGRAM_BOT_TOKEN": "123:STOP", "TELEGRAM_API_BASE_URL": api.base_url,
        "TELEGRAM_WEBHOOK_URL": "https://bot.example/tg", "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1", "TELEGRAM_WEBHOOK_PORT": str(port), "TELEGRAM_WEBHOOK_PATH": "tg",
        "SLACK_BOT_TOKEN": "xoxb-stop", "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_BASE_URL": slack.api_url,
        "SLACK_HTTP_PORT": str(slack_port),
    }


async def _until_serving(process: subprocess.Popen[bytes], api: BotApiStandIn, *ports: int) -> None:
    for _ in range(600):  # the webhook is registered once the process serves
        if "setWebhook" in api.methods() and not any(_refused(p) for p in ports):
            return
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        await asyncio.sleep(0.1)


async def test_sigterm_answers_the_questions_in_hand_then_exits(kb_env: Path, redis_url: str, tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["kb", "build"]).exit_code == 0
    api, slack = HeldReplies(), HeldSlack()
    await api.start()
    await slack.start()
    port, slack_port = free_port(), free_port()
    process = _serve(_env(redis_url, api, slack, port, slack_port), tmp_path)
    redis = Redis.from_url(redis_url)
    try:
        await _until_serving(process, api, port, slack_port)
        chat = random.randrange(10**6, 10**7)
        asking = asyncio.create_task(_post(f"http://127.0.0.1:{port}/tg",
                                           text_update(random.randrange(10**6, 10**9), chat, "how much is delivery?")))
        channel = f"D{random.randrange(10**8)}"
        poster = SignedPoster(f"http://127.0.0.1:{slack_port}/slack/events")
        try:
            shopper = f"U{random.randrange(10**8)}"
            status, _, _ = await poster.event(direct_message(channel, shopper, "can I pay with paypal?",
                                                             f"{time.time():.6f}"))
        finally:
            await poster.close()
        assert status == 200
        await asyncio.wait_for(api.arrived.wait(), 60)  # both replies are on their way
        await asyncio.wait_for(slack.arrived.wait(), 60)
        process.send_signal(signal.SIGTERM)
        for _ in range(50):
            if _refused(port) and _refused(slack_port):
                break
            await asyncio.sleep(0.1)
        assert _refused(port) and _refused(slack_port)  # nothing new is taken: it goes to another process
        consumer = f"{socket.gethostname()}-{process.pid}"
        assert await redis.exists(alive_key(consumer))  # still alive while it answers: nobody adopts its question
        await asyncio.sleep(0.5)
        api.release.set()
        assert await asyncio.wait_for(asking, 10) == 200  # Telegram is told the update is handled
        for _ in range(50):  # the Telegram side stops; the Slack answer is still held
            assert await redis.exists(alive_key(consumer))  # still alive throughout: its question is not adopted
            await asyncio.sleep(0.02)
        assert process.poll() is None
        slack.release.set()
        exit_code = await asyncio.to_thread(process.wait, 15)
        output = process.stdout.read().decode() if process.stdout else ""
        assert exit_code == 0, output
        assert "SIGTERM" in output and "Traceback" not in output
        assert [p["chat_id"] for n, p in api.calls if n == "sendMessage"] == [chat]
        [posted] = slack.called("chat.postMessage", lambda p: p["channel"] == channel)
        assert "PayPal" in str(posted["text"])
        assert not await redis.exists(journal_key("telegram", consumer), journal_key("slack", consumer),
                                      alive_key(consumer), pending_key("telegram", str(chat)),
                                      pending_key("slack", channel))  # done, and gone
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        await redis.aclose()
        await api.stop()
        await slack.stop()


async def test_a_second_sigterm_ends_it_at_once(kb_env: Path, redis_url: str, tmp_path: Path) -> None:
    """Its reply held, the first SIGTERM would wait for it; a second one does not (and works as a container's
    PID 1, where a signal left to its default is ignored)."""
    assert CliRunner().invoke(app, ["kb", "build"]).exit_code == 0
    api, slack = HeldReplies(), HeldSlack()
    await api.start()
    await slack.start()
    port = free_port()
    process = _serve(_env(redis_url, api, slack, port, free_port()), tmp_path)
    try:
        await _until_serving(process, api, port)
        asking = asyncio.create_task(_post(f"http://127.0.0.1:{port}/tg",
                                           text_update(random.randrange(10**6, 10**9), random.randrange(10**6),
                                                       "how much is delivery?")))
        await asyncio.wait_for(api.arrived.wait(), 60)
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(1.0)
        assert process.poll() is None  # still answering the question in hand
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 5) == 128 + signal.SIGTERM
        await asyncio.gather(asking, return_exceptions=True)  # its connection dropped with the process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        api.release.set()
        await api.stop()
        await slack.stop()
