"""`storebot test`: the checker, the YAML parser's errors, the buckets, and a run through the real engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.engine import Engine
from bot.ops.conversation_spec import Expect, SpecError, load_spec, parse_spec
from bot.ops.conversation_tests import amount, bucket_of, check_reply, mentions, product_matches, run_spec, slug
from bot.types import Citation, IncomingMessage, Reply

runner = CliRunner()
HOODIE = Citation("product:MH01", "Chaz Kangeroo Hoodie", "https://shop.example/products/chaz-kangeroo-hoodie",
                  "products/luma.csv:2")


# --- numbers and text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", ["It costs $24.", "24.00 EUR", "€24,00", "only 24", "price: 24.00.", "(€24)"])
def test_an_amount_matches_however_written(reply: str) -> None:
    for item in ("24.00", "$24", "24", "24,00", "€24.00", "24 EUR"):
        assert mentions(reply, item), (reply, item)


@pytest.mark.parametrize("reply", ["It is 152.00", "It is 52.50", "It is 1,052", "SKU MH52", "5.2", "520"])
def test_amounts_are_whole_numbers(reply: str) -> None:
    assert not mentions(reply, "52") and not mentions(reply, "52.00")


def test_thousands_separators() -> None:
    for reply in ("$1,299.00", "1.299,00 €", "1299", "1,299", "1\u00a0299,00", "1'299.00"):
        assert mentions(reply, "1299") and mentions(reply, "1,299.00"), reply
    assert not mentions("1,29", "1299")
    assert amount("1,299") == 1299 and amount("24,00") == 24 and amount("0.125") == amount("0,125")
    assert amount("1.2.3") is None


def test_text_items_are_case_insensitive_substrings() -> None:
    assert mentions("Machine Wash/Dry.", "machine wash/dry")
    assert mentions("It doesn’t  come in red", "doesn't come in red")  # curly apostrophe, double space
    assert not mentions("hand wash only", "dishwasher")
    assert mentions("size 2.6 kg", "2.6")  # an amount inside text


def test_contains_any_not_contains() -> None:
    reply = Reply("The hoodie comes in black, grey and orange. Machine wash.")
    assert check_reply(Expect(contains=("black", "orange"), any=("gray", "grey")), reply).bucket == "passed"
    verdict = check_reply(Expect(contains=("black", "purple"), any=("blue", "red")), reply)
    assert verdict.bucket == "answered_wrongly"
    assert verdict.failures == ('missing "purple"', 'none of "blue", "red"')
    assert check_reply(Expect(not_contains=("GREY",)), reply).failures == ('has "GREY"',)


def test_product_by_handle_slug_sku_url_or_title() -> None:
    for product in ("chaz-kangeroo-hoodie", "Chaz Kangeroo Hoodie", "MH01", "CHAZ KANGEROO", "products/chaz"):
        assert product_matches(HOODIE, product), product
    by_title_only = Citation("product:123", "Frankie  Sweatshirt™")
    assert product_matches(by_title_only, "frankie-sweatshirt")
    assert not product_matches(HOODIE, "teton-pullover-hoodie") and not product_matches(None, "chaz")
    assert slug("Café Crème  Mug") == "cafe-creme-mug"


def test_product_is_the_first_citation_only() -> None:
    other = Citation("product:MH02", "Teton Pullover Hoodie")
    assert check_reply(Expect(product="chaz-kangeroo-hoodie"), Reply("x", (HOODIE, other))).bucket == "passed"
    failed = check_reply(Expect(product="chaz-kangeroo-hoodie"), Reply("x", (other, HOODIE)))
    assert failed.bucket == "answered_wrongly" and "Teton Pullover Hoodie" in failed.failures[0]
    assert "nothing" in check_reply(Expect(product="chaz"), Reply("x")).failures[0]


def test_declines() -> None:
    declined, answered = Reply("I'm not sure.", confident=False), Reply("Hello! How can I help?")
    assert check_reply(Expect(declines=True), declined).bucket == "passed"
    assert check_reply(Expect(declines=True), answered).bucket == "answered_should_decline"
    assert check_reply(Expect(declines=False), answered).bucket == "passed"
    assert check_reply(Expect(declines=False), declined).bucket == "declined_wrongly"
    assert check_reply(Expect(declines=True), Reply("A person will reply.", mode="handoff")).declined
    assert check_reply(Expect(declines=True), None).bucket == "passed"  # silence: a person has it


# --- buckets --------------------------------------------------------------------------------------------------


def test_a_declined_answer_is_declined_wrongly_whatever_else_failed() -> None:
    expect = Expect(contains=("52.00",), product="chaz")
    assert bucket_of(expect, declined=True, content_failed=True) == "declined_wrongly"
    assert bucket_of(expect, declined=True, content_failed=False) == "declined_wrongly"
    assert bucket_of(expect, declined=False, content_failed=True) == "answered_wrongly"
    assert bucket_of(expect, declined=False, content_failed=False) == "passed"
    verdict = check_reply(expect, Reply("I'm not sure about that one.", confident=False))
    assert verdict.bucket == "declined_wrongly" and verdict.failures[0] == "declined, but should have answered"


def test_should_decline_buckets() -> None:
    expect = Expect(declines=True, not_contains=("kayak",))
    assert bucket_of(expect, declined=False, content_failed=False) == "answered_should_decline"
    assert bucket_of(expect, declined=False, content_failed=True) == "answered_should_decline"
    assert bucket_of(expect, declined=True, content_failed=False) == "passed"
    assert check_reply(expect, Reply("We have no kayak info.", confident=False)).bucket == "answered_wrongly"


# --- parsing --------------------------------------------------------------------------------------------------

GOOD = """\
conversations:
  - name: mug
    turns:
      - ask: "How much is the Luxe Marble Mug?"
        # kind: price
        # src: products.csv:2 price=24.00
        expect:
          contains: ["24.00"]
          product: "luxe-marble-mug"
      - ask: "is it dishwasher safe?"   # kind: details, followup
        expect: {any: ["hand wash"], not_contains: ["spoon"]}
      - expect:
          declines: true
        ask: "Do you sell kayaks?"
"""


def test_parses_turns_lines_and_kinds() -> None:
    spec = parse_spec(GOOD, "c.yml")
    turns = spec.conversations[0].turns
    assert spec.turn_count == 3 and spec.conversations[0].line == 2
    assert [t.line for t in turns] == [4, 10, 14]
    assert [t.kinds for t in turns] == [("price",), ("details", "followup"), ()]
    assert turns[0].expect == Expect(contains=("24.00",), product="luxe-marble-mug")
    assert turns[1].followup and turns[2].expect.declines is True


@pytest.mark.parametrize(("text", "line", "message"), [
    ("conversations:\n  - name: x\n    turns: [\n", 4, "not valid YAML"),
    ("conversations:\n  - name: x\n    turns:\n      - ask: hi\n        expect: {contain: [a]}\n", 5,
     "unknown key 'contain' in `expect`"),
    ("conversations:\n  - name: x\n    turns:\n      - ask: hi\n        expected: {any: [a]}\n", 5,
     "unknown key 'expected' in a turn"),
    ("conversations:\n  - name: x\n    steps: []\n", 3, "unknown key 'steps' in a conversation"),
    ("conversations:\n  - name: x\n    turns:\n      - ask: hi\n", 4, "has no expectation"),
    ("conversations:\n  - name: x\n    turns:\n      - ask: hi\n        expect: {}\n", 4, "has no expectation"),
    ("conversations:\n  - name: x\n    turns:\n      - ask: hi\n        expect:\n          contains: \"24\"\n", 6,
     "`contains` must be a non-empty list of strings"),
    ("conversations:\n  - name: x\n    turns:\n      - ask: hi\n        expect:\n          any: [24.00]\n", 6,
     "quote numbers"),
    ("conversations:\n  - name: x\n    turns:\n      - ask: hi\n        expect:\n          not_contains: [a, [b]]\n",
     6, "`not_contains` must be"),
    ("conversations:\n  - name: x\n    turns:\n      - ask: hi\n        expect:\n          declines: yes please\n", 6,
     "`declines` must be true or false"),
    ("conversations:\n  - turns:\n      - ask: hi\n        expect: {declines: false}\n", 2, "without a `name`"),
    ("conversations:\n  - name: x\n", 2, "has no `turns` list"),
    ("conversations:\n  - name: x\n    turns:\n      - expect: {declines: false}\n", 4, "without an `ask:`"),
    ("conversations:\n  - name: x\n    turns:\n      - {ask: a, expect: {declines: true}}\n"
     "  - name: x\n    turns:\n      - {ask: b, expect: {declines: true}}\n", 5, "duplicate conversation name 'x'"),
    ("- ask: hi\n", 1, "expected a mapping with a `conversations:` list"),
])
def test_bad_files_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "shop.yml")
    assert caught.value.line == line and message in str(caught.value)
    assert str(caught.value).startswith(f"shop.yml:{line}: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nope.yml")


def test_demo_store_conversations_parse() -> None:
    spec = load_spec(Path(__file__).parent / "conversations" / "demo_store.yml")
    asks = {t.ask for c in spec.conversations for t in c.turns}
    assert {"how much is the summit pro tent?", "hi", "thanks!", "and to norway?", "is it waterproof?"} <= asks
    assert all(t.kinds for c in spec.conversations for t in c.turns)


# --- running --------------------------------------------------------------------------------------------------


class ScriptedEngine:
    """Answers from a script and records what it was sent."""

    def __init__(self, replies: dict[str, Reply | None]) -> None:
        self.replies = replies
        self.seen: list[IncomingMessage] = []

    async def handle(self, msg: IncomingMessage) -> Reply | None:
        self.seen.append(msg)
        return self.replies.get(msg.text, Reply("ok"))


async def test_run_spec_fresh_conversation_each_in_order_then_forgotten() -> None:
    engine = ScriptedEngine({"How much is the Luxe Marble Mug?": Reply("€24", (Citation("p:1", "Luxe Marble Mug"),)),
                             "is it dishwasher safe?": Reply("Dishwasher safe."),
                             "Do you sell kayaks?": Reply("Sorry, no idea.", confident=False)})
    spec = parse_spec(GOOD + GOOD.replace("name: mug", "name: mug again").replace("conversations:\n", ""), "c.yml")
    result = await run_spec(cast(Engine, engine), spec)
    sent = [(m.conversation_id, m.text) for m in engine.seen]
    assert [text for _, text in sent] == [*[t.ask for t in spec.conversations[0].turns], "/forget"] * 2
    assert len({conversation for conversation, _ in sent}) == 2 and all(m.platform == "test" for m in engine.seen)
    assert [t.bucket for t in result.turns] == ["passed", "answered_wrongly", "passed"] * 2
    s = result.summary
    assert (s.overall.turns, s.overall.passed, s.followup.turns, s.should_decline.passed) == (6, 4, 2, 2)
    assert dict(s.by_kind)["price"].passed == 2 and s.latency_ms_p99 >= s.latency_ms_p50 >= 0
    assert result.failures[0].failures == ('none of "hand wash"',)
    assert json.loads(json.dumps(result.to_json()))["summary"]["overall"]["pass_rate"] == round(4 / 6, 4)


# --- end to end: the CLI on the real engine and a tiny knowledge base -----------------------------------------

TINY_SPEC = """\
conversations:
  - name: tent
    turns:
      - ask: "tell me about the Summit Pro tent"
        # kind: details
        expect:
          product: "tent-2p"
  - name: shop policies
    turns:
      - ask: "how much does delivery cost?"
        # kind: policy
        expect:
          contains: ["4.90"]
          not_contains: ["bitcoin"]
      - ask: "what is the capital of mongolia?"
        # kind: decline
        expect:
          declines: true
      - ask: "Can I return an item?"
        # kind: policy
        expect:
          contains: ["90 days"]
"""


@pytest.fixture
def test_env(kb_env: Path, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REDIS_URL", redis_url)
    spec = tmp_path / "shop.yml"
    spec.write_text(TINY_SPEC, encoding="utf-8")
    return spec


def test_cli_runs_a_spec_through_the_engine(test_env: Path) -> None:
    assert runner.invoke(app, ["kb", "build"]).exit_code == 0
    done = runner.invoke(app, ["test", str(test_env), "--json", "--min-pass", "0.1"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    buckets = {t["ask"]: t["bucket"] for t in report["turns"]}
    assert buckets == {"tell me about the Summit Pro tent": "passed", "how much does delivery cost?": "passed",
                       "what is the capital of mongolia?": "passed", "Can I return an item?": "answered_wrongly"}
    overall = report["summary"]["overall"]
    assert (overall["turns"], overall["passed"], overall["pass_rate"]) == (4, 3, 0.75)
    assert report["turns"][0]["citation"]["title"] == "Summit Pro 2-person tent"

    failing = runner.invoke(app, ["test", str(test_env), "--min-pass", "0.8"])
    assert failing.exit_code == 1
    assert f"{test_env}:19" in failing.stdout and "Can I return an item?" in failing.stdout
    assert 'missing "90 days"' in failing.stdout and "within 30 days" in failing.stdout
    assert "PASS" not in failing.stdout and "mongolia" not in failing.stdout  # passing turns need --verbose
    assert "answered wrongly 1 (25.0%)" in failing.stdout and "below --min-pass" in failing.output


def test_cli_bad_file_exits_2_with_file_and_line(test_env: Path) -> None:
    test_env.write_text(TINY_SPEC.replace("declines: true", "declines: maybe"), encoding="utf-8")
    result = runner.invoke(app, ["test", str(test_env)])
    assert result.exit_code == 2
    assert f"{test_env}:18: `declines` must be true or false" in result.output and "Traceback" not in result.output


def test_cli_without_a_knowledge_base(test_env: Path) -> None:
    result = runner.invoke(app, ["test", str(test_env)])
    assert result.exit_code == 1 and "storebot kb build" in result.output
    assert len(result.output.strip().splitlines()) == 1
