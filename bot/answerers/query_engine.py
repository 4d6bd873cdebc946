"""The answerers as LlamaIndex query engines, usable by the `Engine` as its `Answerer`.

- `AnswerQueryEngine`: a `BaseQueryEngine` that is also an `Answerer`. `answer(question, history)` runs
  `aquery` with a `ConversationQuery` (a `QueryBundle` that carries the conversation, which the fact
  answerer needs for follow-ups); the `Response` carries the bot's `Reply` in `metadata["reply"]`.
- `FactQueryEngine`: the extractive mode, the fact answerer (`FactAnswerer`) as a custom query engine.
- The LLM mode is `bot.answerers.llm.LLMQueryEngine`: HybridRetriever → ConfidencePostprocessor → a
  LlamaIndex LLM passed explicitly (`bot.app.wiring.llm_from_settings`), falling back to a `FactQueryEngine`.

`BaseQueryEngine` rather than `CustomQueryEngine`: the latter hands `custom_query` the query string only,
and the conversation would be lost.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llama_index.core.async_utils import asyncio_run
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.response.schema import RESPONSE_TYPE, Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.schema import NodeWithScore, QueryBundle

from bot.types import Answerer, Reply, Turn

if TYPE_CHECKING:
    from llama_index.core.llms import LLM


REPLY = "reply"  # Response.metadata key of the bot's Reply
OPENAI_LIKE = "llama_index.llms.openai_like:OpenAILike"
DEFAULT_CONTEXT_WINDOW = 128_000  # OpenAILike's metadata only; our prompts are a few thousand tokens


@dataclass
class ConversationQuery(QueryBundle):
    """A query bundle with the conversation so far (oldest first)."""

    history: tuple[Turn, ...] = ()


class AnswerQueryEngine(BaseQueryEngine):
    """A query engine whose Response carries a `Reply`; `answer` makes it an `Answerer`."""

    def __init__(self, callback_manager: CallbackManager | None = None) -> None:
        super().__init__(callback_manager)

    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        return reply_of(await self.aquery(ConversationQuery(question, history=history)))

    def _query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        """For scripts and notebooks; the bot itself only uses `aquery`."""
        response: RESPONSE_TYPE = asyncio_run(self._aquery(query_bundle))
        return response

    def _get_prompt_modules(self) -> PromptMixinType:
        return {}


class FactQueryEngine(AnswerQueryEngine):
    """The extractive (no-LLM) mode: the fact answerer behind LlamaIndex's query-engine interface."""

    def __init__(self, facts: Answerer, callback_manager: CallbackManager | None = None) -> None:
        super().__init__(callback_manager)
        self._facts = facts

    async def _aquery(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        return as_response(await self._facts.answer(query_bundle.query_str, history_of(query_bundle)))


def history_of(query_bundle: QueryBundle) -> tuple[Turn, ...]:
    return query_bundle.history if isinstance(query_bundle, ConversationQuery) else ()


def as_response(reply: Reply, nodes: list[NodeWithScore] | None = None) -> Response:
    """The Reply as a LlamaIndex Response: its text, the nodes given to the model (if any), the Reply itself."""
    return Response(reply.text, source_nodes=nodes or [], metadata={REPLY: reply})


def reply_of(response: RESPONSE_TYPE) -> Reply:
    reply = (getattr(response, "metadata", None) or {}).get(REPLY)
    if not isinstance(reply, Reply):
        raise TypeError(f"{type(response).__name__} carries no Reply: not from an AnswerQueryEngine")
    return reply


def load_llm_class(path: str) -> type[LLM]:
    """`package.module:Class` → the class, which must be a LlamaIndex LLM."""
    from llama_index.core.llms import LLM

    module_name, _, class_name = path.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"LLM_CLASS={path!r}: use module:Class, e.g. {OPENAI_LIKE}")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"LLM_CLASS={path!r} cannot be imported ({err}); is its package installed?") from None
    if not (isinstance(found, type) and issubclass(found, LLM)):
        raise ValueError(f"LLM_CLASS={path!r} is not a LlamaIndex LLM (llama_index.core.llms.LLM)")
    return found
