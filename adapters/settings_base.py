"""What every adapter's settings share: read from the environment (and `.env`) under the adapter's own
prefix, and a bad value named by its environment variable."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from bot.app.settings import SettingsError

S = TypeVar("S", bound=BaseSettings)


def load(kind: type[S], **overrides: Any) -> S:
    """`kind` from the environment; an invalid or missing value raises SettingsError naming its variable."""
    try:
        return kind(**overrides)
    except ValidationError as err:
        prefix = str(kind.model_config.get("env_prefix", ""))
        problems = "; ".join(f"{(prefix + str(e['loc'][0])).upper()}: {e['msg']}" if e["loc"] else e["msg"]
                             for e in err.errors())
        raise SettingsError(f"invalid setting {problems}") from None


def id_set(value: str) -> frozenset[str]:
    """ "U1, U2" → {"U1", "U2"} (comma-separated ids in one variable)."""
    return frozenset(part.strip() for part in value.split(",") if part.strip())
