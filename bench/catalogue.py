"""Shared bench set-up: the product-qa catalogue built into a throwaway live index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from redis.asyncio import Redis

from knowledge.eval.evaluation import stage_product_qa
from knowledge.index.builder import build_version
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.versions import VersionStore


def product_qa_questions(eval_dir: Path) -> list[str]:
    """The shopper's query as the eval README prescribes: product title and question together."""
    with (eval_dir / "product-qa" / "queries.jsonl").open(encoding="utf-8") as lines:
        return [f"{q['title']}: {q['question']}" for q in map(json.loads, lines)]


def product_qa_index(eval_dir: Path, work: Path, embedder: SentenceTransformerEmbedder) -> IndexHandle:
    store = VersionStore(work / "kb")
    cache = EmbeddingCache(work / "cache.sqlite")
    try:
        build_version(stage_product_qa(eval_dir / "product-qa", work / "src"), store, embedder, cache)
    finally:
        cache.close()
    handle = IndexHandle(store)
    handle.refresh()
    return handle


async def clean_up(redis: Redis, platform: str, work: Path) -> None:
    """Removes the bench's Redis keys (all namespaced by platform) and its work directory."""
    async for key in redis.scan_iter(match=f"storebot:*:{platform}:*"):
        await redis.delete(key)
    await redis.aclose()
    shutil.rmtree(work, ignore_errors=True)
