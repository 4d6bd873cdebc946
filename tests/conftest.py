"""Shared fixtures: the real bundled embedding model and tiny knowledge bases on disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from llama_index.core import Settings as LlamaSettings
from redis import Redis as SyncRedis
from redis.exceptions import RedisError

from bot.app.settings import load_settings
from bot.store.connect import connect
from bot.store.redis_keys import RedisClient
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder, default_onnx_cache
from knowledge.index.versions import VersionStore
from tests.redis_server import LocalCluster, LocalSentinel, RedisServer, free_port
from tests.testbot import WholeBot, build_kb, testbot_settings, whole_bot

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Every test's fresh KB_DATA_DIR would otherwise export the bundled model to ONNX again (seconds each).
os.environ.setdefault("EMBED_ONNX_DIR", str(default_onnx_cache()))

TINY_FAQ = """id,question,answer,alternates
shipping_cost,How much does shipping cost?,"Shipping is free over €60; otherwise €4.90.",delivery fees|is shipping free
return_policy,Can I return an item?,"Yes, within 30 days of delivery, unworn and with tags.",how do returns work|refund
payment_methods,Which payment methods do you accept?,"Visa, Mastercard, PayPal and Klarna.",can I pay with paypal
"""
TINY_PAST = """question,faq_id
how much is delivery to germany,shipping_cost
i want to send my boots back,return_policy
do u take apple pay,payment_methods
"""
TINY_PRODUCT = """---
sku: TENT-2P
title: Summit Pro 2-person tent
price: "349.00"
url: https://shop.example/p/tent-2p
---
# Summit Pro 2-person tent

A freestanding four-season tent weighing 2.1 kg, with aluminium poles and a 20,000 mm waterproof fly.
"""
TINY_FILES = {"faq/faq.csv": TINY_FAQ, "past_questions/past.csv": TINY_PAST, "products/tent.md": TINY_PRODUCT}


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def tiny_source(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "source", dict(TINY_FILES))


@pytest.fixture
def kb_env(tiny_source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings pointing the CLI at the tiny source and a fresh data directory."""
    monkeypatch.setenv("KB_SOURCE_DIR", str(tiny_source))
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "kb"))
    monkeypatch.chdir(tmp_path)
    return tiny_source


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture
def embedding_cache(tmp_path: Path) -> EmbeddingCache:
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    yield cache  # type: ignore[misc]
    cache.close()


@pytest.fixture(scope="session")
def single_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's Redis: REDIS_URL (as `make test` sets it), or else a throwaway redis-server of its own."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("REDIS_URL is not set and redis-server is not found: run the tests with `make test`, "
                    "or install redis-server (Debian: apt-get install redis-server)")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path_factory.mktemp("redis"))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        with SyncRedis.from_url(url) as client:
            for _ in range(100):
                try:
                    if client.ping():
                        break
                except RedisError:
                    time.sleep(0.05)
            else:
                pytest.fail(f"the throwaway redis-server on port {port} did not start")
        yield url
    finally:
        server.kill()
        server.wait()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis Cluster: REDIS_CLUSTER_URL (scripts/test.sh starts one), or else a throwaway one of its own."""
    url = os.environ.get("REDIS_CLUSTER_URL")
    if url:
        yield url
        return
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Sentinel's master: REDIS_SENTINEL_URL (scripts/test.sh starts one), or else a throwaway one."""
    url = os.environ.get("REDIS_SENTINEL_URL")
    if url:
        yield url
        return
    sentinel = LocalSentinel(tmp_path_factory.mktemp("sentinel"))
    try:
        yield sentinel.start()
    finally:
        sentinel.stop()


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """The Redis a test runs on: the session's one server, unless the test is marked `on_redis(kind…)`
    (tests/redis_server.py) to run on the cluster or the Sentinel's master as well."""
    kind = getattr(request, "param", "single")
    return str(request.getfixturevalue({"single": "single_redis_url", "cluster": "redis_cluster_url",
                                        "sentinel": "redis_sentinel_url"}[kind]))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    """A client of the real test Redis (tests that need other settings make their own)."""
    client = connect(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def built_store(tiny_source: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder,
                embedding_cache: EmbeddingCache) -> VersionStore:
    from knowledge.index.builder import BuildOptions, build_version

    store = VersionStore(tmp_path / "kb")
    build_version(tiny_source, store, embedder, embedding_cache, BuildOptions(faq_threshold=0.5))
    return store


@pytest.fixture
def no_global_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """LlamaIndex's global Settings must be neither read nor set: `llm=` is always passed explicitly."""
    def refuse(self: object, *args: object) -> None:
        pytest.fail("LlamaIndex's global Settings.llm / Settings.embed_model was used")

    for name in ("llm", "embed_model"):
        monkeypatch.setattr(type(LlamaSettings), name, property(refuse, refuse))
    yield
    assert LlamaSettings._llm is None and LlamaSettings._embed_model is None


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A redis-server of the test's own, which it may stop and start again."""
    server = RedisServer(tmp_path / "redis")
    await server.start()
    yield server
    await server.stop()


# The whole bot (tests/testbot.py), wired as `storebot serve` wires it, over a tiny knowledge base.

MakeTestBot = Callable[..., Awaitable[WholeBot]]


@pytest.fixture(scope="session")
def testbot_kb(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The tiny knowledge base (the files of `tiny_source`) built once per session as `storebot kb build` builds
    it; its settings. Tests must not reload or roll it back: every whole test bot of the session serves it."""
    root = tmp_path_factory.mktemp("testbot")
    kb: dict[str, object] = {
        "kb_source_dir": write_tree(root / "source", dict(TINY_FILES)),
        "kb_data_dir": root / "kb",
        "kb_faq_threshold": 0.5,  # as `built_store`
    }
    build_kb(load_settings(**kb))
    return kb


@pytest.fixture
async def make_testbot(redis_url: str, testbot_kb: dict[str, object]) -> AsyncIterator[MakeTestBot]:
    """`await make_testbot(**overrides)`: a whole bot on the session's Redis and tiny knowledge base, with a
    fresh conversation and user, its settings changed by `overrides` (e.g. handoff_to="slack",
    ops_user_ids="UOPS"); also `platform=` and `allow_local_state=` (`storebot chat`'s fallback when Redis
    is unreachable). Every bot made is shut down when the test ends."""
    async with AsyncExitStack() as stack:
        async def make(platform: str = "console", allow_local_state: bool = False, **overrides: object) -> WholeBot:
            settings = testbot_settings(**({"redis_url": redis_url} | testbot_kb | overrides))
            return await stack.enter_async_context(whole_bot(settings, platform, allow_local_state))

        yield make


@pytest.fixture
async def testbot(make_testbot: MakeTestBot) -> WholeBot:
    """The whole bot with the Test Shop's settings, on the session's Redis and tiny knowledge base."""
    return await make_testbot()
