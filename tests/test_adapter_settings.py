"""Each adapter reads its own settings under its own prefix, validated, every one listed in .env.example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.settings_base import load
from adapters.slack import adapter as slack_adapter
from adapters.slack.settings import SlackSettings
from adapters.telegram import adapter as telegram_adapter
from adapters.telegram.settings import TelegramSettings
from bot.app.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_platform_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    for name in [*TelegramSettings.model_fields, *SlackSettings.model_fields]:
        monkeypatch.delenv(f"TELEGRAM_{name.upper()}", raising=False)
        monkeypatch.delenv(f"SLACK_{name.upper()}", raising=False)


def test_env_example_lists_every_adapter_setting() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert {f"TELEGRAM_{name.upper()}" for name in TelegramSettings.model_fields} <= listed
    assert {f"SLACK_{name.upper()}" for name in SlackSettings.model_fields} <= listed


def test_telegram_settings_come_from_their_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:ABC")
    monkeypatch.setenv("TELEGRAM_STAFF_USER_IDS", "42, 7,not-a-number")
    monkeypatch.setenv("TELEGRAM_TYPING_AFTER_S", "0.25")
    settings = load(TelegramSettings)
    assert settings.bot_token == "123:ABC" and settings.staff == frozenset({42, 7})
    assert settings.typing_after_s == 0.25 and settings.flood_limits
    adapter = telegram_adapter.create(load_settings())
    assert adapter._settings.typing_after_s == 0.25 and adapter._settings.staff == frozenset({42, 7})


def test_telegram_typing_delay_defaults_to_a_second_and_refuses_negative(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:ABC")
    assert load(TelegramSettings).typing_after_s == 1.0
    monkeypatch.setenv("TELEGRAM_TYPING_AFTER_S", "-0.5")
    with pytest.raises(SettingsError, match=r"TELEGRAM_TYPING_AFTER_S: Input should be greater than or equal to 0"):
        load(TelegramSettings)


@pytest.mark.parametrize(("env", "message"), [
    ({}, "TELEGRAM_BOT_TOKEN is not set"),
    ({"TELEGRAM_BOT_TOKEN": " "}, "TELEGRAM_BOT_TOKEN is not set"),
    ({"TELEGRAM_BOT_TOKEN": "1:A", "TELEGRAM_WEBHOOK_URL": "https://x/t"}, "TELEGRAM_WEBHOOK_SECRET must be set"),
    ({"TELEGRAM_BOT_TOKEN": "1:A", "TELEGRAM_WEBHOOK_PORT": "70000"}, "TELEGRAM_WEBHOOK_PORT: Input should be less"),
])
def test_bad_telegram_settings_name_their_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                   message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load(TelegramSettings)


@pytest.mark.parametrize(("env", "message"), [
    ({}, "SLACK_BOT_TOKEN is not set"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_HTTP_PORT": "-1"}, "SLACK_HTTP_PORT"),
])
def test_bad_slack_settings_name_their_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=re.escape(message)):
        slack_adapter.create(load_settings())


def test_slack_settings_come_from_their_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SLACK_SUPPORT_CHANNEL", "CSUPPORT")
    monkeypatch.setenv("SLACK_HTTP_PORT", "0")
    settings = load(SlackSettings)
    assert (settings.signing_secret, settings.support_channel, settings.http_port) == ("secret", "CSUPPORT", 0)
    assert not settings.app_token and settings.command == "/storebot"
