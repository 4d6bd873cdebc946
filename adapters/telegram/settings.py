"""The Telegram adapter's settings: `TELEGRAM_*` environment variables (each listed in .env.example)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.settings_base import id_set


class TelegramSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TELEGRAM_", env_file=".env", extra="ignore", frozen=True)

    bot_token: str = ""
    api_base_url: str = ""  # another Bot API server (e.g. a local one); empty: Telegram's
    answer_all_in_groups: bool = False
    staff_user_ids: str = ""  # comma-separated Telegram user ids of the store's staff
    webhook_url: str = ""  # set: webhook mode; empty: polling
    webhook_secret: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=0, le=65535)
    webhook_path: str = "telegram"
    typing_after_s: float = Field(default=1.0, ge=0)  # "typing…" only for answers slower than this
    flood_limits: bool = True  # keep under Telegram's flood limits (off only for local load tests)

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramSettings:
        if not self.bot_token.strip():
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET must be set in webhook mode")
        return self

    @property
    def staff(self) -> frozenset[int]:
        return frozenset(int(user) for user in id_set(self.staff_user_ids) if user.lstrip("-").isdigit())
