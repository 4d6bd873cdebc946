"""Reload and rollback as ops run them: one build at a time, progress that fails, rollback during a build."""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis

from bot.ops.kb import KnowledgeOps
from knowledge.index.builder import BuildOptions
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.versions import VersionStore
from tests.conftest import write_tree


async def test_failing_progress_does_not_end_the_reload_and_rollback_waits_for_the_build(
    built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder, redis_url: str,
    tmp_path: Path,
) -> None:
    redis = Redis.from_url(redis_url)
    ops = KnowledgeOps(built_store, tiny_source, lambda: embedder, tmp_path / "cache.sqlite", BuildOptions(), redis,
                       progress_every_s=0.01)
    write_tree(tiny_source, {"faq/gift.csv": "id,question,answer\ngift_cards,Do you sell gift cards?,Yes.\n"})
    progressed = asyncio.Event()

    async def broken_progress(stage: str) -> None:  # e.g. the Slack status message was deleted
        progressed.set()
        raise RuntimeError("message_not_found")

    try:
        before = built_store.current()
        reload = asyncio.create_task(ops.reload(broken_progress))
        await asyncio.wait_for(progressed.wait(), 30)
        busy = await ops.rollback()
        assert not busy.ok and "reload is running" in busy.error
        second = await ops.reload()
        assert not second.ok and "already running" in second.error
        result = await reload
        assert result.ok and result.version != before and built_store.current() == result.version
        assert "added faq/gift.csv" in result.changed
        rolled = await ops.rollback()  # once the build is over, rollback works
        assert rolled.ok and rolled.version == before
    finally:
        await redis.aclose()
