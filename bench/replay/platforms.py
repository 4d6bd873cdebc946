"""The platforms' side: the Telegram Bot API and Slack Web API stand-ins that receive the replies, the "load
balancer" in front of the two serve processes, and the deliveries as Telegram and Slack make them (retries
included)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from adapters.slack.errors import FAILED as SLACK_FAILED
from adapters.slack.questions import THINKING
from adapters.telegram.adapter import SORRY as TELEGRAM_SORRY
from bench.replay.model import Conversation, PlatformStats, Process, Question, slack_ts
from bot.messages import RATE_LIMITED
from tests.slack_standin import SlackApiStandIn, direct_message, event_body, signed_headers
from tests.telegram_standin import BotApiStandIn, text_update

TELEGRAM_SECRET = "replay-secret"
TELEGRAM_PATH = "telegram"
SLACK_PATH = "/slack/events"
SHOPPER_ID = "USHOPPER"
POST_TIMEOUT_S = 90.0  # > the 60 s a message may wait for a conversation lock a killed process held
TELEGRAM_GIVE_UP_S = 300.0  # a Telegram update still refused after this long is counted as given up
SLACK_RETRIES = 3


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
        event = direct_message(conversation.address, SHOPPER_ID, question.text, slack_ts(question.delivery_id))
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
