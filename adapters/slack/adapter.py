"""The Slack transport: slack-bolt's AsyncApp over HTTP (signed requests) or Socket Mode.

Thin: `convert` turns events into the core's events, every one handed to `Engine.handle`; `formatting` turns
replies into Block Kit; `ops` runs `/storebot`; `staff` sends what the core sends to staff; `errors` answers
any listener's failure. Every request is acknowledged at once; an answer follows, behind a "thinking…"
placeholder when it is slow.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.settings_base import load
from adapters.slack.convert import SlackTarget, from_event, thread_reply_of
from adapters.slack.errors import APOLOGIZED, FAILED, ErrorHandler
from adapters.slack.formatting import FEEDBACK_ACTIONS, notice_blocks, to_slack_messages
from adapters.slack.http import retry_handlers, web_app
from adapters.slack.ops import SlashCommands
from adapters.slack.people import Poster, SlackPeople
from adapters.slack.settings import SlackSettings
from adapters.slack.staff import StaffSenders, permanent
from bot.app.services import Services
from bot.app.settings import Settings
from bot.engine import Engine
from bot.events import ButtonPress, Resolve, StaffReply
from bot.store.outbox import Outbox, start_consuming
from bot.tasks import InOrder, cancel_and_wait
from bot.types import IncomingMessage, Reply

log = logging.getLogger(__name__)
THINKING = "Thinking…"


class SlackAdapter:
    def __init__(self, settings: SlackSettings) -> None:
        self._settings = settings
        self.client = AsyncWebClient(token=settings.bot_token, retry_handlers=retry_handlers(),
                                     base_url=settings.api_base_url or AsyncWebClient.BASE_URL)
        self._poster = Poster(self.client)
        self._people = SlackPeople(self.client)
        # Over HTTP, `http.web_app` verifies every request before Bolt sees it (Bolt's verifier logs bodies).
        self.app = AsyncApp(client=self.client, signing_secret=settings.signing_secret or None,
                            request_verification_enabled=False)
        self.app.event("app_mention")(self._on_message)
        self.app.event("message")(self._on_message)
        for action in FEEDBACK_ACTIONS:
            self.app.action(action)(self._on_feedback)
        self.app.action("storebot_resolve")(self._on_resolve_button)
        self.app.command(settings.command)(self._on_command)
        self.app.error(ErrorHandler(self._poster).on_error)
        self._relay: asyncio.Task[None] | None = None
        self._outbox: Outbox | None = None
        self._in_order = InOrder()
        self._engine: Engine | None = None
        self._commands: SlashCommands | None = None
        self._runner: web.AppRunner | None = None
        self._socket: Any = None  # AsyncSocketModeHandler, imported only in Socket Mode
        self.port: int | None = None  # the bound HTTP port (useful when configured as 0)

    async def start(self, services: Services) -> None:
        self._engine = services.engine
        self._commands = SlashCommands(services.engine, self._poster, self._people, self._settings.command)
        self._outbox = services.outbox
        if services.threads is not None and not self._settings.support_channel:
            raise ValueError("SLACK_SUPPORT_CHANNEL must be set to take handed-over conversations")
        if services.outbox is not None:  # handoff threads, and answers Slack would not take at once
            staff = StaffSenders(self._poster, services.threads, self._settings.support_channel)
            self._relay = await start_consuming(services.outbox, "slack", staff.deliver)
        if self._settings.app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.app, self._settings.app_token)
            await self._socket.connect_async()
            return
        path = self._settings.events_path
        self._runner = web.AppRunner(web_app(self.app, path, self._settings.signing_secret))
        await self._runner.setup()
        await web.TCPSite(self._runner, self._settings.http_host, self._settings.http_port).start()
        self.port = self._runner.addresses[0][1]
        log.info("Slack events on http://%s:%s%s", self._settings.http_host, self.port, path)

    async def stop(self) -> None:
        if self._relay is not None:
            await cancel_and_wait(self._relay)
        if self._socket is not None:
            await self._socket.close_async()
        if self._runner is not None:
            await self._runner.cleanup()

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

    async def _on_message(self, ack: AsyncAck, event: dict[str, Any], context: dict[str, Any]) -> None:
        """Mentions in channels and direct messages are answered; other thread messages may be staff replies."""
        await ack()
        bot_user = context.get("bot_user_id")
        staff = thread_reply_of(event, bot_user)
        if staff is not None:
            await self._core.handle(StaffReply("slack", staff.thread, staff.user, staff.text, staff.message_id,
                                               self._people))
            return
        converted = from_event(event, bot_user)
        if converted is not None:
            async with self._in_order.hold(converted[0].conversation_id):  # answered and sent as they came
                await self._answer(*converted, context)

    async def _answer(self, msg: IncomingMessage, target: SlackTarget, context: dict[str, Any]) -> None:
        answering = asyncio.create_task(self._core.handle(msg))
        done, _ = await asyncio.wait({answering}, timeout=self._settings.placeholder_after_s)
        placeholder = None if done else await self._poster.post(target, THINKING, notice_blocks(THINKING))
        try:
            reply = await answering
        except Exception:
            if placeholder is not None:  # the apology replaces "Thinking…"; the error handler logs the failure
                await self._poster.send(target, placeholder, FAILED, notice_blocks(FAILED))
                context[APOLOGIZED] = True
            raise
        if reply is None:  # a duplicate delivery, a user over the rate limit, a message relayed to staff
            if placeholder is not None:
                await self.client.chat_delete(channel=target.channel, ts=placeholder)
            return
        await self._send(msg.conversation_id, target, placeholder, reply)

    async def _send(self, conversation: str, target: SlackTarget, placeholder: str | None, reply: Reply) -> None:
        """Sends the reply; if Slack will not take it now (after the client's retries), the outbox sends it when it
        does, and the conversation's next answers wait behind it, so they are read in order."""
        outbox, sent = self._outbox, 0
        messages = to_slack_messages(reply, conversation)
        try:
            if outbox is None or not await outbox.has_queued("slack", conversation):
                for message in messages:
                    await self._poster.send(target, placeholder if sent == 0 else None, message.text, message.blocks)
                    sent += 1
                return
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as err:
            if outbox is None or permanent(err):
                raise
            log.warning("answer in %s queued after %d of %d messages: %s", conversation, sent, len(messages), err)
        await outbox.queue_reply("slack", conversation, reply, sent)

    async def _on_feedback(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        action = body["actions"][0]
        press = ButtonPress("slack", str(action["value"]), str(body["user"]["id"]),
                            FEEDBACK_ACTIONS[action["action_id"]])
        reply = await self._core.handle(press)
        if reply is not None:
            await respond(text=reply.text, response_type="ephemeral", replace_original=False)

    async def _on_resolve_button(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        reply = await self._core.handle(Resolve("slack", str(body["user"]["id"]),
                                                handoff_id=str(body["actions"][0]["value"])))
        if reply is not None:
            await respond(text=reply.text, response_type="ephemeral", replace_original=False)

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        assert self._commands is not None, "start() first"
        await self._commands.on_command(ack, command, respond)


def create(settings: Settings) -> SlackAdapter:
    return SlackAdapter(load(SlackSettings))
