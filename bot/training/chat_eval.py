"""Chat-model answer modes on store-faq, for `storebot eval compare` when a chat endpoint is configured.

RAG modes answer through the bot's own OpenAIAnswerer; the FAQ entry an answer stands for is the one
it cites. The fine-tuned model alone cites nothing, so its answer is matched to the FAQ answer it is
closest to (embedding cosine ≥ SAME_ANSWER). Token usage is read from the API's responses, and the
cost is computed from the configured prices.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from openai import AsyncOpenAI, DefaultAsyncHttpxClient

from bot.answerers.llm import OpenAIAnswerer, reply_from
from bot.training.finetune_chat import system_prompt
from bot.types import Answerer, PassageSearch, Reply, Turn
from knowledge.index.embedding import Embedder
from knowledge.index.retrieval import Passage

SAME_ANSWER = 0.8


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    async def record(self, response: Any) -> None:  # the openai client's httpx Response
        if response.request.url.path.endswith("/chat/completions") and response.status_code == 200:
            await response.aread()
            usage = json.loads(response.content).get("usage") or {}
            self.prompt_tokens += int(usage.get("prompt_tokens", 0))
            self.completion_tokens += int(usage.get("completion_tokens", 0))
            self.calls += 1


def metered_client(api_key: str, base_url: str | None, usage: Usage) -> AsyncOpenAI:
    http = DefaultAsyncHttpxClient(event_hooks={"response": [usage.record]})
    return AsyncOpenAI(api_key=api_key or "unset", base_url=base_url, max_retries=1, http_client=http)


class FineTunedAlone:
    """The fine-tuned chat model with the bot's system prompt and the question only: no passages."""

    def __init__(self, client: AsyncOpenAI, model: str, store_name: str) -> None:
        self._client = client
        self._model = model
        self._prompt = system_prompt(store_name)

    async def answer(self, question: str, history: tuple[Turn, ...] = ()) -> Reply:
        completion = await self._client.chat.completions.create(
            model=self._model, temperature=0,
            messages=[{"role": "system", "content": self._prompt}, {"role": "user", "content": question}])
        text = (completion.choices[0].message.content or "").strip() if completion.choices else ""
        return reply_from(text, []) if text else Reply("", confident=False, mode="llm")


def rag(client: AsyncOpenAI, model: str, search: PassageSearch, fallback: Answerer, store_name: str) -> OpenAIAnswerer:
    return OpenAIAnswerer(client, model, search, fallback, 30.0, store_name)


def cited_faq(reply: Reply) -> str | None:
    for citation in reply.citations:
        if citation.source_id.startswith("faq:"):
            return citation.source_id.removeprefix("faq:")
    return None


def closest_faq(embedder: Embedder, faq_answers: dict[str, str]) -> Callable[[Reply], str | None]:
    ids = list(faq_answers)
    vectors = np.asarray(embedder.embed([faq_answers[i] for i in ids]))

    def judge(reply: Reply) -> str | None:
        if not reply.text:
            return None
        similarities = vectors @ np.asarray(embedder.embed([reply.text]))[0]
        best = int(np.argmax(similarities))
        return ids[best] if float(similarities[best]) >= SAME_ANSWER else None

    return judge


Question = tuple[str, Any]  # the text asked, and what a right answer must match (falsy: nothing covers it)


def store_faq_questions(data_dir: Path) -> list[Question]:
    with (data_dir / "queries.csv").open(newline="", encoding="utf-8") as f:
        return [(row["query"], row["expected_id"].strip()) for row in csv.DictReader(f)]


def product_qa_questions(data_dir: Path) -> list[Question]:
    """As the eval README prescribes: product title and question together; right = a relevant passage."""
    with (data_dir / "passages.jsonl").open(encoding="utf-8") as f:
        texts = {row["id"]: row["text"] for row in map(json.loads, f)}
    with (data_dir / "queries.jsonl").open(encoding="utf-8") as f:
        queries = [json.loads(line) for line in f if line.strip()]
    return [(f"{q['title']}: {q['question']}", tuple(texts[i] for i in q["relevant"] if i in texts)) for q in queries]


class RecordingSearch:
    """Passes searches through and keeps the passages it returned, to read what an answer cites."""

    def __init__(self, search: PassageSearch) -> None:
        self._search = search
        self.seen: dict[str, Passage] = {}

    async def asearch(self, query: str, top_k: int = 5) -> list[Passage]:
        passages = await self._search.asearch(query, top_k)
        self.seen.update((p.node_id, p) for p in passages)
        return passages

    def cites_relevant(self, reply: Reply, relevant: tuple[str, ...]) -> bool:
        first = self.seen.get(reply.citations[0].source_id) if reply.citations else None
        return first is not None and any(text in first.text for text in relevant)


async def evaluate_answers(answer: Callable[[str], Awaitable[Reply]], is_right: Callable[[Reply, Any], bool],
                           questions: list[Question], usage: Usage, price_in: float, price_out: float,
                           limit: int | None = None) -> dict[str, float]:
    """Shares answered correctly / wrongly / declined, p50 latency, and cost per 1,000 questions."""
    questions = questions[:limit]
    correct = wrong = declined = 0
    latencies = []
    before = (usage.prompt_tokens, usage.completion_tokens)
    for question, expected in questions:
        started = time.perf_counter()
        reply = await answer(question)
        latencies.append((time.perf_counter() - started) * 1000)
        if not reply.confident:
            declined += 1
        elif expected and is_right(reply, expected):
            correct += 1
        else:
            wrong += 1
    total = len(questions) or 1
    tokens_in, tokens_out = usage.prompt_tokens - before[0], usage.completion_tokens - before[1]
    cost = (tokens_in * price_in + tokens_out * price_out) / 1e6 / total * 1000
    return {"answered_correctly": correct / total, "answered_wrongly": wrong / total, "declined": declined / total,
            "p50_ms": statistics.median(latencies) if latencies else 0.0, "cost_per_1000": cost,
            "questions": float(len(questions))}
