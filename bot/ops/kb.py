"""Knowledge-base operations for ops, from Slack or the shell: status, reload, rollback, audit.

A reload builds the new version in a worker thread (answers keep flowing on the old one), then
announces it over Redis so every serving process swaps. One build at a time across all processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from redis.exceptions import RedisError

from bot.ops.reload import announce
from bot.store.redis_keys import PREFIX, RedisClient
from knowledge.index.builder import BuildOptions, BuildRefused, Gate, build_version
from knowledge.index.embedding import Embedder, EmbeddingCache
from knowledge.index.live import IndexHandle
from knowledge.index.versions import Manifest, VersionStore
from knowledge.sources.records import SourceError

AUDIT_STREAM = f"{PREFIX}:ops:audit"
BUILD_LOCK = f"{PREFIX}:kb:building"
AUDIT_KEEP = 10_000
log = logging.getLogger(__name__)

Progress = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class KbStatus:
    version: str
    built_at: str
    embedding_model: str
    counts: dict[str, int]
    sources: int
    versions_kept: tuple[str, ...]
    serving: str | None  # the version this process answers from


@dataclass(frozen=True, slots=True)
class ReloadResult:
    ok: bool
    version: str | None  # the new live version; on failure the one that keeps serving
    seconds: float
    counts: dict[str, int]
    changed: tuple[str, ...]  # "added faq/gift.csv", "changed faq/faq.csv", "removed ..."
    error: str = ""  # file:line: message
    processes_told: int = 0
    tested: str = ""  # what the conversation tests said, when the reload was gated by them


@dataclass(frozen=True, slots=True)
class RollbackResult:
    ok: bool
    version: str | None
    error: str = ""
    processes_told: int = 0


class KnowledgeOps:
    def __init__(self, store: VersionStore, source_dir: Path, embedder: Callable[[], Embedder], cache_path: Path,
                 options: BuildOptions, redis: RedisClient | None, handle: IndexHandle | None = None,
                 progress_every_s: float = 2.0) -> None:
        self._store = store
        self._source_dir = source_dir
        self._embedder = embedder  # a factory: rollback and status never load a model
        self._cache_path = cache_path
        self._options = options
        self._redis = redis
        self._handle = handle
        self._progress_every = progress_every_s
        self._local_build = asyncio.Lock()

    async def status(self) -> KbStatus | None:
        current = self._store.current()
        if current is None:
            return None
        manifest = await asyncio.to_thread(Manifest.read, self._store.path(current))
        serving = self._handle.version if self._handle else None
        return KbStatus(manifest.version, manifest.built_at, manifest.embedding_model, dict(manifest.counts),
                        len(manifest.sources), tuple(self._store.versions()), serving)

    async def audit(self, platform: str, user: str, action: str, allowed: bool) -> None:
        """Who tried what, when: to the log always, and to a capped Redis stream when there is one."""
        at = datetime.now(UTC).isoformat(timespec="seconds")
        log.info("ops %s by %s:%s at %s: %s", action, platform, user, at, "allowed" if allowed else "refused")
        if self._redis is not None:
            entry = {"at": at, "platform": platform, "user": user, "action": action, "allowed": int(allowed)}
            await self._redis.xadd(AUDIT_STREAM, entry, maxlen=AUDIT_KEEP, approximate=True)  # type: ignore[arg-type]

    async def reload(self, progress: Progress | None = None, gate: Gate | None = None) -> ReloadResult:
        """Build from the sources and make the result live everywhere; on a bad source, or a version the
        `gate` refuses (e.g. failing the store's conversation tests), nothing changes."""
        started = time.perf_counter()
        lock = self._redis.lock(BUILD_LOCK, timeout=3600) if self._redis is not None else None
        if self._local_build.locked() or (lock is not None and not await lock.acquire(blocking=False)):
            return ReloadResult(False, self._store.current(), 0.0, {}, (), "another reload is already running")
        async with self._local_build:
            try:
                return await self._reload(started, progress, gate)
            finally:
                if lock is not None:
                    with contextlib.suppress(RedisError):
                        await lock.release()

    async def _reload(self, started: float, progress: Progress | None, gate: Gate | None) -> ReloadResult:
        previous = self._store.current()
        stage = ["loading sources"]

        def on_progress(name: str, done: int, total: int) -> None:  # called from the build thread
            stage[0] = f"{name} {done:,}/{total:,}" if total else name

        build = asyncio.create_task(asyncio.to_thread(self._build, on_progress, gate))
        while progress is not None and not build.done():
            await asyncio.wait({build}, timeout=self._progress_every)
            if not build.done():
                try:
                    await progress(stage[0])
                except Exception:  # progress is a courtesy; the build and its locks run to the end regardless
                    log.exception("could not report reload progress")
        try:
            manifest = await build
        except (SourceError, BuildRefused) as err:
            return ReloadResult(False, previous, time.perf_counter() - started, {}, (), str(err))
        told = await self._announce(manifest.version)
        return ReloadResult(True, manifest.version, time.perf_counter() - started, dict(manifest.counts),
                            self._changes(previous, manifest), processes_told=told)

    def _build(self, on_progress: Callable[[str, int, int], None], gate: Gate | None) -> Manifest:
        cache = EmbeddingCache(self._cache_path)
        try:
            return build_version(self._source_dir, self._store, self._embedder(), cache, self._options, on_progress,
                                 gate)
        finally:
            cache.close()

    async def rollback(self) -> RollbackResult:
        """The version before the live one, made live; refused while a reload is building (the build
        would make its own version live when it finishes)."""
        lock = self._redis.lock(BUILD_LOCK, timeout=60) if self._redis is not None else None
        if self._local_build.locked() or (lock is not None and not await lock.acquire(blocking=False)):
            return RollbackResult(False, self._store.current(), "a reload is running; roll back after it")
        try:
            version = await asyncio.to_thread(self._store.rollback)
        except LookupError as err:
            return RollbackResult(False, self._store.current(), str(err))
        finally:
            if lock is not None:
                with contextlib.suppress(RedisError):
                    await lock.release()
        return RollbackResult(True, version, processes_told=await self._announce(version))

    async def _announce(self, version: str) -> int:
        if self._redis is None:
            if self._handle is not None:
                await asyncio.to_thread(self._handle.refresh)
            return 0
        return await announce(self._redis, version)

    def _changes(self, previous: str | None, manifest: Manifest) -> tuple[str, ...]:
        old: dict[str, str] = {}
        if previous is not None and self._store.path(previous).is_dir():
            old = {s["path"]: s["sha256"] for s in Manifest.read(self._store.path(previous)).sources}
        new = {s["path"]: s["sha256"] for s in manifest.sources}
        changes = [f"added {p}" for p in new if p not in old]
        changes += [f"changed {p}" for p in new if p in old and old[p] != new[p]]
        changes += [f"removed {p}" for p in old if p not in new]
        return tuple(sorted(changes, key=lambda c: c.split(" ", 1)[1]))


def audit_entries(raw: list[tuple[bytes, dict[bytes, bytes]]]) -> list[dict[str, str]]:
    """Decodes XRANGE output of the audit stream (for reports and tests)."""
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in raw]


def describe_reload(result: ReloadResult) -> str:
    """Plain text a person reads: counts, changed sources and time; or the error and what still serves."""
    if not result.ok:
        return (f"Reload failed: {result.error}\nThe old version keeps serving: {result.version or 'none yet'}.")
    counts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in result.counts.items())
    changed = "; ".join(result.changed) if result.changed else "no source changed"
    tested = f"\nTested: {result.tested}." if result.tested else ""
    return (f"Reloaded in {result.seconds:.1f}s: version {result.version} is live ({counts}).\n"
            f"Sources: {changed}.\nAnnounced to {result.processes_told} running process(es).{tested}")


def describe_status(status: KbStatus | None) -> str:
    if status is None:
        return "No knowledge base has been built yet."
    counts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in status.counts.items())
    return (f"Live version {status.version}, built {status.built_at} with {status.embedding_model}: {counts} "
            f"from {status.sources} source file(s). Versions kept: {len(status.versions_kept)}."
            + (f" This process serves {status.serving}." if status.serving else ""))


def describe_rollback(result: RollbackResult) -> str:
    if not result.ok:
        return f"Rollback refused: {result.error}. The live version stays {result.version or 'none'}."
    return f"Rolled back: version {result.version} is live; announced to {result.processes_told} process(es)."

