"""Reports for ops on real Redis: figures match the events sent; staff answers close the loop."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from redis.asyncio import Redis
from typer.testing import CliRunner

from bot.answerers.facts import FactAnswerer
from bot.cli.main import app
from bot.engine import Engine, StoreInfo
from bot.handoff.desk import HandoffDesk, HandoffPolicy
from bot.ops.reports import Reports, describe, groups_csv, write_candidates
from bot.store.activity import ActivityLog
from bot.store.feedback import FeedbackStore
from bot.store.memory import RedisState
from bot.store.outbox import Outbox
from knowledge.index.builder import BuildOptions, build_version
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import VersionStore
from tests.testbot import TestBot, press

PLATFORM = "report-test"  # a shopper platform no adapter in the test run consumes
RETURNS_ANSWER = "Yes, within 30 days of delivery, unworn and with tags."


async def test_report_figures_match_the_events_sent_and_candidates_close_the_loop(
    built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder,
    embedding_cache: EmbeddingCache, redis_url: str,
) -> None:
    started = time.time()
    redis = Redis.from_url(redis_url)
    handle = IndexHandle(built_store)
    handle.refresh()
    retriever = HybridRetriever(handle, embedder)
    activity = ActivityLog(redis)
    desk = HandoffDesk(redis, Outbox(redis), activity, HandoffPolicy(after_declines=0))
    engine = Engine(RedisState(redis, 10, 3600, 1000, 600), FactAnswerer(retriever), StoreInfo("Shop", "Hi"),
                    FeedbackStore(redis), desk, activity)
    try:
        shopper = TestBot(engine, PLATFORM)
        for question in ("how much does delivery cost?", "can I pay with paypal?", "can I return an item?"):
            assert (await shopper.ask(question)).confident
        await press(engine, PLATFORM, shopper.conversation, shopper.user, "up")
        for question in ("can you deliver to mongolia", "is there a loyalty program?"):
            assert not (await shopper.ask(question)).confident
        await press(engine, PLATFORM, shopper.conversation, shopper.user, "down")  # on the loyalty decline

        # Two handoffs after declines; staff answer both. One answer is new knowledge, one is an existing FAQ's.
        for question, staff_answer in (("do you ship to mongolia?", "Yes: 7 to 10 days to Mongolia, €25."),
                                       ("the jacket is too small, what now?", RETURNS_ANSWER)):
            asker = TestBot(engine, PLATFORM)
            assert not (await asker.ask(question)).confident
            await press(engine, PLATFORM, asker.conversation, asker.user, "human", "Ana")
            handoff = await desk.find(PLATFORM, asker.conversation)
            assert handoff is not None and handoff.declined
            assert await desk.from_staff(handoff, "Jane", staff_answer)
            assert await desk.resolve(handoff.id, "UJANE") is not None

        report = await Reports(redis, activity, lambda: embedder, retriever).build(time.time() - started + 1)
        figures = (report.answered, report.declined, report.handed_off, report.resolved, report.thumbs_up,
                   report.thumbs_down)
        assert figures == (3, 4, 2, 2, 1, 1)
        assert report.up_rate == 0.5
        top = report.groups[0]
        assert top.count == 2 and set(top.examples) == {"can you deliver to mongolia", "do you ship to mongolia?"}
        loyalty = next(g for g in report.groups if g.question == "is there a loyalty program?")
        assert (loyalty.count, loyalty.declined, loyalty.thumbs_down) == (2, 1, 1)  # declined, then 👎
        text = describe(report)
        assert "7 questions, 3 answered, 4 declined, 2 handed to a person (2 resolved)" in text
        assert "1 👍 / 1 👎 (50% positive)" in text
        assert groups_csv(report).splitlines()[0] == "rank,question,times_asked,declined,thumbs_down,other_phrasings"

        new, paired = sorted(report.candidates, key=lambda c: c.faq_id)
        assert (new.question, new.answer, new.faq_id) == ("do you ship to mongolia?",
                                                          "Yes: 7 to 10 days to Mongolia, €25.", "")
        assert (paired.question, paired.faq_id) == ("the jacket is too small, what now?",
                                                    "return_policy")

        # The loop closes: the exported files load as they are, and the bot now answers both questions.
        write_candidates(report, tiny_source)
        build_version(tiny_source, built_store, embedder, embedding_cache, BuildOptions(faq_threshold=0.5))
        handle.refresh()
        fresh = TestBot(engine, PLATFORM)
        shipping = await fresh.ask("do you ship to mongolia?")
        assert shipping.confident and shipping.text == "Yes: 7 to 10 days to Mongolia, €25."
        outlet = await fresh.ask("the jacket is too small, what now?")
        assert outlet.confident and outlet.text == RETURNS_ANSWER
    finally:
        await redis.aclose()


def test_report_command_prints_figures_and_exports(kb_env: Path, tmp_path: Path, redis_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert CliRunner().invoke(app, ["kb", "build"]).exit_code == 0
    out = tmp_path / "groups.csv"
    result = CliRunner().invoke(app, ["report", "--since", "1h", "--csv", str(out), "--candidates",
                                      str(tmp_path / "candidates")])
    assert result.exit_code == 0, result.output
    assert "Last 1 hour:" in result.output and "answered" in result.output
    assert out.read_text().startswith("rank,question,times_asked")
    bad = CliRunner().invoke(app, ["report", "--since", "a week"])
    assert bad.exit_code == 2 and "7d, 12h or 30m" in bad.output


def test_report_without_redis_says_so(kb_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    result = CliRunner().invoke(app, ["report"])
    assert result.exit_code == 1 and "not reachable" in result.output
