"""The Slack adapter's settings: `SLACK_*` environment variables (each listed in .env.example)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLACK_", env_file=".env", extra="ignore", frozen=True)

    bot_token: str = ""
    signing_secret: str = ""  # HTTP mode: every request must carry a valid signature
    app_token: str = ""  # set: Socket Mode (no public URL needed)
    api_base_url: str = ""  # another Web API server; empty: Slack's
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=3000, ge=0, le=65535)
    events_path: str = "/slack/events"
    command: str = "/storebot"
    placeholder_after_s: float = Field(default=1.0, ge=0)  # "Thinking…" only for answers slower than this
    support_channel: str = ""  # where handed-over conversations open as threads

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackSettings:
        if not self.bot_token.strip():
            raise ValueError("SLACK_BOT_TOKEN is not set")
        if not self.app_token and not self.signing_secret:
            raise ValueError("set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)")
        return self
