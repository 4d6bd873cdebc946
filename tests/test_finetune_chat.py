"""`storebot finetune chat prepare|start|status|use` through the real openai client, against a local
stand-in of the files and fine-tuning endpoints; rated and staff answers from real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from typer.testing import CliRunner

from bot.answerers.llm import SYSTEM_PROMPT
from bot.app.settings import load_settings
from bot.cli.main import app
from bot.store.activity import ActivityLog
from bot.store.feedback import FeedbackStore
from bot.training.finetune_chat import MIN_EXAMPLES, DatasetError, validate
from bot.types import Turn
from tests.openai_finetune_standin import FineTuningStandIn

runner = CliRunner()
FT_MODEL = "ft:gpt-4o-mini-2024-07-18:org-test:storebot:AbC123"


@pytest.fixture
def stand_in() -> Iterator[FineTuningStandIn]:
    loop = asyncio.new_event_loop()
    server = FineTuningStandIn()
    loop.run_until_complete(server.start())
    # The CLI runs its own event loop; serve from a thread with this one.
    import threading

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


async def _record_rated_and_staff_answers(redis_url: str, marker: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        history = (Turn("shopper", f"do you gift wrap {marker}?"),
                   Turn("bot", "Yes, gift wrapping is free [1].", mode="llm", model="gpt-4o-mini"))
        await FeedbackStore(redis).rate("telegram", f"c-{marker}", "u1", "up", history)
        await ActivityLog(redis).record("resolved", "telegram", f"c2-{marker}", "u2", handoff="H1",
                                        question=f"do you ship to mongolia {marker}?", declined="1",
                                        staff_answer="Yes: 7 to 10 days, €25.")
    finally:
        await redis.aclose()


def test_prepare_start_status_use(kb_env: Path, tmp_path: Path, redis_url: str, stand_in: FineTuningStandIn,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path.name
    asyncio.run(_record_rated_and_staff_answers(redis_url, marker))
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("OPENAI_BASE_URL", stand_in.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    out = tmp_path / "ft"
    prepared = runner.invoke(app, ["finetune", "chat", "prepare", "--out", str(out)])
    assert prepared.exit_code == 0, prepared.output
    assert "training tokens per epoch" in prepared.output and "estimated cost for 3 epochs: $" in prepared.output
    rows = [json.loads(line) for name in ("train.jsonl", "validation.jsonl")
            for line in (out / name).read_text().splitlines()]
    assert {r["messages"][0]["content"] for r in rows} == {SYSTEM_PROMPT.format(store_name=load_settings().store_name)}
    pairs = {(r["messages"][1]["content"], r["messages"][2]["content"]) for r in rows}
    assert ("how much is delivery to germany", "Shipping is free over €60; otherwise €4.90.") in pairs  # past q
    assert (f"do you gift wrap {marker}?", "Yes, gift wrapping is free.") in pairs  # 👍, citation marker dropped
    assert (f"do you ship to mongolia {marker}?", "Yes: 7 to 10 days, €25.") in pairs  # staff answer

    started = runner.invoke(app, ["finetune", "chat", "start", "--dir", str(out)])
    assert started.exit_code == 0, started.output
    [job] = stand_in.jobs.values()
    assert job["model"] == "gpt-4o-mini-2024-07-18" and job["hyperparameters"] == {"n_epochs": 3}
    uploaded = stand_in.files[job["training_file"]]
    assert uploaded["purpose"] == "fine-tune" and len(uploaded["lines"]) + len(
        stand_in.files[job["validation_file"]]["lines"]) == len(rows)

    status = runner.invoke(app, ["finetune", "chat", "status", "--dir", str(out)])
    assert status.exit_code == 0 and "Fine-tuning job started" in status.output and "validating_files" in status.output
    early = runner.invoke(app, ["finetune", "chat", "use", "--dir", str(out)])
    assert early.exit_code == 1 and "no fine-tuned model to use yet" in early.output

    stand_in.finish(job["id"], FT_MODEL)
    (tmp_path / ".env").write_text("ANSWER_MODE=llm\nLLM_MODEL=gpt-4o-mini\n")
    used = runner.invoke(app, ["finetune", "chat", "use", "--dir", str(out)])
    assert used.exit_code == 0, used.output
    monkeypatch.delenv("LLM_MODEL", raising=False)
    assert load_settings().llm_model == FT_MODEL  # the llm answer mode now uses the fine-tuned model
    assert (tmp_path / ".env").read_text().count("LLM_MODEL=") == 1


def test_status_before_any_job_is_a_clear_error(kb_env: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["finetune", "chat", "status", "--dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no fine-tuning job started" in result.output


def _example(user: str, answer: str = "An answer.", role: str = "assistant") -> dict[str, object]:
    return {"messages": [{"role": "system", "content": "rules"}, {"role": "user", "content": user},
                         {"role": role, "content": answer}]}


def test_validation_names_the_bad_example_drops_duplicates_and_needs_a_minimum() -> None:
    good = [_example(f"question {i}") for i in range(MIN_EXAMPLES)]
    kept, dropped = validate([*good, _example("question 1")])
    assert len(kept) == MIN_EXAMPLES and dropped == 1
    with pytest.raises(DatasetError, match="example 3: empty assistant message"):
        validate([*good[:2], _example("q", "  "), *good[2:]])
    with pytest.raises(DatasetError, match="example 1: unknown role 'wizard'"):
        validate([_example("q", role="wizard"), *good])
    with pytest.raises(DatasetError, match=f"need at least {MIN_EXAMPLES} distinct examples"):
        validate(good[:3] + good[:3])
    with pytest.raises(DatasetError, match="no messages"):
        validate([{"messages": []}])
