"""`storebot serve telegram slack`: both adapters in one process, wired from settings, sharing one engine."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app.settings import load_settings
from bot.cli.main import _serve, app, load_adapter
from bot.tasks import cancel_and_wait
from tests.slack_standin import SIGNING_SECRET, SignedPoster, SlackApiStandIn, mention
from tests.telegram_standin import BotApiStandIn, text_update


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_serve_runs_telegram_and_slack_in_one_process(
    kb_env: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CliRunner().invoke(app, ["kb", "build"]).exit_code == 0
    telegram, slack = BotApiStandIn(), SlackApiStandIn()
    await telegram.start()
    await slack.start()
    port = _free_port()
    for name, value in {
        "REDIS_URL": redis_url, "TELEGRAM_BOT_TOKEN": "123:TEST", "TELEGRAM_API_BASE_URL": telegram.base_url,
        "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_BASE_URL": slack.api_url,
        "SLACK_HTTP_PORT": str(port),
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    serving = asyncio.create_task(_serve(settings, [load_adapter(n, settings) for n in ("telegram", "slack")]))
    poster = SignedPoster(f"http://127.0.0.1:{port}/slack/events")
    try:
        chat = random.randrange(10**6, 10**7)
        telegram.push_update(text_update(random.randrange(10**6, 10**9), chat, "how much is delivery?"))
        sent = await asyncio.wait_for(telegram.sent.get(), 30)
        assert str(sent["text"]).startswith("Shipping is free over €60")
        channel, ts = f"C{random.randrange(10**8, 10**9)}", f"{time.time():.6f}"
        for _ in range(100):  # the Slack server is up once Telegram answers, but allow for start-up order
            with contextlib.suppress(OSError):
                if (await poster.event(mention(channel, "UALICE", "can I pay with paypal?", ts)))[0] == 200:
                    break
            await asyncio.sleep(0.1)
        [posted] = await slack.wait_for("chat.postMessage", lambda p: p["channel"] == channel)
        assert "PayPal" in str(posted["blocks"])
    finally:
        await cancel_and_wait(serving)
        await poster.close()
        await telegram.stop()
        await slack.stop()


def test_serve_names_the_missing_setting(kb_env: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "slack"])
    assert result.exit_code == 2 and "SLACK_BOT_TOKEN is not set" in result.output
