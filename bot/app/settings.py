"""Settings from environment variables and `.env` (every one is listed in .env.example)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.handoff.hours import SupportHours
from bot.store.connect import parse_redis_url

STOP_GRACE_S = 8.0  # on SIGTERM, for the questions in hand; under `docker stop`'s 10 s before its SIGKILL
DEMO_STORE = Path(__file__).resolve().parents[2] / "knowledge" / "demo_store"


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # The store
    store_name: str = "Northwind Outfitters"
    store_greeting: str = "Hi! I'm the store assistant. Ask me about orders, shipping, returns or our products."
    store_currency: str = ""  # ISO code (EUR, USD…) for prices whose data names none; empty: shown as plain numbers

    # Knowledge base
    kb_source_dir: Path = DEMO_STORE
    kb_data_dir: Path = Path("data/kb")
    kb_keep_versions: int = Field(5, ge=1, le=100)
    kb_max_file_mb: float = Field(50, gt=0)
    kb_decline_share: float = Field(0.9, gt=0, lt=1)
    kb_faq_threshold: float = Field(0.6, ge=-1, le=1)
    kb_product_threshold: float = Field(0.45, ge=-1, le=1)
    kb_catalog_text_fields: str = "text,description,body,content,details,features"
    embed_model: str = "bundled"  # "bundled", a local model directory, or "openai:<model>"
    # Where a local model's forward pass runs: ONNX Runtime (exported once into KB_DATA_DIR/onnx) or PyTorch.
    embed_backend: Literal["onnx", "torch"] = "onnx"
    embed_onnx_variant: Literal["fp32", "O2"] = "O2"
    embed_onnx_dir: Path | None = None  # where exported models are kept; empty: KB_DATA_DIR/onnx
    eval_data: Path | None = None  # `storebot eval` question sets (store-faq/, product-qa/); unset: pass --data

    # Answers
    answer_mode: Literal["extractive", "llm"] = "extractive"
    openai_api_key: str = ""
    openai_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = Field(8.0, gt=0)
    # Any LlamaIndex LLM integration, as module:Class; empty: llama_index.llms.openai_like:OpenAILike
    llm_class: str = Field("", pattern=r"^$|^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    llm_kwargs: dict[str, Any] = Field(default_factory=dict)  # JSON object: more arguments for the LLM class
    llm_price_input_per_m: float = Field(0.0, ge=0)  # USD per 1M prompt tokens (eval compare cost)
    llm_price_output_per_m: float = Field(0.0, ge=0)  # USD per 1M completion tokens
    finetune_base_model: str = "gpt-4o-mini-2024-07-18"  # the chat model `finetune chat start` fine-tunes
    finetune_price_per_m_tokens: float = Field(3.0, ge=0)  # USD per 1M training tokens, for the estimate

    # Conversation state (Redis): one server, a cluster or a Sentinel's master (bot/store/connect.py)
    redis_url: str = "redis://127.0.0.1:6379/0"
    memory_turns: int = Field(10, ge=1, le=200)
    memory_ttl_s: int = Field(7 * 24 * 3600, ge=60)
    rate_limit_per_minute: int = Field(20, ge=1)
    dedupe_ttl_s: int = Field(600, ge=1)
    # On SIGTERM (a deploy, a scale-down): how long the questions in hand get to be answered before exiting.
    stop_grace_s: float = Field(STOP_GRACE_S, ge=0)

    # Handing conversations to people, feedback and reports
    handoff_to: Literal["", "slack"] = ""  # the platform where staff take conversations over; empty: no handoff
    handoff_after_declines: int = Field(2, ge=0)  # declined answers in a row that hand over (0: never)
    handoff_remind_after_min: float = Field(15, gt=0)
    handoff_show_staff_names: bool = True  # "Jane (support): …" rather than just the text
    support_hours: str = ""  # e.g. "mon-fri 09:00-17:00"; empty: always staffed
    support_timezone: str = "UTC"
    feedback_keep_entries: int = Field(100_000, ge=100)  # 👍/👎 and activity kept for reports (per stream)

    # Who may reload, roll back and read reports (from any platform's ops command)
    ops_user_ids: str = ""  # comma-separated platform user ids
    ops_usergroup: str = ""  # or a platform user group id (members are looked up on each attempt)

    # Operations: `storebot serve`'s /healthz and /metrics server, and the log format
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(9102, ge=-1, le=65535)  # 0: any free port (logged); -1: no health/metrics server
    log_format: Literal["text", "json"] = "text"  # json: one object per line (time, level, logger, message…)

    @model_validator(mode="after")
    def _valid_support_hours(self) -> Settings:
        try:
            SupportHours.parse(self.support_hours, self.support_timezone)
        except (ValueError, KeyError) as err:
            raise ValueError(f"SUPPORT_HOURS / SUPPORT_TIMEZONE: {err}") from None
        return self

    @field_validator("redis_url")
    @classmethod
    def _known_redis_url(cls, value: str) -> str:
        parse_redis_url(value)
        return value

    @field_validator("embed_model")
    @classmethod
    def _known_embed_model(cls, value: str) -> str:
        if value != "bundled" and not value.startswith("openai:") and not Path(value).is_dir():
            raise ValueError("use 'bundled', 'openai:<model>' or an existing model directory")
        return value


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; an invalid one raises SettingsError naming its variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        problems = "; ".join(
            f"{str(e['loc'][0]).upper()}: {e['msg']}" if e["loc"] else e["msg"] for e in err.errors()
        )
        raise SettingsError(f"invalid setting {problems}") from None
