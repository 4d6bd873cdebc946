"""The Slack transport: slack-bolt's AsyncApp over HTTP (signed requests) or Socket Mode.

Thin: `convert` turns events into the core's events, every one handed to `Engine.handle`; `formatting` turns
replies into Block Kit; `ops` runs `/storebot`; `staff` sends what the core sends to staff; `errors` answers
any listener's failure; `questions` takes a shopper's question in (before its acknowledgement) and answers it,
behind a "thinking…" placeholder when it is slow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.settings_base import load
from adapters.slack.convert import from_event, thread_reply_of
from adapters.slack.errors import ErrorHandler
from adapters.slack.formatting import FEEDBACK_ACTIONS
from adapters.slack.http import retry_handlers, web_app
from adapters.slack.ops import SlashCommands
from adapters.slack.people import Poster, SlackPeople
from adapters.slack.questions import Questions
from adapters.slack.settings import SlackSettings
from adapters.slack.staff import StaffSenders
from bot.app.services import Services
from bot.app.settings import STOP_GRACE_S, Settings
from bot.engine import Engine
from bot.events import ButtonPress, Resolve, StaffReply
from bot.store.journal import Journal, Taken
from bot.store.outbox import start_consuming
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)
EXPIRED = "This button has expired."
TAKEN_IN = "storebot_taken_in"  # the context key for what `_take_in` took


class SlackAdapter:
    def __init__(self, settings: SlackSettings, stop_grace_s: float = STOP_GRACE_S) -> None:
        self._settings, self._stop_grace_s = settings, stop_grace_s
        self.client = AsyncWebClient(token=settings.bot_token, retry_handlers=retry_handlers(),
                                     base_url=settings.api_base_url or AsyncWebClient.BASE_URL)
        self._poster = Poster(self.client)
        self._people = SlackPeople(self.client)
        # Over HTTP, `http.web_app` verifies every request before Bolt sees it (Bolt's verifier logs bodies).
        self.app = AsyncApp(client=self.client, signing_secret=settings.signing_secret or None,
                            request_verification_enabled=False)
        self.app.middleware(self._take_in)
        self.app.event("app_mention")(self._on_message)
        self.app.event("message")(self._on_message)
        for action in FEEDBACK_ACTIONS:
            self.app.action(action)(self._on_feedback)
        self.app.action("storebot_resolve")(self._on_resolve_button)
        self.app.command(settings.command)(self._on_command)
        self.app.error(ErrorHandler(self._poster).on_error)
        self._background: list[asyncio.Task[None]] = []
        self._questions: Questions | None = None
        self._journal: Journal | None = None
        self._engine: Engine | None = None
        self._commands: SlashCommands | None = None
        self._runner: web.AppRunner | None = None
        self._socket: Any = None  # AsyncSocketModeHandler, imported only in Socket Mode
        self.port: int | None = None  # the bound HTTP port (useful when configured as 0)

    async def start(self, services: Services) -> None:
        self._engine, self._journal = services.engine, services.journal
        self._commands = SlashCommands(services.engine, self._poster, self._people, self._settings.command)
        self._questions = Questions(services.engine, self._poster, services.outbox, services.journal,
                                   self._settings.placeholder_after_s)
        if services.threads is not None and not self._settings.support_channel:
            raise ValueError("SLACK_SUPPORT_CHANNEL must be set to take handed-over conversations")
        if services.outbox is not None:  # handoff threads, and answers Slack would not take at once
            staff = StaffSenders(self._poster, services.threads, self._settings.support_channel)
            self._background.append(await start_consuming(services.outbox, "slack", staff.deliver))
        if services.journal is not None:
            self._background.append(asyncio.create_task(services.journal.run("slack", self._answer_again)))
        if self._settings.app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.app, self._settings.app_token)
            await self._socket.connect_async()
            return
        path = self._settings.events_path
        self._runner = web.AppRunner(web_app(self.app, path, self._settings.signing_secret),
                                     shutdown_timeout=self._stop_grace_s)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._settings.http_host, self._settings.http_port).start()
        self.port = self._runner.addresses[0][1]
        log.info("Slack events on http://%s:%s%s", self._settings.http_host, self.port, path)

    async def stop(self) -> None:
        """Takes no new event, lets the questions in hand be answered (within the stop grace), then leaves: what
        is still unanswered is adopted by another process at once."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._stop_grace_s
        if self._socket is not None:
            await self._socket.close_async()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._journal is not None:
            await self._journal.drain("slack", give_up - loop.time())
        await cancel_and_wait(*self._background)

    async def run(self, services: Services) -> None:
        await self.start(services)
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            await self.stop()

    @property
    def _core(self) -> Engine:
        assert self._engine is not None, "start() first"
        return self._engine

    async def _take_in(self, body: dict[str, Any], context: AsyncBoltContext,
                       next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        """Before Bolt acknowledges an event — at once, for the Events API — a question is taken into the journal,
        so an acknowledged question is never lost; a delivery again of one ends here."""
        event = body.get("event")
        if isinstance(event, dict) and self._questions is not None:
            taking = await self._questions.take_in(event, context.get("bot_user_id"))
            if taking == "again":
                return BoltResponse(status=200, body="")
            context[TAKEN_IN] = taking
        await next()
        return None

    async def _on_message(self, ack: AsyncAck, event: dict[str, Any], context: dict[str, Any]) -> None:
        """Mentions in channels and direct messages are answered; other thread messages may be staff replies."""
        bot_user = context.get("bot_user_id")
        staff = thread_reply_of(event, bot_user)
        if staff is not None:
            await ack()
            await self._core.handle(StaffReply("slack", staff.thread, staff.user, staff.text, staff.message_id,
                                               self._people))
            return
        converted = from_event(event, bot_user)
        if converted is None:
            await ack()
            return
        assert self._questions is not None, "start() first"
        await self._questions.answer(context.get(TAKEN_IN), *converted, context)

    async def _answer_again(self, taken: Taken) -> None:
        assert self._questions is not None, "start() first"
        await self._questions.answer_again(taken)

    async def _on_feedback(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        action, value = body["actions"][0], await _button_value(body, respond)
        if value is not None:
            reply = await self._core.handle(ButtonPress("slack", value, str(body["user"]["id"]),
                                                        FEEDBACK_ACTIONS[action["action_id"]]))
            if reply is not None:
                await respond(text=reply.text, response_type="ephemeral", replace_original=False)

    async def _on_resolve_button(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        value = await _button_value(body, respond)
        if value is not None:
            reply = await self._core.handle(Resolve("slack", str(body["user"]["id"]), handoff_id=value))
            if reply is not None:
                await respond(text=reply.text, response_type="ephemeral", replace_original=False)

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        assert self._commands is not None, "start() first"
        await self._commands.on_command(ack, command, respond)


async def _button_value(body: dict[str, Any], respond: AsyncRespond) -> str | None:
    """The pressed button's value (the gate checked the rest of the press); a button without one is not ours."""
    value = body["actions"][0].get("value")
    if isinstance(value, str):
        return value
    log.warning("Slack button %s pressed without a value: answered as expired", body["actions"][0]["action_id"])
    await respond(text=EXPIRED, response_type="ephemeral", replace_original=False)
    return None


def create(settings: Settings) -> SlackAdapter:
    return SlackAdapter(load(SlackSettings), settings.stop_grace_s)
