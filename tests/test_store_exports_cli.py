"""A store's own files through the CLI: exports as they are, warnings, --strict, kb status/search for an
owner, and `kb reload --test` gating a version on the store's conversation tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from tests.conftest import write_tree

runner = CliRunner()
SHOPIFY = (
    "Handle,Title,Body (HTML),Vendor,Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Price,"
    "Variant Inventory Qty,Image Src\n"
    'mug,Marble Mug,"<p>A stoneware mug.</p><ul><li>Hand wash only.</li></ul>",Acme,Mugs,Kitchen,Colour,Grey,'
    "MUG-G,24.00,5,https://x/1.jpg\n"
    "mug,,,,,,,Blue,MUG-B,26.00,0,https://x/2.jpg\n"
    "mug,,,,,,,,,,,https://x/3.jpg\n"
)
SPEC_PASSES = """conversations:
  - name: mug
    turns:
      - ask: "how much is the marble mug?"
        expect: {contains: ["24.00"], product: "mug"}
      - ask: "what colours does it come in"
        expect: {contains: ["grey", "blue"]}
"""
SPEC_FAILS = """conversations:
  - name: impossible
    turns:
      - ask: "how much is the marble mug?"
        expect: {contains: ["999.00"]}
"""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> Path:
    source = write_tree(tmp_path / "store", {"products/products_export.csv": SHOPIFY})
    monkeypatch.setenv("KB_SOURCE_DIR", str(source))
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "kb"))
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.chdir(tmp_path)
    return source


def test_a_raw_shopify_export_builds_with_a_summary_and_warnings(store: Path) -> None:
    built = runner.invoke(app, ["kb", "build"])
    assert built.exit_code == 0, built.output
    assert "1 products (2 variants)" in built.output
    assert "1 image-only rows ignored" in built.output and "products/products_export.csv:4" in built.output
    strict = runner.invoke(app, ["kb", "build", "--strict"])
    assert strict.exit_code == 1 and "products/products_export.csv:4" in strict.output
    assert "The live version is unchanged" in strict.output


def test_status_says_the_threshold_is_uncalibrated_and_search_shows_thresholds(store: Path) -> None:
    assert runner.invoke(app, ["kb", "build"]).exit_code == 0
    status = runner.invoke(app, ["kb", "status"])
    assert status.exit_code == 0 and "uncalibrated default" in status.output and "past_questions/" in status.output
    found = runner.invoke(app, ["kb", "search", "marble mug price"])
    assert found.exit_code == 0 and "Marble Mug" in found.output and "vs threshold 0.450" in found.output


def test_search_before_any_build_is_one_clean_line(store: Path) -> None:
    found = runner.invoke(app, ["kb", "search", "anything"])
    assert found.exit_code == 1
    assert "No knowledge base built yet" in found.output and "Traceback" not in found.output


def test_a_non_numeric_price_fails_the_build_with_file_and_line(store: Path) -> None:
    assert runner.invoke(app, ["kb", "build"]).exit_code == 0
    live = (store.parent / "kb" / "CURRENT").read_text().strip()
    write_tree(store, {"products/products_export.csv": SHOPIFY.replace("26.00", "twenty")})
    failed = runner.invoke(app, ["kb", "build"])
    assert failed.exit_code == 1 and "products/products_export.csv:3" in failed.output and "twenty" in failed.output
    assert (store.parent / "kb" / "CURRENT").read_text().strip() == live


def test_reload_goes_live_only_when_the_conversation_tests_pass(store: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["kb", "build"]).exit_code == 0
    live = (tmp_path / "kb" / "CURRENT").read_text().strip()
    write_tree(tmp_path, {"fails.yml": SPEC_FAILS, "passes.yml": SPEC_PASSES})

    refused = runner.invoke(app, ["kb", "reload", "--test", "fails.yml", "--min-pass", "0.5"])
    assert refused.exit_code == 1, refused.output
    assert "new version passes 0.0%" in refused.output and "old version keeps serving" in refused.output
    assert (tmp_path / "kb" / "CURRENT").read_text().strip() == live

    accepted = runner.invoke(app, ["kb", "reload", "--test", "passes.yml", "--min-pass", "1.0"])
    assert accepted.exit_code == 0, accepted.output
    assert "new version passes 100.0%; the live version passes 100.0%" in accepted.output
    assert (tmp_path / "kb" / "CURRENT").read_text().strip() != live

    bad = runner.invoke(app, ["kb", "reload", "--test", "missing.yml"])
    assert bad.exit_code == 2 and "missing.yml" in bad.output


def test_the_demo_store_answers_its_conversation_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      redis_url: str) -> None:
    """The shopper questions of the answers issue, on the bundled demo store (tests/conversations/)."""
    monkeypatch.delenv("KB_SOURCE_DIR", raising=False)
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "kb"))
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert runner.invoke(app, ["kb", "build"]).exit_code == 0
    spec = Path(__file__).parent / "conversations" / "demo_store.yml"
    result = runner.invoke(app, ["test", str(spec), "--min-pass", "0.9"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("export", ["luma_shopify.csv", "woocommerce_sample_products.csv"])
def test_a_folder_with_only_a_raw_export_loads(tmp_path: Path, export: str) -> None:
    from knowledge.sources.loader import load_sources

    dev_store = Path(__file__).resolve().parent / "store_exports/products"
    folder = write_tree(tmp_path / "store", {f"products/{export}": (dev_store / export).read_bytes()})
    sources = load_sources(folder)
    assert sources.products and sum(len(p.variants) for p in sources.products) >= len(sources.products) - 1
    assert any(w.kind == "no_faq" for w in sources.warnings)
