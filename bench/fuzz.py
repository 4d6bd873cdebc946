"""Fuzz at volume: the generators of tests/fuzz_*.py at 10,000 examples per target, every exception counted.

    REDIS_URL=redis://127.0.0.1:6379/11 python -m bench.fuzz [EXAMPLES_PER_TARGET]

Targets: Telegram updates through PTB's parse and the conversion (well-formed with odd values; entities that cut a
character or have no text; required fields missing and wrong JSON types), and well-formed ones on through the
engine as the adapter hands them over; Slack events through the conversion, and on through the engine; runs of
engine events (messages, buttons, staff replies, resolves, ops commands); `/storebot` text through the parser and
the engine; outbox entries through `decode`; signed and unsigned malformed HTTP requests through the Slack gate
(`adapters.slack.http.web_app` on loopback, Bolt behind it with no listeners). The engine is wired as `storebot
serve` wires it (tests/fuzz_engine.py `fuzz_engine`) on the bundled demo store's knowledge base and real Redis, its
state carried over from one example to the next; everything the run writes is namespaced by its own platform
names and removed at the end.

Per target: examples run; "not ours" (PTB refused to parse the update, or the HTTP client to send the request);
events that reached `Engine.handle`; unhandled exceptions (must be 0); property violations (an AssertionError of
the checks: a non-string field, a 5xx from Bolt behind the gate); seconds. Then each distinct failure (exception
type and the innermost frame of the repository's own code) with its count, first example and traceback. No
shrinking: `pytest tests/test_fuzz_*.py` gives minimal examples.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

from adapters.slack.convert import from_event, thread_reply_of
from adapters.slack.http import web_app
from adapters.telegram.convert import NOT_TEXT
from bot.engine import Engine
from bot.events import Event, StaffReply
from bot.types import Reply
from knowledge.index.builder import BuildOptions, build_version
from knowledge.index.embedding import EmbeddingCache, SentenceTransformerEmbedder
from knowledge.index.live import IndexHandle
from knowledge.index.versions import VersionStore
from tests.fuzz_common import JSON, SLACK, TELEGRAM, texts
from tests.fuzz_engine import ENGINE_RUNS, check_reply, clean_up, fuzz_engine
from tests.fuzz_outbound import OUTBOX_ENTRIES, decode_entry
from tests.fuzz_slack import (
    COMMAND_TEXTS,
    SIGNATURES,
    SIGNING_SECRET,
    SLACK_BOT,
    SLACK_BOT_IDS,
    SLACK_EVENTS,
    STAMPS,
    convert_slack,
    parse_slash_command,
    signed_headers,
    slash_command_event,
)
from tests.fuzz_telegram import (
    TELEGRAM_UPDATES,
    TELEGRAM_UPDATES_CUT_ENTITIES,
    TELEGRAM_UPDATES_MALFORMED,
    convert_telegram,
    telegram_button,
)

EXAMPLES = 10_000
DEMO_STORE = Path(__file__).resolve().parent.parent / "knowledge" / "demo_store"
REPO = str(Path(__file__).resolve().parent.parent)


class NotOurs(Exception):
    """The input never reached our code: PTB refused to parse it, or the HTTP client to send it."""


@dataclass
class Outcome:
    name: str
    examples: int = 0
    not_ours: int = 0
    engine_calls: int = 0
    exceptions: int = 0
    violations: int = 0
    seconds: float = 0.0
    kinds: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # where → (count, first example, trace)

    def record(self, err: BaseException, value: object) -> None:
        if isinstance(err, AssertionError):
            self.violations += 1
        else:
            self.exceptions += 1
        frames = [f for f in traceback.extract_tb(err.__traceback__)
                  if f.filename.startswith(REPO) and "/.venv/" not in f.filename and "/tests/" not in f.filename
                  and "/bench/" not in f.filename] or traceback.extract_tb(err.__traceback__)[-1:]
        where = f"{type(err).__name__} at {_short(frames[-1].filename)}:{frames[-1].lineno} ({frames[-1].name})"
        count, first, trace = self.kinds.get(where, (0, "", ""))
        if not count:
            first = _shown(value)
            trace = "".join(traceback.format_exception(err, limit=-6)).strip()
        self.kinds[where] = (count + 1, first, trace)


def _short(path: str) -> str:
    return path.removeprefix(REPO + "/")


def _shown(value: object, limit: int = 600) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def run(name: str, strategy: st.SearchStrategy[Any], check: Callable[[Any], None], examples: int,
        door: Door | None = None) -> Outcome:
    """`check` on `examples` generated values (no shrinking: every failure is counted, none stops the run)."""
    outcome = Outcome(name)
    calls = door.calls if door is not None else 0

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def target(value: Any) -> None:
        outcome.examples += 1
        try:
            check(value)
        except NotOurs:
            outcome.not_ours += 1
        except Exception as err:
            outcome.record(err, value)

    started = time.perf_counter()
    target()
    outcome.seconds = time.perf_counter() - started
    outcome.engine_calls = door.calls - calls if door is not None else 0
    print(f"  {name}: {outcome.examples:,} examples, {outcome.exceptions} unhandled exceptions, "
          f"{outcome.violations} property violations, {outcome.seconds:.1f} s", file=sys.stderr, flush=True)
    return outcome


def on_loop(loop: asyncio.AbstractEventLoop, work: Callable[[Any], Awaitable[None]]) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        loop.run_until_complete(work(value))
    return check


# --- the checks ---------------------------------------------------------------------------------------------


class Door:
    """`Engine.handle`, counted: how many events of a target reached the engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.calls = 0

    async def handle(self, event: Event) -> Reply | None:
        self.calls += 1
        return await self._engine.handle(event)


def telegram_conversion(data: dict[str, Any]) -> None:
    update, _ = convert_telegram(data)
    if update is None:
        raise NotOurs


def telegram_through_engine(engine: Door) -> Callable[[dict[str, Any]], Awaitable[None]]:
    async def check(data: dict[str, Any]) -> None:
        update, msg = convert_telegram(data)
        if update is None:
            raise NotOurs
        event: Event | None = None
        if update.callback_query is not None:  # TelegramAdapter._on_button
            press = telegram_button(update)
            event = dataclasses.replace(press, platform=TELEGRAM) if press is not None else None
        elif msg is not None and msg.text != NOT_TEXT and (update.message or update.edited_message):
            event = dataclasses.replace(msg, platform=TELEGRAM)  # TelegramAdapter._on_message (MESSAGES only)
        if event is not None:
            check_reply(await engine.handle(event))
    return check


def slack_conversion(value: tuple[dict[str, Any], str | None]) -> None:
    convert_slack(*value)


def slack_through_engine(engine: Door) -> Callable[[tuple[dict[str, Any], str | None]], Awaitable[None]]:
    async def check(value: tuple[dict[str, Any], str | None]) -> None:
        event, bot_user = value
        convert_slack(event, bot_user)
        staff = thread_reply_of(event, bot_user)  # SlackAdapter._on_message
        if staff is not None:
            check_reply(await engine.handle(StaffReply(SLACK, staff.thread, staff.user, staff.text,
                                                       staff.message_id)))
            return
        converted = from_event(event, bot_user)
        if converted is not None:
            check_reply(await engine.handle(dataclasses.replace(converted[0], platform=SLACK)))
    return check


def outbox_decode(entry: dict[str, str]) -> None:
    decode_entry(entry)


def engine_events(engine: Door) -> Callable[[list[Event]], Awaitable[None]]:
    async def check(events: list[Event]) -> None:  # one namespace for the whole run: state carries over
        for event in events:
            check_reply(await engine.handle(event))
    return check


def commands_through_engine(engine: Door) -> Callable[[str], Awaitable[None]]:
    async def check(text: str) -> None:  # SlashCommands.on_command
        command = parse_slash_command(text)
        event = slash_command_event(command, "UFUZZSTAFF") if command is not None else None
        if event is not None:
            check_reply(await engine.handle(event))
    return check


# --- the Slack gate over HTTP -------------------------------------------------------------------------------

CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "application/json; x"]


@st.composite
def slack_request(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """A request body as Slack sends one (event JSON, slash command form, interaction payload) or not (any JSON,
    any text, any bytes), and headers signed right, wrong, stale or not at all."""
    kind = draw(st.sampled_from(["event", "event", "command", "payload", "json", "text", "bytes"]))
    if kind == "event":
        body = json.dumps(draw(st.fixed_dictionaries(
            {"type": st.sampled_from(["event_callback", "url_verification", "app_rate_limited"]) | JSON,
             "event": SLACK_EVENTS | JSON},
            optional={"team_id": st.text(max_size=6) | JSON, "api_app_id": JSON, "challenge": JSON,
                      "authorizations": st.just([{"team_id": "T1", "user_id": SLACK_BOT}]) | JSON,
                      "enterprise_id": JSON, "is_ext_shared_channel": JSON})))
    elif kind == "command":
        fields = draw(st.dictionaries(st.sampled_from(["command", "text", "user_id", "channel_id", "team_id",
                                                       "response_url", "trigger_id"]), texts(20, 0)))
        body = urlencode(fields)
    elif kind == "payload":
        body = urlencode({"payload": json.dumps(draw(JSON)) if draw(st.booleans()) else draw(texts(30, 0))})
    elif kind == "json":
        body = json.dumps(draw(JSON))
    elif kind == "text":
        body = draw(texts(60, 3000))
    else:
        raw = draw(st.binary(max_size=300))
        return raw, signed_headers(raw.decode("latin-1"), draw(STAMPS), draw(SIGNATURES)) | {
            "Content-Type": draw(st.sampled_from(CONTENT_TYPES))}
    headers = signed_headers(body, draw(STAMPS), draw(SIGNATURES))
    return body.encode("utf-8", "surrogatepass"), headers | {"Content-Type": draw(st.sampled_from(CONTENT_TYPES))}


async def _authorize(**_: Any) -> AuthorizeResult:
    return AuthorizeResult(enterprise_id=None, team_id="T1", bot_user_id=SLACK_BOT, bot_id="B1",
                           bot_token="xoxb-fuzz")


class Gate:
    """The gate of `SlackAdapter` (`web_app` in front of Bolt) served on loopback; a middleware notes every
    exception the gate lets out (aiohttp would answer it with a 500 and a logged traceback)."""

    def __init__(self) -> None:
        self.escaped: list[BaseException] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        bolt = AsyncApp(authorize=_authorize, request_verification_enabled=False)
        application = web_app(bolt, "/slack/events", SIGNING_SECRET)

        @web.middleware
        async def watch(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                        ) -> web.StreamResponse:
            try:
                return await handler(request)
            except web.HTTPException:
                raise
            except Exception as err:
                self.escaped.append(err)
                raise

        application.middlewares.append(watch)
        self._runner = web.AppRunner(application)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/slack/events"
        self.session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def check(self, value: tuple[bytes, dict[str, str]]) -> None:
        body, headers = value
        assert self.session is not None
        try:
            async with self.session.post(self.url, data=body, headers=headers) as response:
                status = response.status
                await response.read()
        except (ValueError, aiohttp.ClientError) as err:  # e.g. a header with a line break: never sent
            raise NotOurs from err
        if self.escaped:
            raise self.escaped.pop()
        assert status < 500, f"HTTP {status} from Bolt, the gate having let the request through"


# --- the run ------------------------------------------------------------------------------------------------


async def _engine(redis: Redis, work: Path) -> Engine:
    embedder = SentenceTransformerEmbedder()
    store = VersionStore(work / "kb")
    cache = EmbeddingCache(work / "embeddings.sqlite")
    try:
        await asyncio.to_thread(build_version, DEMO_STORE, store, embedder, cache, BuildOptions())
    finally:
        cache.close()
    handle = IndexHandle(store)
    await asyncio.to_thread(handle.refresh)
    return fuzz_engine(redis, handle, embedder, store, DEMO_STORE, work)


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else EXAMPLES
    logging.disable(logging.CRITICAL)  # every refusal is logged by design; the counts are what matter here
    work = Path(tempfile.mkdtemp(prefix="storebot-fuzz-"))
    loop = asyncio.new_event_loop()
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    gate = Gate()
    outcomes: list[Outcome] = []
    try:
        engine = Door(loop.run_until_complete(_engine(redis, work)))
        loop.run_until_complete(gate.start())
        slack = st.tuples(SLACK_EVENTS, SLACK_BOT_IDS)
        targets: list[tuple[str, st.SearchStrategy[Any], Callable[[Any], None]]] = [
            ("Telegram updates (odd values) → conversion", TELEGRAM_UPDATES, telegram_conversion),
            ("Telegram updates (entities cutting a character) → conversion", TELEGRAM_UPDATES_CUT_ENTITIES,
             telegram_conversion),
            ("Telegram updates (required fields missing, wrong JSON types) → conversion", TELEGRAM_UPDATES_MALFORMED,
             telegram_conversion),
            ("Telegram updates (odd values) → conversion → engine", TELEGRAM_UPDATES,
             on_loop(loop, telegram_through_engine(engine))),
            ("Slack events → conversion", slack, slack_conversion),
            ("Slack events → conversion → engine", slack, on_loop(loop, slack_through_engine(engine))),
            ("engine events (messages, buttons, staff replies, resolves, ops) → engine", ENGINE_RUNS,
             on_loop(loop, engine_events(engine))),
            ("/storebot text → parse_command → engine", COMMAND_TEXTS,
             on_loop(loop, commands_through_engine(engine))),
            ("outbox entries → decode", OUTBOX_ENTRIES, outbox_decode),
            ("HTTP requests (signed / unsigned, malformed) → Slack gate", slack_request(), on_loop(loop, gate.check)),
        ]
        for name, strategy, check in targets:
            outcomes.append(run(name, strategy, check, examples, engine))
    finally:
        loop.run_until_complete(gate.stop())
        removed = loop.run_until_complete(clean_up(redis))
        loop.run_until_complete(redis.aclose())
        loop.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"| target ({examples:,} examples each) | run | not ours | events to the engine | unhandled exceptions "
          "| property violations | seconds |\n|---|---|---|---|---|---|---|")
    for o in outcomes:
        print(f"| {o.name} | {o.examples:,} | {o.not_ours:,} | {o.engine_calls:,} | {o.exceptions:,} | "
              f"{o.violations:,} | {o.seconds:.1f} |")
    total = sum(o.exceptions for o in outcomes)
    print(f"\nTotal: {sum(o.examples for o in outcomes):,} examples, {total:,} unhandled exceptions, "
          f"{sum(o.violations for o in outcomes):,} property violations, {sum(o.seconds for o in outcomes):.0f} s; "
          f"{removed:,} Redis keys and entries of this run removed.")
    for o in outcomes:
        for where, (count, first, trace) in sorted(o.kinds.items(), key=lambda kv: -kv[1][0]):
            print(f"\n### {o.name}: {where} ×{count}\nfirst example: {first}\n{trace}")


if __name__ == "__main__":
    main()
