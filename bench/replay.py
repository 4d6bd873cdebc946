"""Replay and faults through two real `storebot serve telegram slack` processes.

    .venv/bin/python -m bench.replay [--events 1000] [--outage 20] [--think S] [--conversations 50] [--logs DIR]

Everything is the bench's own: a redis-server it starts (and stops during the outage), the demo store's
knowledge base built with `storebot kb build` into a temporary KB_DATA_DIR, the Telegram Bot API and Slack
Web API stand-ins in this process, and two `storebot serve telegram slack` subprocesses behind a "load
balancer" (each delivery goes to one of them at random; a delivery whose connection fails goes to the other).

Shoppers: half of the conversations are Telegram private chats (updates POSTed to the webhook with the secret
token), half Slack DMs (signed `message.im` events). Each conversation asks a sequence of price questions about
different demo-store products; every question's reply text is learnt once before the run (calibration), so a
reply names the question it answers. A conversation sends its next question once the previous delivery was
acknowledged (Telegram: a 200, which the webhook gives once the update is handled; Slack: the ack), and the
conversations run at the same time. Before each question a shopper thinks (`--think`, uniform 0.5×–1.5× of
it; by default 3 × outage / questions per conversation, so traffic runs before, during and after the outage);
`--think 0` sends the next question the moment the previous one is acknowledged — Slack acknowledges at once,
so its conversations then arrive as bursts. About 30% of the events are deliveries again of an earlier event (same
`update_id`, or same `event_id` with `X-Slack-Retry-Num`), to the same process or the other one: half at the
same moment as the first delivery, half up to a second after it was acknowledged.

Like the platforms: a Telegram update answered with anything but 200 (or whose connection failed) is delivered
again with backoff (0.25 s doubling to 4 s) until it gets a 200; a Slack event is retried up to 3 times on a
non-200 (0.5, 1, 2 s apart: Slack's own waits are minutes, too long for a bench).

Scenarios, one after the other in the same processes, each with fresh conversations:
  (a) normal;
  (b) the Redis server killed (SIGKILL, nothing saved: it comes back empty) once a third of the scenario's
      questions were acknowledged, and started again `--outage` seconds later;
  (c) one serve process killed with SIGKILL once a third of the questions were acknowledged.

Counted per platform: questions never answered (lost), answered more than once (duplicated), replies that
arrived after the reply to a later question of the same conversation (out of order), apologies, time from a
question's first delivery to its reply (p50/p95), and events delivered per second (from the first delivery to
the last acknowledgement). Under the table: the HTTP responses the processes gave, a few lost / duplicated /
out-of-order questions with their deliveries, what Redis says about them (dedupe mark, the conversation's
memory — the processes keep 100 turns so the whole conversation is there), and the processes' warnings and
errors of each scenario, counted by kind. Prints only; `--logs DIR` keeps the processes'
logs. Exits 0 whatever the counts: it is a measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from redis.asyncio import Redis

from adapters.slack.adapter import THINKING
from adapters.slack.errors import FAILED as SLACK_FAILED
from adapters.telegram.adapter import SORRY as TELEGRAM_SORRY
from bot.messages import RATE_LIMITED
from knowledge.index.embedding import default_onnx_cache
from tests.redis_server import RedisServer, free_port
from tests.slack_standin import SIGNING_SECRET, SlackApiStandIn, direct_message, event_body, signed_headers
from tests.telegram_standin import BotApiStandIn, text_update

TELEGRAM_SECRET = "replay-secret"
TELEGRAM_PATH = "telegram"
SLACK_PATH = "/slack/events"
SHOPPER_ID = "USHOPPER"
# Products of the demo store (knowledge/demo_store), asked about by name: "how much is the …?"
PRODUCTS = [
    "Summit Pro 2 Four-Season Tent", "Fjell 800 Down Jacket", "Lumen 800 Rechargeable Headlamp",
    "Beacon 400 Headlamp", "Aurora Down Parka", "Cascade Waterproof Hiking Boot", "Cloudrest Insulated Sleeping Pad",
    "Merino 250 Hoodie", "Polar -20 Expedition Sleeping Bag", "Ridgeback 45 Backpack", "Brisk Softshell Jacket",
    "Cirrus Packable Rain Jacket", "Tundra Grid Fleece Midlayer", "Traverse Hiking Trousers",
    "Trailhead Mid Waterproof Hiking Boot", "Scree Leather Trekking Boot", "Swift Trail Running Shoe",
    "Pathfinder 28 Daypack", "Expedition 65 Trekking Pack", "Nomad 1 Ultralight Tent",
    "Glacier -10 Down Sleeping Bag", "Meadow +5 Synthetic Sleeping Bag", "Merino 200 Base Layer Crew",
    "Merino 200 Base Layer Leggings", "Trek Merino Hiking Socks", "Liner Socks", "Alpine Merino Beanie",
    "Sun Trekker Hat", "Summit Insulated Gloves", "Touchscreen Liner Gloves", "Carbon Trekking Poles",
    "Steel Insulated Bottle 750 ml", "Soft Flask 500 ml", "Trail Gaiters",
]
POST_TIMEOUT_S = 90.0  # > the 60 s a message may wait for a conversation lock a killed process held
TELEGRAM_GIVE_UP_S = 300.0  # a Telegram update still refused after this long is counted as given up
SLACK_RETRIES = 3
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+): (.*)$")


# ----------------------------------------------------------------------------------------------- the shoppers


@dataclass
class Question:
    index: int  # its place in the conversation
    key: int  # which of the pool's questions
    text: str
    delivery_id: int  # update_id (Telegram) / the message's number (Slack ts and event id)
    first_sent: float | None = None
    acked_at: float | None = None
    answered_at: float | None = None
    deliveries: list[tuple[float, int, str]] = field(default_factory=list)  # (time, process, status or failure)


@dataclass
class Conversation:
    platform: str  # "telegram" | "slack"
    address: str  # chat id | DM channel id
    questions: list[Question] = field(default_factory=list)
    replies: list[tuple[float, str, int | None]] = field(default_factory=list)  # (time, kind, question key)


@dataclass
class PlatformStats:
    events: int = 0  # deliveries planned: first deliveries and redeliveries
    redelivered: int = 0
    posts: int = 0  # HTTP requests made, retries included
    statuses: Counter[str] = field(default_factory=Counter)  # "200", "500", "connection failed", "timeout"…
    retries: int = 0  # deliveries sent again after a non-200 or a failed connection
    given_up: int = 0  # deliveries the platform stopped retrying
    first_event: float | None = None
    last_ack: float | None = None


@dataclass
class Process:
    number: int
    popen: subprocess.Popen[bytes]
    telegram_url: str
    slack_url: str
    log: Path
    down: bool = False  # the load balancer saw its connection fail


class TelegramApi(BotApiStandIn):
    def __init__(self, on_sent: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self._on_sent = on_sent

    async def _sendMessage(self, params: dict[str, Any]) -> Any:
        result = await super()._sendMessage(params)
        self._on_sent(params)
        return result


class _Recorded(list[tuple[str, dict[str, Any]]]):
    def __init__(self, on_call: Callable[[str, dict[str, Any]], None]) -> None:
        super().__init__()
        self._on_call = on_call

    def append(self, item: tuple[str, dict[str, Any]]) -> None:
        super().append(item)
        self._on_call(*item)


class SlackApi(SlackApiStandIn):
    """The Web API stand-in, telling the bench of every call it accepted (as it records it)."""

    def __init__(self, on_call: Callable[[str, dict[str, Any]], None]) -> None:
        super().__init__()
        self.calls = _Recorded(on_call)


class Replies:
    """Every reply the stand-ins receive, filed under its conversation and named by the question it answers."""

    def __init__(self) -> None:
        self.known: dict[str, dict[str, int]] = {"telegram": {}, "slack": {}}  # reply text → question key
        self.conversations: dict[tuple[str, str], Conversation] = {}
        self.calibrating: dict[tuple[str, str], asyncio.Future[str]] = {}
        self.placeholders = 0
        self.last_reply = time.perf_counter()

    def on_telegram(self, params: dict[str, Any]) -> None:
        self._reply("telegram", str(params["chat_id"]), str(params["text"]))

    def on_slack(self, method: str, params: dict[str, Any]) -> None:
        if method not in ("chat.postMessage", "chat.update"):
            return
        text = str(params.get("text") or "")
        if text == THINKING:
            self.placeholders += 1
            return
        self._reply("slack", str(params.get("channel")), text)

    def _reply(self, platform: str, address: str, text: str) -> None:
        now = time.perf_counter()
        waiting = self.calibrating.pop((platform, address), None)
        if waiting is not None:
            if not waiting.done():
                waiting.set_result(text)
            return
        conversation = self.conversations.get((platform, address))
        if conversation is None:
            return  # a straggler of an earlier scenario or of the calibration
        self.last_reply = now
        key = self.known[platform].get(text)
        if key is not None:
            conversation.replies.append((now, "answer", key))
        elif text in (TELEGRAM_SORRY, SLACK_FAILED):
            conversation.replies.append((now, "apology", None))
        elif text == RATE_LIMITED:
            conversation.replies.append((now, "rate limited", None))
        else:
            conversation.replies.append((now, "unrecognised", None))


# --------------------------------------------------------------------------------------------- the deliveries


class LoadBalancer:
    def __init__(self, processes: list[Process], session: aiohttp.ClientSession, rng: random.Random) -> None:
        self.processes = processes
        self.session = session
        self.rng = rng

    def pick(self, avoid: Process | None = None) -> Process:
        up = [p for p in self.processes if not p.down] or self.processes
        others = [p for p in up if p is not avoid]
        return self.rng.choice(others or up)

    async def post(self, process: Process, url: str, body: bytes, headers: dict[str, str], stats: PlatformStats,
                   question: Question) -> int | None:
        """The response's status, or None when the connection failed (the process is then marked down)."""
        stats.posts += 1
        outcome, status = "", None
        try:
            async with self.session.post(url, data=body, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT_S)) as response:
                await response.read()
                outcome = str(status := response.status)
        except aiohttp.ClientConnectorError:
            outcome = "connection refused"
            process.down = True
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
            outcome = "connection dropped"
        except TimeoutError:
            outcome = "timeout"
        stats.statuses[outcome] += 1
        question.deliveries.append((time.perf_counter(), process.number, outcome))
        return status


class Deliveries:
    def __init__(self, balancer: LoadBalancer, stats: dict[str, PlatformStats]) -> None:
        self.balancer = balancer
        self.stats = stats

    async def telegram(self, conversation: Conversation, question: Question, first: Process) -> None:
        """As Telegram delivers an update to a webhook: again (with backoff) until it is answered 200."""
        stats = self.stats["telegram"]
        update = text_update(question.delivery_id, int(conversation.address), question.text)
        body = json.dumps(update).encode()
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, "Content-Type": "application/json"}
        process, backoff, started = first, 0.25, time.perf_counter()
        while True:
            status = await self.balancer.post(process, process.telegram_url, body, headers, stats, question)
            if status == 200:
                return
            if time.perf_counter() - started > TELEGRAM_GIVE_UP_S:
                stats.given_up += 1
                return
            stats.retries += 1
            if status is not None:  # answered, but not 200: Telegram waits before delivering it again
                await asyncio.sleep(backoff * self.balancer.rng.uniform(0.8, 1.2))
                backoff = min(backoff * 2, 4.0)
                process = self.balancer.pick()
            else:  # the connection failed: the load balancer tries the other process
                process = self.balancer.pick(avoid=process)

    async def slack(self, conversation: Conversation, question: Question, first: Process, retry_num: int = 0) -> None:
        """As Slack delivers an event: retried (`X-Slack-Retry-Num`) up to 3 times when not answered 200."""
        stats = self.stats["slack"]
        event = direct_message(conversation.address, SHOPPER_ID, question.text, _slack_ts(question.delivery_id))
        body = event_body(event, f"Ev{question.delivery_id:012d}")
        process, waits = first, iter((0.5, 1.0, 2.0))
        failed_connections = 0
        while True:
            headers = signed_headers(body)  # signed again for each delivery, as Slack does
            if retry_num:
                headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
            status = await self.balancer.post(process, process.slack_url, body.encode(), headers, stats, question)
            if status == 200:
                return
            if status is None and failed_connections < len(self.balancer.processes):
                failed_connections += 1  # the load balancer's own retry on the other process
                stats.retries += 1
                process = self.balancer.pick(avoid=process)
                continue
            wait = next(waits, None)
            if wait is None:
                stats.given_up += 1
                return
            stats.retries += 1
            retry_num += 1
            failed_connections = 0
            await asyncio.sleep(wait)
            process = self.balancer.pick()


def _slack_ts(number: int) -> str:
    return f"{1_700_000_000 + number // 1_000_000}.{number % 1_000_000:06d}"


@dataclass
class Scenario:
    name: str
    conversations: list[Conversation]
    redeliver: dict[tuple[int, int], tuple[str, bool]]  # (conversation, question) → (when, to the same process)
    stats: dict[str, PlatformStats]
    started: float = 0.0
    acked: int = 0
    fault_at: int = 0  # acknowledged questions before the fault
    fault_now: asyncio.Event = field(default_factory=asyncio.Event)
    fault_note: str = ""
    redis_down: float | None = None  # when Redis was killed (scenario b)
    redis_back: float | None = None  # when it came back
    log_from: dict[int, int] = field(default_factory=dict)
    log_to: dict[int, int] = field(default_factory=dict)


def plan_scenario(name: str, number: int, args: argparse.Namespace, pool: list[str], rng: random.Random) -> Scenario:
    """Fresh conversations (half Telegram, half Slack) and which questions are delivered again, how."""
    redelivered = round(args.events * args.redeliver)
    distinct = args.events - redelivered
    conversations: list[Conversation] = []
    base = 1_000_000 * (number + 1) + rng.randrange(10**5) * 10
    delivery_id = base * 100
    for c in range(args.conversations):
        platform = "telegram" if c % 2 == 0 else "slack"
        address = str(base + c) if platform == "telegram" else f"D{base + c}"
        count = distinct // args.conversations + (1 if c < distinct % args.conversations else 0)
        keys: list[int] = []
        while len(keys) < count:
            order = rng.sample(range(len(pool)), len(pool))
            if keys and order[0] == keys[-1]:
                order.reverse()
            keys += order
        conversation = Conversation(platform, address)
        for i, key in enumerate(keys[:count]):
            delivery_id += 1
            conversation.questions.append(Question(i, key, pool[key], delivery_id))
        conversations.append(conversation)
    every = [(c, q.index) for c, conv in enumerate(conversations) for q in conv.questions]
    chosen = rng.sample(every, min(redelivered, len(every)))
    redeliver = {pick: (rng.choice(("concurrent", "later")), rng.random() < 0.5) for pick in chosen}
    stats = {"telegram": PlatformStats(), "slack": PlatformStats()}
    scenario = Scenario(name, conversations, redeliver, stats)
    scenario.fault_at = max(1, round(distinct * args.fault_at))
    return scenario


async def run_scenario(scenario: Scenario, deliveries: Deliveries, replies: Replies, think_s: float,
                       rng: random.Random) -> None:
    balancer = deliveries.balancer
    background: set[asyncio.Task[None]] = set()

    def deliver(conversation: Conversation, question: Question, process: Process, again: bool) -> asyncio.Task[None]:
        stats = scenario.stats[conversation.platform]
        stats.events += 1
        stats.redelivered += again
        if stats.first_event is None:
            stats.first_event = time.perf_counter()
        if conversation.platform == "telegram":
            return asyncio.create_task(deliveries.telegram(conversation, question, process))
        return asyncio.create_task(deliveries.slack(conversation, question, process, retry_num=int(again)))

    async def later(conversation: Conversation, question: Question, process: Process) -> None:
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        await deliver(conversation, question, process, again=True)

    async def shopper(c: int, conversation: Conversation) -> None:
        pace = random.Random(rng.random())
        for question in conversation.questions:
            if think_s > 0:
                await asyncio.sleep(pace.uniform(0.5 * think_s, 1.5 * think_s))
            process = balancer.pick()
            question.first_sent = time.perf_counter()
            first = deliver(conversation, question, process, again=False)
            again = scenario.redeliver.get((c, question.index))
            if again is not None:
                when, same = again
                target = process if same else balancer.pick(avoid=process)
                if when == "concurrent":
                    task = deliver(conversation, question, target, again=True)
                else:
                    task = asyncio.create_task(later(conversation, question, target))
                background.add(task)
            await first
            question.acked_at = time.perf_counter()
            scenario.stats[conversation.platform].last_ack = question.acked_at
            scenario.acked += 1
            if scenario.acked >= scenario.fault_at:
                scenario.fault_now.set()

    for conversation in scenario.conversations:
        replies.conversations[(conversation.platform, conversation.address)] = conversation
    scenario.started = time.perf_counter()
    await asyncio.gather(*(shopper(c, conv) for c, conv in enumerate(scenario.conversations)))
    scenario.fault_now.set()
    if background:
        await asyncio.gather(*background)


def unanswered(scenario: Scenario) -> list[Conversation]:
    out = []
    for conversation in scenario.conversations:
        got = {k for _, kind, k in conversation.replies if kind == "answer"}
        if not {q.key for q in conversation.questions} <= got:
            out.append(conversation)
    return out


async def settle(scenario: Scenario, replies: Replies, redis: Redis, quiet_s: float = 5.0,
                 at_most_s: float = 90.0) -> None:
    """Waits for the replies still on their way: until every question has one, or none came for `quiet_s` and no
    conversation still waiting is locked in Redis (a killed process's lock holds its conversation for 60 s)."""
    deadline = time.perf_counter() + at_most_s
    while time.perf_counter() < deadline:
        waiting = unanswered(scenario)
        if not waiting:
            await asyncio.sleep(1.0)  # a duplicate may still be on its way
            return
        if time.perf_counter() - replies.last_reply > quiet_s:
            locked = await redis.exists(*(lock_key(c) for c in waiting))
            if not locked:
                return
        await asyncio.sleep(0.2)


def lock_key(conversation: Conversation) -> str:
    return f"storebot:lock:{conversation.platform}:{conversation.address}"


def memory_key(conversation: Conversation) -> str:
    return f"storebot:mem:{conversation.platform}:{conversation.address}"


def dedupe_key(conversation: Conversation, question: Question) -> str:
    event = str(question.delivery_id) if conversation.platform == "telegram" else \
        f"{conversation.address}:{_slack_ts(question.delivery_id)}"
    return f"storebot:dedupe:{conversation.platform}:{event}"


async def diagnose(scenario: Scenario, redis: Redis) -> list[str]:
    """What Redis says about each lost question (marked delivered? answered and remembered by the engine?) and
    about conversations whose replies came out of order (were they answered — remembered — in order?)."""
    out = []
    for platform in ("telegram", "slack"):
        conversations = [c for c in scenario.conversations if c.platform == platform]
        counts = count(conversations)  # fills answered_at
        if counts.duplicates:
            refused = sum(any(status != "200" for _, _, status in q.deliveries) for q, _ in counts.duplicates)
            back = scenario.redis_back
            after = sum(back is not None and (q.answered_at or 0) < back <= at for q, at in counts.duplicates)
            out.append(f"- {scenario.name}, {platform}: of {len(counts.duplicates)} questions answered twice, "
                       f"{refused} had a delivery that was not answered 200 (delivered again later)"
                       + (f", and {after} were answered first before Redis came back empty and again after"
                          if back is not None else ""))
        lost = marked = remembered = locked = in_outage = 0
        disordered = answered_in_order = 0
        for conversation in conversations:
            raw = await redis.lrange(memory_key(conversation), 0, -1)
            said = [json.loads(item)["text"] for item in raw if json.loads(item).get("role") == "shopper"]
            missing = [q for q in conversation.questions if q.answered_at is None]
            if missing:
                locked += bool(await redis.exists(lock_key(conversation)))
            for question in missing:
                lost += 1
                down, back = scenario.redis_down, scenario.redis_back
                in_outage += down is not None and back is not None and down <= (question.first_sent or 0) <= back
                marked += bool(await redis.exists(dedupe_key(conversation, question)))
                remembered += question.text in said
            arrived = sorted((q.answered_at, q.index) for q in conversation.questions if q.answered_at is not None)
            if any(later < earlier for (_, earlier), (_, later) in itertools.pairwise(arrived)):
                disordered += 1
                by_text = {q.text: q.index for q in conversation.questions}
                order = [by_text[text] for text in said if text in by_text]
                answered_in_order += order == sorted(order)
        if lost and scenario.redis_back is not None:
            out.append(f"- {scenario.name}, {platform}: of {lost} lost questions, {in_outage} were first delivered "
                       "while Redis was down (it came back empty, so its keys say nothing more)")
        elif lost:
            out.append(f"- {scenario.name}, {platform}: of {lost} lost questions, {marked} are marked delivered in "
                       f"Redis (dedupe key), {remembered} were answered and remembered by the engine (in the "
                       f"conversation's memory) but their reply never reached the platform; {locked} of their "
                       "conversations are still locked")
        if disordered:
            out.append(f"- {scenario.name}, {platform}: {disordered} conversations got replies out of order; in "
                       f"{answered_in_order} of them the engine answered (remembered) the questions in the order "
                       "asked, so the replies were reordered after answering")
    return out


# ------------------------------------------------------------------------------------------------- the faults


async def redis_outage(scenario: Scenario, redis: RedisServer, outage_s: float) -> None:
    await scenario.fault_now.wait()
    if scenario.acked >= sum(len(c.questions) for c in scenario.conversations):
        scenario.fault_note = "not run: the scenario ended first"
        return
    stopped = scenario.redis_down = time.perf_counter()
    await redis.stop()
    await asyncio.sleep(outage_s)
    await redis.start()
    scenario.redis_back = time.perf_counter()
    scenario.fault_note = (f"Redis killed at {stopped - scenario.started:.1f} s (after {scenario.acked} questions "
                           f"acknowledged), back after {time.perf_counter() - stopped:.1f} s, empty")


async def kill_process(scenario: Scenario, process: Process) -> None:
    await scenario.fault_now.wait()
    if scenario.acked >= sum(len(c.questions) for c in scenario.conversations):
        scenario.fault_note = "not run: the scenario ended first"
        return
    process.popen.send_signal(signal.SIGKILL)
    scenario.fault_note = (f"process {process.number} (pid {process.popen.pid}) killed with SIGKILL at "
                           f"{time.perf_counter() - scenario.started:.1f} s (after {scenario.acked} questions "
                           "acknowledged)")


# ---------------------------------------------------------------------------------------------------- counting


@dataclass
class Counts:
    conversations: int = 0
    questions: int = 0
    answered: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    apologies: int = 0
    rate_limited: int = 0
    unrecognised: int = 0
    latencies: list[float] = field(default_factory=list)
    duplicates: list[tuple[Question, float]] = field(default_factory=list)  # (question, when answered again)
    examples: dict[str, list[tuple[Conversation, Question]]] = field(default_factory=dict)  # by kind


def count(conversations: Iterable[Conversation]) -> Counts:
    counts = Counts()
    for conversation in conversations:
        counts.conversations += 1
        counts.questions += len(conversation.questions)
        answered: set[int] = set()
        latest = -1
        for at, kind, key in sorted(conversation.replies, key=lambda r: r[0]):
            if kind != "answer":
                counts.apologies += kind == "apology"
                counts.rate_limited += kind == "rate limited"
                counts.unrecognised += kind == "unrecognised"
                continue
            match = next((q for q in conversation.questions if q.key == key and q.index not in answered
                          and q.first_sent is not None and q.first_sent <= at), None)
            if match is None:
                counts.duplicated += 1
                again = next((q for q in conversation.questions if q.key == key and q.index in answered), None)
                if again is not None:
                    counts.duplicates.append((again, at))
                    counts.examples.setdefault("duplicated", []).append((conversation, again))
                continue
            answered.add(match.index)
            match.answered_at = at
            assert match.first_sent is not None
            counts.latencies.append(at - match.first_sent)
            if match.index < latest:
                counts.out_of_order += 1
                counts.examples.setdefault("out of order", []).append((conversation, match))
            latest = max(latest, match.index)
        counts.answered += len(answered)
        for question in conversation.questions:
            if question.index not in answered:
                counts.lost += 1
                counts.examples.setdefault("lost", []).append((conversation, question))
    return counts


def row(scenario: Scenario, platform: str) -> str:
    conversations = [c for c in scenario.conversations if c.platform == platform]
    counts, stats = count(conversations), scenario.stats[platform]
    span = (stats.last_ack or 0) - (stats.first_event or 0)
    rate = stats.events / span if span > 0 else 0.0
    p50, p95 = (f"{np.percentile(counts.latencies, q):.3f}" if counts.latencies else "–" for q in (50, 95))
    return (f"| {scenario.name} | {platform} | {counts.conversations} | {counts.questions} | {stats.events} "
            f"({stats.redelivered}) | {stats.retries} | {counts.answered} | {counts.lost} | {counts.duplicated} "
            f"| {counts.out_of_order} | {counts.apologies} | {counts.unrecognised} | {p50} | {p95} | {rate:.1f} |")


def notes(scenario: Scenario) -> list[str]:
    out = []
    for platform in ("telegram", "slack"):
        stats = scenario.stats[platform]
        statuses = ", ".join(f"{status} ×{n}" for status, n in sorted(stats.statuses.items()))
        counts = count(c for c in scenario.conversations if c.platform == platform)
        extra = ""
        if counts.rate_limited:
            extra += f"; rate-limit notices {counts.rate_limited}"
        if stats.given_up:
            extra += f"; deliveries the platform gave up on {stats.given_up}"
        out.append(f"- {scenario.name}, {platform}: {stats.posts} HTTP requests: {statuses}{extra}")
    return out


def examples(scenario: Scenario, each: int = 2) -> list[str]:
    """A few lost, duplicated and out-of-order questions with their deliveries (time from the scenario's start,
    process, response) and the replies to them, for the diagnosis."""
    out = []
    for platform in ("telegram", "slack"):
        counts = count(c for c in scenario.conversations if c.platform == platform)
        for kind, found in counts.examples.items():
            for conversation, question in found[:each]:
                deliveries = ", ".join(f"+{at - scenario.started:.2f} s p{process} {status}"
                                       for at, process, status in question.deliveries)
                answers = [f"+{at - scenario.started:.2f} s" for at, what, key in conversation.replies
                           if what == "answer" and key == question.key]
                later = [q for q in conversation.questions if q.index == question.index + 1]
                after = ""
                if kind == "out of order" and later and later[0].answered_at is not None:
                    next_at = later[0].answered_at - scenario.started
                    after = f"; question #{question.index + 1} answered +{next_at:.2f} s"
                out.append(f"  {kind}: {platform} {conversation.address} #{question.index} (asked "
                           f"+{(question.first_sent or 0) - scenario.started:.2f} s): deliveries {deliveries}; "
                           f"replies {', '.join(answers) or 'none'}{after}")
    return out


def log_summary(scenario: Scenario, processes: list[Process], top: int = 10) -> list[str]:
    """The processes' WARNING+ lines of the scenario (and INFO about duplicates), counted by kind; an ERROR's
    kind includes the exception its traceback ends with."""
    kinds: Counter[str] = Counter()
    for process in processes:
        start, end = scenario.log_from.get(process.number, 0), scenario.log_to.get(process.number, 0)
        with process.log.open("rb") as file:
            file.seek(start)
            lines = file.read(max(0, end - start)).decode("utf-8", "replace").splitlines()
        current: str | None = None
        last_plain = ""
        for line in [*lines, "1970-01-01 00:00:00,000 INFO end: end"]:
            found = LOG_LINE.match(line)
            if found is None:
                if line.strip():
                    last_plain = line.strip()
                continue
            if current is not None:
                if current.startswith("ERROR") and last_plain:
                    current += f" ⇐ {_shape(last_plain, 70)}"
                kinds[current] += 1
            current, last_plain = None, ""
            level, logger, message = found.groups()
            if level in ("WARNING", "ERROR", "CRITICAL") or "duplicate delivery" in message:
                current = f"{level} {logger}: {_shape(message, 90)}"
    if not kinds:
        return ["  (no warnings or errors)"]
    return [f"  {n:>5} × {kind}" for kind, n in kinds.most_common(top)] + (
        [f"  … and {len(kinds) - top} more kinds"] if len(kinds) > top else [])


def _shape(text: str, width: int) -> str:
    text = re.sub(r"\b[0-9a-f]{12,}\b", "…", text)
    text = re.sub(r"\d+(\.\d+)?", "#", text)
    return text if len(text) <= width else text[:width] + "…"


# ------------------------------------------------------------------------------------------------- the set-up


def storebot_command() -> list[str]:
    script = Path(sys.executable).with_name("storebot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli.main"]


def base_env(work: Path, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_", "REDIS_", "KB_"))}
    return env | {
        "KB_DATA_DIR": str(work / "kb"), "REDIS_URL": redis_url, "HF_HUB_OFFLINE": "1", "METRICS_PORT": "-1",
        "EMBED_ONNX_DIR": os.environ.get("EMBED_ONNX_DIR", str(default_onnx_cache())),
        "RATE_LIMIT_PER_MINUTE": "1000000", "PYTHONUNBUFFERED": "1",
        "MEMORY_TURNS": "100",  # the whole conversation stays in Redis, for the diagnosis after each scenario
    }


def build_kb(work: Path, env: dict[str, str]) -> None:
    done = subprocess.run([*storebot_command(), "kb", "build"], cwd=work, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"storebot kb build failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def start_process(number: int, work: Path, env: dict[str, str], telegram_api: str, slack_api: str) -> Process:
    telegram_port, slack_port = free_port(), free_port()
    env = env | {
        "TELEGRAM_BOT_TOKEN": "123:REPLAY", "TELEGRAM_API_BASE_URL": telegram_api,
        "TELEGRAM_WEBHOOK_URL": "https://bot.example/tg", "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_WEBHOOK_PORT": str(telegram_port), "TELEGRAM_WEBHOOK_PATH": TELEGRAM_PATH,
        "TELEGRAM_FLOOD_LIMITS": "false",
        "SLACK_BOT_TOKEN": "xoxb-replay", "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_BASE_URL": slack_api,
        "SLACK_HTTP_PORT": str(slack_port),
    }
    log = work / f"serve-{number}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen([*storebot_command(), "serve", "telegram", "slack"], cwd=work, env=env,
                                 stdout=out, stderr=subprocess.STDOUT)
    return Process(number, popen, f"http://127.0.0.1:{telegram_port}/{TELEGRAM_PATH}",
                   f"http://127.0.0.1:{slack_port}{SLACK_PATH}", log)


async def wait_until_up(process: Process, within_s: float = 180.0) -> None:
    ports = [int(url.split(":")[2].split("/")[0]) for url in (process.telegram_url, process.slack_url)]
    deadline = time.perf_counter() + within_s
    while True:
        if process.popen.poll() is not None:
            raise SystemExit(f"serve process {process.number} exited ({process.popen.returncode}):\n"
                             + process.log.read_text(errors="replace")[-3000:])
        if all(_accepts(port) for port in ports):
            return
        if time.perf_counter() > deadline:
            raise SystemExit(f"serve process {process.number} not up after {within_s:.0f} s")
        await asyncio.sleep(0.2)


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def calibrate(pool: list[str], processes: list[Process], balancer: LoadBalancer,
                    replies: Replies) -> list[str]:
    """Asks every question once per platform and process in a fresh conversation and learns its reply's text;
    questions whose replies are not one text, or share it with another question, are left out."""
    texts: dict[tuple[str, int], set[str]] = {}
    numbers = iter(range(9_000_001, 10_000_000))
    calibration = Deliveries(balancer, {"telegram": PlatformStats(), "slack": PlatformStats()})

    async def ask(platform: str, process: Process, key: int) -> None:
        number = next(numbers)
        conversation = Conversation(platform, str(number) if platform == "telegram" else f"D{number}")
        waiting: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        replies.calibrating[(platform, conversation.address)] = waiting
        question = Question(0, key, pool[key], number)
        if platform == "telegram":
            await calibration.telegram(conversation, question, process)
        else:
            await calibration.slack(conversation, question, process)
        texts.setdefault((platform, key), set()).add(await asyncio.wait_for(waiting, 60))

    for process in processes:
        for platform in ("telegram", "slack"):
            await asyncio.gather(*(ask(platform, process, key) for key in range(len(pool))))
    keep = []
    for key in range(len(pool)):
        one = all(len(texts[(p, key)]) == 1 for p in ("telegram", "slack"))
        shared = any(texts[(p, key)] & texts[(p, other)] for p in ("telegram", "slack")
                     for other in range(len(pool)) if other != key)
        if one and not shared:
            keep.append(key)
    for new_key, key in enumerate(keep):
        for platform in ("telegram", "slack"):
            replies.known[platform][next(iter(texts[(platform, key)]))] = new_key
    return [pool[key] for key in keep]


def _mark_logs(processes: list[Process], into: dict[int, int]) -> None:
    for process in processes:
        into[process.number] = process.log.stat().st_size


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="storebot-replay-"))
    redis = RedisServer(work / "redis")
    replies = Replies()
    telegram_api, slack_api = TelegramApi(replies.on_telegram), SlackApi(replies.on_slack)
    processes: list[Process] = []
    session: aiohttp.ClientSession | None = None
    try:
        await redis.start()
        env = base_env(work, redis.url)
        started = time.perf_counter()
        await asyncio.to_thread(build_kb, work, env)
        built = time.perf_counter() - started
        await telegram_api.start()
        await slack_api.start()
        processes = [start_process(n, work, env, telegram_api.base_url, slack_api.api_url) for n in (0, 1)]
        for process in processes:
            await wait_until_up(process)
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        balancer = LoadBalancer(processes, session, rng)
        pool = [f"how much is the {name}?" for name in PRODUCTS]
        asked = await calibrate(pool, processes, balancer, replies)
        per_conversation = args.events * (1 - args.redeliver) / args.conversations
        think = args.think if args.think is not None else 3 * args.outage / per_conversation
        print(f"Knowledge base (demo store) built in {built:.1f} s; two `storebot serve telegram slack` processes "
              f"(pids {', '.join(str(p.popen.pid) for p in processes)}); Redis {redis.url}.")
        print(f"Questions: {len(asked)} of {len(pool)} price questions have one reply text of their own on both "
              f"platforms and are asked. {args.events} events per scenario over {args.conversations} "
              f"conversations, {args.redeliver:.0%} of them deliveries again; think time "
              f"{think:.2f} s on average before each question (uniform 0.5×–1.5×); seed {args.seed}.", flush=True)

        results: list[Scenario] = []
        diagnoses: list[str] = []
        for number, name in enumerate(("a normal", "b Redis outage", "c process killed")):
            scenario = plan_scenario(name, number, args, asked, rng)
            deliveries = Deliveries(balancer, scenario.stats)
            _mark_logs(processes, scenario.log_from)
            fault: asyncio.Task[None] | None = None
            if name.startswith("b"):
                fault = asyncio.create_task(redis_outage(scenario, redis, args.outage))
            elif name.startswith("c"):
                fault = asyncio.create_task(kill_process(scenario, processes[1]))
            await run_scenario(scenario, deliveries, replies, think, rng)
            if fault is not None:
                await fault
            client = Redis.from_url(redis.url, socket_connect_timeout=1)  # anew: the outage closed old connections
            try:
                await settle(scenario, replies, client)
                _mark_logs(processes, scenario.log_to)
                diagnoses += await diagnose(scenario, client)
            finally:
                await client.aclose()
            results.append(scenario)
            print(f"  scenario {name}: done in {time.perf_counter() - scenario.started:.1f} s", flush=True)

        print()
        print("| scenario | platform | conversations | questions | events (of them redelivered) | retries | answered "
              "| lost | duplicated | out of order | apologies | unrecognised | p50 s | p95 s | events/s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for scenario in results:
            for platform in ("telegram", "slack"):
                print(row(scenario, platform))
        print()
        for scenario in results:
            if scenario.fault_note:
                print(f"- {scenario.name}: {scenario.fault_note}")
            print("\n".join(notes(scenario) + examples(scenario)))
        print(f"- Slack \"Thinking…\" placeholders posted (all scenarios and the calibration): "
              f"{replies.placeholders}")
        print("\n".join(diagnoses))
        print()
        for scenario in results:
            print(f"Process logs, scenario {scenario.name} (warnings and errors by kind, both processes):")
            print("\n".join(log_summary(scenario, processes)))
        if args.logs is not None:
            print(f"\nThe processes' logs: {args.logs}")
    finally:
        if args.logs is not None:  # kept whatever happened
            args.logs.mkdir(parents=True, exist_ok=True)
            for process in processes:
                shutil.copy(process.log, args.logs / process.log.name)
        if session is not None:
            await session.close()
        for process in processes:
            if process.popen.poll() is None:
                process.popen.terminate()
                try:
                    await asyncio.to_thread(process.popen.wait, 20)
                except subprocess.TimeoutExpired:
                    process.popen.kill()
                    await asyncio.to_thread(process.popen.wait)
        await telegram_api.stop()
        await slack_api.stop()
        with contextlib.suppress(Exception):
            await redis.stop()
        shutil.rmtree(work, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="platform events per scenario (default 1000)")
    parser.add_argument("--outage", type=float, default=20.0, help="seconds Redis is down in scenario b")
    parser.add_argument("--conversations", type=int, default=50, help="half Telegram chats, half Slack DMs")
    parser.add_argument("--redeliver", type=float, default=0.3, help="share of events that are deliveries again")
    parser.add_argument("--think", type=float, default=None,
                        help="mean seconds a shopper waits before each question (uniform 0.5×–1.5×); default: "
                             "3 × outage / questions per conversation, so each conversation spans about three "
                             "outages; 0: the next question goes the moment the previous one is acknowledged")
    parser.add_argument("--fault-at", type=float, default=1 / 3,
                        help="share of a scenario's questions acknowledged before its fault (default 1/3)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--logs", type=Path, default=None, help="keep the serve processes' logs in this directory")
    args = parser.parse_args(argv)
    if args.events < args.conversations or not 0 <= args.redeliver < 1:
        parser.error("need --events ≥ --conversations and 0 ≤ --redeliver < 1")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
