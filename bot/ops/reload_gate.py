"""`kb reload --test FILE`: the store owner's conversation tests run on a new version before it goes live.

The candidate is refused (and the live version keeps serving) when its pass rate is below `min_pass` or
below the live version's on the same tests, in the same run. Both run in-process (no Redis, no handoffs):
only the answers are compared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from bot.answerers.facts import FactAnswerer
from bot.engine import Engine, StoreInfo
from bot.ops.conversation_spec import Spec
from bot.ops.conversation_tests import RunResult, run_spec
from bot.store.local import LocalState
from knowledge.index.builder import BuildRefused
from knowledge.index.embedding import Embedder
from knowledge.index.live import IndexHandle
from knowledge.index.retrieval import HybridRetriever
from knowledge.index.versions import Manifest, VersionStore

TEST_RATE_LIMIT = 1_000_000  # conversation tests are one shopper asking fast


@dataclass(frozen=True, slots=True)
class GateVerdict:
    candidate: float  # pass rate of the new version
    live: float | None  # of the live version, same tests, same run; None when nothing is live yet
    turns: int

    def describe(self) -> str:
        live = f"; the live version passes {self.live:.1%}" if self.live is not None else ""
        return f"conversation tests ({self.turns} turns): the new version passes {self.candidate:.1%}{live}"


def conversation_gate(spec: Spec, store: VersionStore, embedder: Embedder, min_pass: float, store_name: str,
                      verdicts: list[GateVerdict]) -> Callable[[str, Manifest], None]:
    """A build gate (called in the build thread with the staged version): raises BuildRefused to discard it."""

    def gate(staged: str, manifest: Manifest) -> None:
        live = store.current()
        candidate = _pass_rate(spec, store, staged, embedder, store_name)
        before = _pass_rate(spec, store, live, embedder, store_name) if live is not None else None
        verdict = GateVerdict(candidate.summary.overall.pass_rate,
                              before.summary.overall.pass_rate if before is not None else None, len(candidate.turns))
        verdicts.append(verdict)
        if verdict.candidate < min_pass:
            raise BuildRefused(f"{verdict.describe()}, below --min-pass {min_pass:.1%}")
        if verdict.live is not None and verdict.candidate < verdict.live:
            raise BuildRefused(f"{verdict.describe()}: the new version would answer worse")

    return gate


def _pass_rate(spec: Spec, store: VersionStore, version: str, embedder: Embedder, store_name: str) -> RunResult:
    handle = IndexHandle(store, embedder.model_id)
    handle.pin(version)
    engine = Engine(LocalState(64, TEST_RATE_LIMIT), FactAnswerer(HybridRetriever(handle, embedder), store_name),
                    StoreInfo(store_name, ""))
    # The build runs in a worker thread: the tests get an event loop of their own there.
    return asyncio.run(run_spec(engine, spec, forget=False))
