"""The confidence thresholds as a LlamaIndex node postprocessor.

Each knowledge-base version is calibrated at build time: `manifest.thresholds` holds, per kind of
passage ("faq", "product", "page"), the cosine a question must reach before a passage of that kind is
trusted. `ConfidencePostprocessor` drops the retrieved nodes below their kind's threshold in the live
version (a kind the version has no threshold for is never trusted, as in `HybridRetriever.search`).

It drops rather than marks: whatever comes after it in a LlamaIndex pipeline (a synthesiser, our LLM
query engine) uses every node it is handed, so a mark would have to be honoured by each consumer,
and one that forgot would put a passage the bot does not trust in front of the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from llama_index.core.bridge.pydantic import Field
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from knowledge.index.retrieval import KIND, SIMILARITY

Thresholds = Callable[[], Mapping[str, float]]


class ConfidencePostprocessor(BaseNodePostprocessor):
    """Keeps the nodes whose `similarity` reaches the live version's threshold for their `kind`."""

    thresholds: Thresholds = Field(
        description="The live version's per-kind thresholds, read once per call (e.g. "
                    "`lambda: retriever.live.manifest.thresholds`).",
        exclude=True,
    )

    @classmethod
    def class_name(cls) -> str:
        return "ConfidencePostprocessor"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        thresholds = self.thresholds()  # once: every node is judged against one version's calibration
        return [n for n in nodes if confident(n, thresholds)]

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return self._postprocess_nodes(nodes, query_bundle)  # microseconds: no thread hop


def confident(node: NodeWithScore, thresholds: Mapping[str, float]) -> bool:
    meta = node.node.metadata
    similarity = meta.get(SIMILARITY)
    if not isinstance(similarity, int | float):
        return False  # not from HybridRetriever: nothing to judge it by
    return float(similarity) >= thresholds.get(str(meta.get(KIND, "product")), 1.0)
