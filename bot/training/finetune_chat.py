"""A chat fine-tuning dataset from the store's own knowledge, and the OpenAI fine-tuning job around it.

Examples come from FAQ entries (question, alternates, past questions → the entry's answer), answers
shoppers rated 👍, and staff answers to questions the bot had declined. Each carries the bot's own
system prompt. The dataset is checked the way OpenAI checks it (roles, empty or over-long examples,
duplicates, a minimum count), with tokens counted by an offline copy of OpenAI's tokenizer.
"""

from __future__ import annotations

import functools
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI

from bot.answerers.llm import SYSTEM_PROMPT
from bot.store.activity import ACTIVITY_STREAM
from bot.store.feedback import FEEDBACK_STREAM
from bot.store.redis_keys import RedisClient, as_fields
from knowledge.sources.records import LoadedSources

MIN_EXAMPLES = 10  # OpenAI's minimum for a fine-tuning job
MAX_EXAMPLE_TOKENS = 65_536  # per example, for the gpt-4o(-mini) family
TOKENS_PER_MESSAGE = 3  # the chat format's overhead, as in OpenAI's cookbook counting
DEFAULT_EPOCHS = 3
JOB_FILE = "job.json"
_CITATION = re.compile(r"\s?\[\d+(?:\s*[,;]\s*\d+)*\]")  # [1], [1, 2]: no passages to cite without RAG


class DatasetError(ValueError):
    """The dataset cannot be used; the message says which example and why."""


@dataclass(frozen=True, slots=True)
class Prepared:
    train: Path
    validation: Path
    examples: int
    duplicates_dropped: int
    tokens: int  # in one pass over the training file
    estimated_cost: float  # tokens × epochs × price


def system_prompt(store_name: str) -> str:
    # The fine-tuned model learns the store's answers without passages; the rules stay the bot's own.
    return SYSTEM_PROMPT.format(store_name=store_name)


def examples_from(sources: LoadedSources, rated: list[tuple[str, str]], staff: list[tuple[str, str]],
                  store_name: str) -> list[dict[str, Any]]:
    """(question, answer) pairs as chat examples: FAQ entries, 👍-rated answers, staff answers."""
    pairs: list[tuple[str, str]] = []
    answers = {f.id: f.answer for f in sources.faqs}
    for entry in sources.faqs:
        pairs += [(q, entry.answer) for q in (entry.question, *entry.alternates)]
    pairs += [(p.question, answers[p.faq_id]) for p in sources.past_questions if p.faq_id in answers]
    pairs += rated + staff
    prompt = system_prompt(store_name)
    return [{"messages": [{"role": "system", "content": prompt}, {"role": "user", "content": q},
                          {"role": "assistant", "content": a}]} for q, a in pairs]


@functools.cache
def _encoding() -> Any:
    import bpe_openai

    return bpe_openai.get_encoding("o200k_base")  # ~16 ms to build: once per process, not per example


def count_tokens(example: dict[str, Any]) -> int:
    encoding = _encoding()
    return sum(TOKENS_PER_MESSAGE + len(encoding.encode(m["content"])) for m in example["messages"]) + 3


def validate(examples: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The examples without duplicates, and how many were dropped; DatasetError names a bad example."""
    seen: set[str] = set()
    kept = []
    for number, example in enumerate(examples, start=1):
        messages = example.get("messages")
        if not isinstance(messages, list) or not messages:
            raise DatasetError(f"example {number}: no messages")
        for message in messages:
            if message.get("role") not in ("system", "user", "assistant"):
                raise DatasetError(f"example {number}: unknown role {message.get('role')!r}")
            if not isinstance(message.get("content"), str) or not message["content"].strip():
                raise DatasetError(f"example {number}: empty {message.get('role')} message")
        if messages[-1]["role"] != "assistant":
            raise DatasetError(f"example {number}: the last message must be the assistant's answer")
        if count_tokens(example) > MAX_EXAMPLE_TOKENS:
            raise DatasetError(f"example {number}: over {MAX_EXAMPLE_TOKENS:,} tokens")
        key = json.dumps(messages[1:], sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(example)
    if len(kept) < MIN_EXAMPLES:
        raise DatasetError(f"need at least {MIN_EXAMPLES} distinct examples to fine-tune, got {len(kept)}")
    return kept, len(examples) - len(kept)


def prepare(examples: list[dict[str, Any]], out: Path, price_per_m_tokens: float,
            epochs: int = DEFAULT_EPOCHS, validation_share: float = 0.1, seed: int = 0) -> Prepared:
    kept, dropped = validate(examples)
    random.Random(seed).shuffle(kept)
    held = max(1, int(len(kept) * validation_share))
    out.mkdir(parents=True, exist_ok=True)
    train, validation = out / "train.jsonl", out / "validation.jsonl"
    for path, rows in ((train, kept[held:]), (validation, kept[:held])):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tokens = sum(count_tokens(r) for r in kept[held:])
    return Prepared(train, validation, len(kept), dropped, tokens, tokens * epochs * price_per_m_tokens / 1e6)


async def start_job(client: AsyncOpenAI, directory: Path, base_model: str, epochs: int = DEFAULT_EPOCHS) -> str:
    """Uploads the prepared files and creates the job; its id is kept in `directory/job.json`."""
    with (directory / "train.jsonl").open("rb") as train, (directory / "validation.jsonl").open("rb") as held:
        train_file = await client.files.create(file=train, purpose="fine-tune")
        validation_file = await client.files.create(file=held, purpose="fine-tune")
    job = await client.fine_tuning.jobs.create(
        model=base_model, training_file=train_file.id, validation_file=validation_file.id, suffix="storebot",
        hyperparameters={"n_epochs": epochs},
    )
    (directory / JOB_FILE).write_text(json.dumps({"job": job.id, "base_model": base_model}), encoding="utf-8")
    return job.id


def job_id(directory: Path) -> str:
    path = directory / JOB_FILE
    if not path.is_file():
        raise DatasetError(f"no fine-tuning job started from {directory} (run `storebot finetune chat start`)")
    return str(json.loads(path.read_text(encoding="utf-8"))["job"])


@dataclass(frozen=True, slots=True)
class JobStatus:
    id: str
    status: str
    fine_tuned_model: str | None
    events: tuple[str, ...]  # oldest first
    error: str = ""


async def job_status(client: AsyncOpenAI, job: str) -> JobStatus:
    found = await client.fine_tuning.jobs.retrieve(job)
    events = await client.fine_tuning.jobs.list_events(job, limit=20)
    error = found.error.message if found.error and found.error.message else ""
    return JobStatus(found.id, found.status, found.fine_tuned_model,
                     tuple(e.message for e in reversed(events.data)), error)


def use_model(env_file: Path, model: str) -> None:
    """Records LLM_MODEL in the .env file (replacing an earlier value), so `llm` mode answers with it."""
    lines = env_file.read_text(encoding="utf-8").splitlines() if env_file.exists() else []
    lines = [line for line in lines if not line.startswith("LLM_MODEL=")] + [f"LLM_MODEL={model}"]
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def rated_and_staff_answers(redis: RedisClient) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(question, answer) pairs shoppers rated 👍, and staff answers to questions the bot declined."""
    feedback: Any = await redis.xrange(FEEDBACK_STREAM)
    activity: Any = await redis.xrange(ACTIVITY_STREAM)
    rated = []
    for _, raw in feedback:
        entry = as_fields(raw)
        if entry.get("rating") == "up" and entry.get("question") and entry.get("answer"):
            rated.append((entry["question"], _CITATION.sub("", entry["answer"]).strip()))
    staff = []
    for _, raw in activity:
        entry = as_fields(raw)
        if entry.get("kind") == "resolved" and entry.get("question") and entry.get("staff_answer"):
            staff.append((entry["question"], entry["staff_answer"]))
    return rated, staff
