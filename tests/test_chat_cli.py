"""`storebot chat`: the console adapter end to end, with Redis and without it (demo notice)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app

runner = CliRunner()


@pytest.fixture
def built_kb(kb_env: Path) -> None:
    assert runner.invoke(app, ["kb", "build"]).exit_code == 0


def test_chat_answers_with_sources_on_redis(built_kb: None, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    result = runner.invoke(app, ["chat"], input="how much is delivery?\n/sources\n")
    assert result.exit_code == 0, result.output
    assert "bot> Shipping is free over €60" in result.output
    assert "[1] How much does shipping cost? — faq/faq.csv:2" in result.output
    assert "Sources of my last answer" in result.output
    assert "not reachable" not in result.output


def test_chat_without_redis_keeps_memory_in_process_and_says_so(
    built_kb: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    result = runner.invoke(app, ["chat"], input="tell me about the Summit Pro tent\nhow heavy is it?\n")
    assert result.exit_code == 0, result.output
    assert "memory is kept in this process only" in result.output
    assert "2.1 kg" in result.output


def test_chat_before_any_build_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    result = runner.invoke(app, ["chat"], input="")
    assert result.exit_code == 1 and "storebot kb build" in result.output


def test_serve_telegram_without_a_token_names_the_setting(kb_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    result = runner.invoke(app, ["serve", "telegram"])
    assert result.exit_code == 2 and "TELEGRAM_BOT_TOKEN" in result.output
