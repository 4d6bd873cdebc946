"""Settings: defaults, environment, and failures that name the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.app.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_need_no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANSWER_MODE", raising=False)
    settings = load_settings()
    assert settings.answer_mode == "extractive" and settings.embed_model == "bundled"


@pytest.mark.parametrize(("variable", "value"), [
    ("ANSWER_MODE", "magic"), ("MEMORY_TURNS", "-3"), ("LLM_TIMEOUT_S", "soon"), ("EMBED_MODEL", "/no/such/dir"),
])
def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} <= listed
