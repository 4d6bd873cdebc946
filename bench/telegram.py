"""Telegram through python-telegram-bot and a local Bot API stand-in: update in → sendMessage out.

    REDIS_URL=redis://127.0.0.1:6379/0 python -m bench.telegram [EVAL_DIR]

50 concurrent shoppers over the product-qa catalogue, polling and webhook; with PTB's flood-limit rate
limiter (Telegram allows about 30 API calls/s per bot) and without it (what the process itself can do).
Two ways of asking:
- closed loop: each shopper sends its next question the moment the previous answer arrived. With the
  limiter on, 50 shoppers and ~30 calls/s bound latency below by ~50/30 ≈ 1.7 s whatever the bot does.
- think time: each shopper first reads (waits 2–6 s, uniformly random, seeded) before every question, as
  people do, so arrivals stay under the flood limit; latency is then the bot's own.
Every row also reports the Bot API calls per answer the stand-in counted for the shoppers' chats
(sendMessage, plus sendChatAction when an answer was slow enough to show "typing…"). Each configuration
runs without and with the journal (`bot/store/journal.py`: every update taken into Redis before it is
answered, answered in its chat's turn, marked done once sent), as `storebot serve` runs it with Redis: the
journal's cost, side by side in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np
from redis.asyncio import Redis

from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.settings import TelegramSettings
from bench.catalogue import clean_up, product_qa_index, product_qa_questions
from bot.answerers.facts import FactAnswerer
from bot.engine import Engine, StoreInfo
from bot.store.journal import Journal
from bot.store.memory import RedisState
from knowledge.index.embedding import SentenceTransformerEmbedder
from knowledge.index.retrieval import HybridRetriever
from tests.telegram_standin import BotApiStandIn, text_update

SHOPPERS = 50
MESSAGES_EACH = 6
SECRET = "bench-secret"
THINK_S = (2.0, 6.0)  # a person reading an answer before asking again
SEED = 13


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _run(engine: Engine, questions: list[str], webhook: bool, flood_limits: bool,
               think_s: tuple[float, float] | None, journal: Journal | None) -> str:
    stand_in = BotApiStandIn()
    await stand_in.start()
    port = _free_port()
    settings = TelegramSettings(bot_token="123:BENCH", api_base_url=stand_in.base_url, flood_limits=flood_limits)
    if webhook:
        settings = settings.model_copy(update={"webhook_url": "https://bot.example/tg", "webhook_secret": SECRET,
                                               "webhook_port": port, "webhook_path": "tg"})
    adapter = TelegramAdapter(settings)
    await adapter.start(engine, journal=journal)
    latencies: list[float] = []
    next_id = random.randrange(10**8, 10**9)
    session = aiohttp.ClientSession()

    async def deliver(update: dict[str, object]) -> None:
        if webhook:
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
            async with session.post(f"http://127.0.0.1:{port}/tg", data=json.dumps(update), headers=headers) as r:
                r.raise_for_status()
        else:
            stand_in.push_update(update)

    async def shopper(number: int) -> None:
        nonlocal next_id
        chat = 10_000 + number
        thinking = random.Random(SEED * 1000 + number)  # the same pauses in every row
        for i in range(MESSAGES_EACH):
            if think_s is not None:
                await asyncio.sleep(thinking.uniform(*think_s))
            next_id += 1
            question = questions[(number * MESSAGES_EACH + i) % len(questions)] + f" #{next_id}"
            stand_in.sent_at.pop(chat, None)
            started = time.perf_counter()
            await deliver(text_update(next_id, chat, question))
            while chat not in stand_in.sent_at:  # noqa: ASYNC110 - the stand-in only records; a 2 ms poll is fine here
                await asyncio.sleep(0.002)
            latencies.append((stand_in.sent_at[chat] - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(shopper(n) for n in range(SHOPPERS)))
    rate = len(latencies) / (time.perf_counter() - started)
    await session.close()
    await adapter.stop()
    await stand_in.stop()
    chats = {10_000 + n for n in range(SHOPPERS)}
    calls = sum(1 for _, params in stand_in.calls if params.get("chat_id") in chats)
    mode = "webhook" if webhook else "polling"
    limiter = "with flood limiter" if flood_limits else "no flood limiter"
    journalled = "journal" if journal is not None else "no journal"
    return (f"| {mode}, {limiter}, {journalled} | {rate:.0f} | {np.percentile(latencies, 50):.1f} "
            f"| {np.percentile(latencies, 99):.1f} | {calls / len(latencies):.2f} |")


async def main() -> None:
    eval_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/eval")
    questions = product_qa_questions(eval_dir)
    tmp = Path(tempfile.mkdtemp(prefix="storebot-bench-"))
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        embedder = SentenceTransformerEmbedder()
        handle = product_qa_index(eval_dir, tmp, embedder)
        low, high = THINK_S
        for title, think_s in ((f"closed loop: {SHOPPERS} shoppers × {MESSAGES_EACH} new questions, no think time",
                                None),
                               (f"think time: {SHOPPERS} shoppers × {MESSAGES_EACH} new questions, "
                                f"{low:.0f}–{high:.0f} s before each", THINK_S)):
            rows = []
            for webhook in (False, True):
                for flood_limits in (True, False):
                    for journalled in (False, True):
                        state = RedisState(redis, 10, 600, 10_000, 600)
                        answerer = FactAnswerer(HybridRetriever(handle, embedder))
                        engine = Engine(state, answerer, StoreInfo("Bench", "Hi"))
                        journal = Journal(redis, f"bench-{os.getpid()}", 600) if journalled else None
                        rows.append(await _run(engine, questions, webhook, flood_limits, think_s, journal))
            print(f"| {title} | messages/s | p50 ms | p99 ms | API calls/answer |")
            print("|---|---|---|---|---|")
            print("\n".join(rows), end="\n\n", flush=True)
    finally:
        async for key in redis.scan_iter(match="{storebot:mem:telegram:*"):  # the journal's marks and sets
            await redis.delete(key)
        await redis.delete(f"storebot:journal:telegram:bench-{os.getpid()}", f"storebot:alive:bench-{os.getpid()}")
        await redis.srem("storebot:journals:telegram", f"bench-{os.getpid()}")
        await clean_up(redis, "telegram", tmp)


if __name__ == "__main__":
    asyncio.run(main())
