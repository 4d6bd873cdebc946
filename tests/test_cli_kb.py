"""The `storebot kb` and `storebot eval` commands, and what every command shares, end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.eval import NO_DATA
from bot.cli.main import app
from tests.conftest import write_tree

runner = CliRunner()
SPEC = Path(__file__).parent / "conversations" / "demo_store.yml"


def test_build_status_search_rollback(kb_env: Path, tmp_path: Path) -> None:
    built = runner.invoke(app, ["kb", "build"])
    assert built.exit_code == 0, built.output
    assert "3 FAQ entries" in built.output and "1 products (1 variants)" in built.output
    assert "It is live now" in built.output
    first = (tmp_path / "kb" / "CURRENT").read_text().strip()

    status = runner.invoke(app, ["kb", "status"])
    assert status.exit_code == 0 and first in status.output and "faq/faq.csv" in status.output

    found = runner.invoke(app, ["kb", "search", "is shipping free?", "-k", "2"])
    assert found.exit_code == 0 and "How much does shipping cost?" in found.output
    assert "faq/faq.csv:2" in found.output

    assert runner.invoke(app, ["kb", "build"]).exit_code == 0
    rolled = runner.invoke(app, ["kb", "rollback"])
    assert rolled.exit_code == 0 and first in rolled.output
    assert (tmp_path / "kb" / "CURRENT").read_text().strip() == first


def test_bad_source_fails_naming_file_and_line_and_keeps_the_live_version(kb_env: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["kb", "build"]).exit_code == 0
    live = (tmp_path / "kb" / "CURRENT").read_text().strip()
    write_tree(kb_env, {"past_questions/more.csv": "question,faq_id\nwhere is my parcel,track_order\n"})
    failed = runner.invoke(app, ["kb", "build"])
    assert failed.exit_code == 1
    assert "past_questions/more.csv:2: unknown FAQ id 'track_order'" in failed.output
    assert f"The live version is unchanged: {live}" in failed.output
    assert (tmp_path / "kb" / "CURRENT").read_text().strip() == live


def test_unknown_file_type_is_a_warning(kb_env: Path) -> None:
    write_tree(kb_env, {"products/photo.png": b"\x89PNG\r\n"})
    built = runner.invoke(app, ["kb", "build"])
    assert built.exit_code == 0 and "products/photo.png: skipped, unknown file type" in built.output


def test_status_before_any_build(kb_env: Path) -> None:
    result = runner.invoke(app, ["kb", "status"])
    assert result.exit_code == 1 and "storebot kb build" in result.output


def test_bad_setting_fails_at_start_naming_the_variable(kb_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_KEEP_VERSIONS", "zero")
    result = runner.invoke(app, ["kb", "status"])
    assert result.exit_code == 2 and "KB_KEEP_VERSIONS" in result.output


def test_kb_reload_builds_and_announces(kb_env: Path, tmp_path: Path, redis_url: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    result = runner.invoke(app, ["kb", "reload"])
    assert result.exit_code == 0, result.output
    version = (tmp_path / "kb" / "CURRENT").read_text().strip()
    assert f"version {version} is live" in result.output and "Announced to" in result.output
    assert "added faq/faq.csv" in result.output  # the first build: every source is new


def test_kb_reload_without_redis_says_processes_were_not_told(kb_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    result = runner.invoke(app, ["kb", "reload"])
    assert result.exit_code == 1 and "running processes were not told" in result.output


@pytest.mark.parametrize("args", [
    ["kb", "build"], ["kb", "reload"], ["kb", "status"], ["kb", "search", "shipping"], ["kb", "rollback"],
    ["eval", "store-faq"], ["eval", "product-qa", "--data", "pqa"], ["eval", "compare", "--data", "eval"],
    ["finetune", "embeddings"], ["finetune", "chat", "prepare"], ["finetune", "chat", "status"],
    ["report"], ["test", str(SPEC)], ["chat"], ["serve", "telegram"],
])
def test_every_command_reads_settings_from_the_app_callback(
    kb_env: Path, monkeypatch: pytest.MonkeyPatch, args: list[str],
) -> None:
    """The callback's context object loads settings for all of them: a bad one is the same single line, exit 2."""
    monkeypatch.setenv("KB_KEEP_VERSIONS", "zero")
    result = runner.invoke(app, args, input="")
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "invalid setting KB_KEEP_VERSIONS: Input should be a valid integer, unable to parse string as an integer"]


def test_help_needs_no_valid_settings(kb_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_KEEP_VERSIONS", "zero")  # settings load when a command runs, not for --help
    result = runner.invoke(app, ["kb", "build", "--help"])
    assert result.exit_code == 0 and "--embed-model" in result.output


def test_eval_compare_is_a_subcommand() -> None:
    result = runner.invoke(app, ["eval", "compare", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--data", "--model", "--chat-model", "--chat-limit"):
        assert option in result.output
    assert "compare" in runner.invoke(app, ["eval", "--help"]).output


@pytest.mark.parametrize("command", ["store-faq", "product-qa", "compare"])
def test_eval_without_data_exits_2_saying_how_to_give_it(
    kb_env: Path, monkeypatch: pytest.MonkeyPatch, command: str,
) -> None:
    monkeypatch.delenv("EVAL_DATA", raising=False)
    result = runner.invoke(app, ["eval", command])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [NO_DATA] and "--data" in NO_DATA and "EVAL_DATA" in NO_DATA


def test_eval_reads_its_set_under_eval_data(kb_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    passage = {"id": "p1", "asin": "A1", "title": "Summit tent", "source": "description",
               "text": "A freestanding four-season tent weighing 2.1 kg."}
    query = {"qid": "q1", "question": "how heavy is it?", "asin": "A1", "title": "Summit tent",
             "relevant": ["p1"], "partial": []}
    data = write_tree(tmp_path / "eval", {"product-qa/passages.jsonl": json.dumps(passage) + "\n",
                                          "product-qa/queries.jsonl": json.dumps(query) + "\n"})
    monkeypatch.setenv("EVAL_DATA", str(data))
    result = runner.invoke(app, ["eval", "product-qa"])
    assert result.exit_code == 0, result.output
    assert "product-qa" in result.output and "1.000" in result.output
