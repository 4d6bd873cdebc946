"""A reload announced over Redis reaches every running process; each swaps its live index."""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis

from bot.reload import CURRENT_KEY, announce, follow_reloads
from bot.tasks import cancel_and_wait
from knowledge.builder import build_version
from knowledge.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.live import IndexHandle
from knowledge.retrieval import HybridRetriever
from knowledge.versions import VersionStore
from tests.conftest import write_tree


async def test_every_process_swaps_to_the_announced_version(
    built_store: VersionStore, tiny_source: Path, embedder: SentenceTransformerEmbedder,
    embedding_cache: EmbeddingCache, redis_url: str,
) -> None:
    redis = Redis.from_url(redis_url)
    handles = [IndexHandle(VersionStore(built_store.root)) for _ in range(2)]  # e.g. Telegram and Slack processes
    ready = [asyncio.Event() for _ in handles]
    clients = [Redis.from_url(redis_url) for _ in handles]
    listeners = [asyncio.create_task(follow_reloads(c, h, r)) for c, h, r in zip(clients, handles, ready, strict=True)]
    try:
        await asyncio.gather(*(r.wait() for r in ready))
        old = built_store.current()
        assert all(h.version == old for h in handles)
        in_flight = handles[0].live
        write_tree(tiny_source, {"faq/gift.csv": "id,question,answer\ngift_cards,Do you sell gift cards?,"
                                                 "Yes: digital gift cards from €10 to €500.\n"})
        new = (await asyncio.to_thread(build_version, tiny_source, built_store, embedder, embedding_cache)).version
        assert await announce(redis, new) >= 2
        for _ in range(100):
            if all(h.version == new for h in handles):
                break
            await asyncio.sleep(0.05)
        assert all(h.version == new for h in handles)
        assert await redis.get(CURRENT_KEY) == new.encode()
        assert in_flight.manifest.version == old  # a question in flight keeps its version
        top = (await HybridRetriever(handles[1], embedder).asearch("can I buy a gift card?", 1))[0]
        assert top.metadata["faq_id"] == "gift_cards"
    finally:
        await cancel_and_wait(*listeners)
        for client in [redis, *clients]:
            await client.aclose()
