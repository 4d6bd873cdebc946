"""The Slack transport: slack-bolt's AsyncApp over HTTP (signed requests) or Socket Mode.

Thin: `convert` turns events into IncomingMessages, `formatting` turns Replies into Block Kit, and
`commands` parses `/storebot`. Every request is acknowledged at once; the answer follows, behind a
"thinking…" placeholder when it is slow. A failure in any listener reaches one error handler
(`_on_error`): logged once with the request's id, the person gets `FAILED`, and Slack gets a 200.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.commands import OPS_ONLY, REFUSED, Command, parse_command, usage
from adapters.slack.convert import SlackTarget, ThreadReply, from_event, thread_reply_of
from adapters.slack.formatting import FEEDBACK_ACTIONS, escape, handoff_blocks, notice_blocks, to_slack_messages
from adapters.slack.http import retry_handlers, web_app
from bot.app.services import Services
from bot.app.settings import Settings
from bot.handoff.desk import Handoff
from bot.handoff.outbox import Delivery, Undeliverable, start_consuming
from bot.ops.kb import describe_reload, describe_rollback, describe_status
from bot.ops.reports import describe
from bot.tasks import cancel_and_wait
from bot.types import Citation, IncomingMessage

log = logging.getLogger(__name__)
THINKING = "Thinking…"
PERMANENT_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive",
                    "missing_scope", "thread_not_found"}
FAILED = "Sorry, something went wrong on my side. Please try again in a moment."
ACK_POLL_S = 0.05  # > slack-bolt's 10 ms poll for a listener's ack (see `_on_error`)
APOLOGIZED = "storebot_apologized"  # set in a request's context once the person has seen FAILED


@dataclass(frozen=True, slots=True)
class SlackConfig:
    bot_token: str
    signing_secret: str = ""  # HTTP mode: every request must carry a valid signature
    app_token: str = ""  # set: Socket Mode (no public URL needed)
    api_base_url: str = ""  # another Web API server; empty: Slack's
    host: str = "127.0.0.1"
    port: int = 3000
    events_path: str = "/slack/events"
    ops_user_ids: frozenset[str] = frozenset()
    ops_usergroup: str = ""
    placeholder_after_s: float = 1.0
    command: str = "/storebot"
    support_channel: str = ""  # where handed-over conversations open as threads


class SlackAdapter:
    def __init__(self, config: SlackConfig) -> None:
        self._config = config
        self.client = AsyncWebClient(token=config.bot_token, base_url=config.api_base_url or AsyncWebClient.BASE_URL,
                                     retry_handlers=retry_handlers())
        # Over HTTP, `http.web_app` verifies every request before Bolt sees it (Bolt's verifier logs bodies).
        self.app = AsyncApp(client=self.client, signing_secret=config.signing_secret or None,
                            request_verification_enabled=False)
        self.app.event("app_mention")(self._on_message)
        self.app.event("message")(self._on_message)
        for action in FEEDBACK_ACTIONS:
            self.app.action(action)(self._on_feedback)
        self.app.action("storebot_resolve")(self._on_resolve_button)
        self.app.command(config.command)(self._on_command)
        self.app.error(self._on_error)
        self._relay: asyncio.Task[None] | None = None
        self._names: dict[str, str] = {}
        self._services: Services | None = None
        self._runner: web.AppRunner | None = None
        self._socket: Any = None  # AsyncSocketModeHandler, imported only in Socket Mode
        self.port: int | None = None  # the bound HTTP port (useful when configured as 0)

    async def start(self, services: Services) -> None:
        self._services = services
        if services.outbox is not None and services.desk is not None:
            self._relay = await start_consuming(services.outbox, "slack", self._deliver)
        if self._config.app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.app, self._config.app_token)
            await self._socket.connect_async()
            return
        self._runner = web.AppRunner(web_app(self.app, self._config.events_path, self._config.signing_secret))
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._config.host, self._config.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("Slack events on http://%s:%s%s", self._config.host, self.port, self._config.events_path)

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
    def _core(self) -> Services:
        assert self._services is not None, "start() first"
        return self._services

    # Events: mentions in channels, direct messages ------------------------------------------

    async def _on_message(self, ack: AsyncAck, event: dict[str, Any], context: dict[str, Any]) -> None:
        await ack()
        bot_user = context.get("bot_user_id")
        reply = thread_reply_of(event, bot_user)
        if reply is not None:
            await self._staff_reply(reply)
            return
        converted = from_event(event, bot_user)
        if converted is None:
            return
        msg, target = converted
        if msg.text.strip().lower() == "resolve" and target.thread_ts and self._core.desk is not None:
            handoff = await self._core.desk.by_thread(f"{target.channel}:{target.thread_ts}")
            if handoff is not None:  # "@storebot resolve" inside a handoff thread
                await self._resolve(handoff.id, msg.user_id, target)
                return
        await self._answer(msg, target, context)

    async def _answer(self, msg: IncomingMessage, target: SlackTarget, context: dict[str, Any]) -> None:
        answering = asyncio.create_task(self._core.engine.handle(msg))
        done, _ = await asyncio.wait({answering}, timeout=self._config.placeholder_after_s)
        placeholder = None if done else await self._post(target, THINKING, notice_blocks(THINKING))
        try:
            reply = await answering
        except Exception:
            if placeholder is not None:  # the apology replaces "Thinking…"; `_on_error` logs the failure
                await self._send(target, placeholder, FAILED, notice_blocks(FAILED))
                context[APOLOGIZED] = True
            raise
        if reply is None:  # a duplicate delivery, or a user over the rate limit
            if placeholder is not None:
                await self.client.chat_delete(channel=target.channel, ts=placeholder)
            return
        for number, message in enumerate(to_slack_messages(reply, msg.conversation_id)):
            await self._send(target, placeholder if number == 0 else None, message.text, message.blocks)

    # Any listener's failure ------------------------------------------------------------------------

    async def _on_error(self, error: Exception, body: dict[str, Any], context: AsyncBoltContext,
                        respond: AsyncRespond | None, response: BoltResponse | None) -> BoltResponse | None:
        """Bolt's global error handler. Listeners ack first, so Slack has its 200 already (`response` is
        None); a failure before the ack would answer 500 and Slack would redeliver the same doomed event,
        so the ack here is a 200 — with the apology as the ephemeral reply of a slash command."""
        log.error("Slack %s failed", _describe(body), exc_info=error)
        if context.get(APOLOGIZED):
            if response is None:
                await asyncio.sleep(ACK_POLL_S)  # see below
                return None
            return BoltResponse(status=200, body="")
        is_command = "command" in body and "event" not in body
        if response is not None and is_command:
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": FAILED})
        try:
            await self._apologize(body, context, respond)
        except Exception as err:  # Slack itself unreachable: nothing more to tell anyone
            log.warning("cannot apologize for the failed Slack %s: %s", _describe(body), err)
        if response is None:
            # Acknowledged already. Bolt (1.30) then sets `ack.response = None` once this handler returns,
            # while its dispatcher polls `ack.response` every 10 ms: a listener failing within 10 ms of its
            # ack would turn the 200 into a 3 s wait and a 404. Outlasting one poll lets the 200 go out.
            await asyncio.sleep(ACK_POLL_S)
            return None
        return BoltResponse(status=200, body="")

    async def _apologize(self, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond | None) -> None:
        event = body.get("event")
        if isinstance(event, dict):
            bot_user = context.get("bot_user_id")
            converted = from_event(event, bot_user)
            staff = thread_reply_of(event, bot_user)
            if converted is not None:
                await self._post(converted[1], FAILED, notice_blocks(FAILED))
            elif staff is not None:  # a staff reply in a handoff thread that was not relayed
                channel, thread_ts = staff.thread.split(":", 1)
                await self.client.chat_postEphemeral(channel=channel, thread_ts=thread_ts, user=staff.user,
                                                     text=FAILED, blocks=notice_blocks(FAILED))
        elif respond is not None:  # buttons and slash commands: privately, through the response URL
            await respond(text=FAILED, blocks=notice_blocks(FAILED), response_type="ephemeral",
                          replace_original=False)

    async def _post(self, target: SlackTarget, text: str, blocks: Any) -> str:
        response = await self.client.chat_postMessage(channel=target.channel, thread_ts=target.thread_ts, text=text,
                                                      blocks=blocks, unfurl_links=False, unfurl_media=False)
        return str(response["ts"])

    async def _send(self, target: SlackTarget, replace: str | None, text: str, blocks: Any) -> None:
        """Updates the placeholder in place when there is one, else posts a new message."""
        if replace is None:
            await self._post(target, text, blocks)
        else:
            await self.client.chat_update(channel=target.channel, ts=replace, text=text, blocks=blocks)

    # 👍/👎 -------------------------------------------------------------------------------------

    async def _on_feedback(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        action = body["actions"][0]
        kind = FEEDBACK_ACTIONS[action["action_id"]]
        text = await self._core.engine.feedback("slack", str(action["value"]), str(body["user"]["id"]), kind)
        await respond(text=text, response_type="ephemeral", replace_original=False)

    # Handoff: threads in the support channel ----------------------------------------------------

    async def _deliver(self, delivery: Delivery) -> None:
        """What the desk sends to staff: a new handoff thread, the shopper's messages, reminders, closure."""
        try:
            await self._deliver_to_staff(delivery)
        except SlackApiError as err:
            if err.response.get("error") in PERMANENT_ERRORS:  # retrying cannot help; ops must fix the setting
                raise Undeliverable(f"Slack: {err.response.get('error')}") from err
            raise

    async def _deliver_to_staff(self, delivery: Delivery) -> None:
        desk = self._core.desk
        assert desk is not None
        handoff = await desk.get(delivery.fields.get("handoff", ""))
        if handoff is None:
            log.warning("delivery %s for an unknown handoff dropped", delivery.id)
            return
        fields = delivery.fields
        if delivery.kind == "opened":
            if not handoff.thread:  # else already posted: this is a redelivery after a restart
                sources = [Citation(**c) for c in json.loads(fields.get("sources", "[]"))]
                await self._open_thread(handoff, json.loads(fields.get("transcript", "[]")),
                                        fields.get("last_answer", ""), sources)
            return
        # Normally the thread exists by now; if its opening could not be posted, open it without the transcript.
        channel, thread_ts = (handoff.thread or await self._open_thread(handoff, [], "", [])).split(":", 1)
        thread = SlackTarget(channel, thread_ts)
        if delivery.kind == "shopper":
            text = f"{handoff.name}: {fields['text']}"
            await self._post(thread, escape(text), notice_blocks(text))
        elif delivery.kind == "reminder":
            text = f"<!here> Nobody has answered {escape(handoff.name)} for {fields.get('minutes', '?')} min."
            await self._post(thread, text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])
        elif delivery.kind == "resolved":
            text = f"Resolved by <@{fields.get('by', '')}>. The bot answers {escape(handoff.name)} again."
            await self._post(thread, text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])

    async def _open_thread(self, handoff: Handoff, transcript: list[dict[str, str]], last_answer: str,
                           sources: list[Citation]) -> str:
        assert self._core.desk is not None
        target = SlackTarget(self._config.support_channel, None)
        blocks = handoff_blocks(handoff.id, handoff.name, handoff.platform, handoff.reason, transcript, last_answer,
                                sources)
        ts = await self._post(target, f"Handoff {handoff.id}: {escape(handoff.name)} needs a person", blocks)
        thread = f"{target.channel}:{ts}"
        await self._core.desk.attach_thread(handoff.id, thread)
        return thread

    async def _staff_reply(self, reply: ThreadReply) -> None:
        desk = self._core.desk
        handoff = await desk.by_thread(reply.thread) if desk is not None else None
        if desk is None or handoff is None or handoff.status != "open":
            return  # an ordinary thread, or a closed handoff: staff talking among themselves
        await desk.from_staff(handoff, await self._name_of(reply.user), reply.text, reply.message_id)

    async def _name_of(self, user: str) -> str:
        if user not in self._names:
            try:
                profile = (await self.client.users_info(user=user)).get("user") or {}
            except SlackApiError:
                profile = {}
            details = profile.get("profile") or {}
            self._names[user] = details.get("display_name") or details.get("real_name") or profile.get("name") or user
        return self._names[user]

    async def _on_resolve_button(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        handoff_id = str(body["actions"][0]["value"])
        if self._core.desk is None or await self._core.desk.resolve(handoff_id, str(body["user"]["id"])) is None:
            await respond(text=f"Handoff {handoff_id} is already closed.", response_type="ephemeral",
                          replace_original=False)

    async def _resolve(self, handoff_id: str, user: str, target: SlackTarget) -> None:
        if self._core.desk is None or await self._core.desk.resolve(handoff_id, user) is None:
            await self._post(target, f"Handoff {handoff_id} is already closed.",
                             notice_blocks(f"Handoff {handoff_id} is already closed."))

    # /storebot --------------------------------------------------------------------------------

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        parsed = parse_command(str(command.get("text") or ""))
        user, channel = str(command["user_id"]), str(command["channel_id"])
        if parsed is None:
            await ack(text=usage(self._config.command))
            return
        if parsed.name in OPS_ONLY:
            await self._ops_command(ack, respond, parsed, user, channel)
        elif parsed.name == "resolve":
            desk = self._core.desk
            closed = desk is not None and await desk.resolve(parsed.argument.upper(), user) is not None
            await ack(text=f"Handoff {parsed.argument} resolved." if closed else
                      f"No open handoff {parsed.argument}.")
        elif parsed.name == "kb status":
            await ack(text=describe_status(await self._core.ops.status()))
        else:  # ask
            await ack(text=f"Looking up: {parsed.argument}")
            msg = IncomingMessage("slack", f"{channel}:command:{user}", user, parsed.argument,
                                  event_id=f"command:{command.get('trigger_id', '')}", is_staff=True)
            reply = await self._core.engine.handle(msg)
            if reply is not None:
                for message in to_slack_messages(reply, msg.conversation_id):
                    await respond(text=message.text, blocks=list(message.blocks), response_type="ephemeral")

    async def _ops_command(self, ack: AsyncAck, respond: AsyncRespond, parsed: Command, user: str,
                           channel: str) -> None:
        allowed = await self._is_ops(user)
        await self._core.ops.audit("slack", user, parsed.name, allowed)
        if not allowed:
            await ack(text=REFUSED)
            return
        if parsed.name == "report":
            await ack(text="Building the report…")
            reports = self._core.reports
            text = describe(await reports.build(parsed.days * 86400)) if reports else "Reports need Redis."
            await respond(text=text, blocks=notice_blocks(text), response_type="ephemeral")
            return
        if parsed.name == "kb rollback":
            await ack(text="Rolling back…")
            text = describe_rollback(await self._core.ops.rollback())
            await respond(text=text, blocks=notice_blocks(text, user), response_type="in_channel")
            return
        await ack(text="Reload started: the current version keeps serving until the new one is ready.")
        await self._reload(respond, user, channel)

    async def _reload(self, respond: AsyncRespond, user: str, channel: str) -> None:
        """Progress and the result in one channel message, updated in place; via the command's
        response URL when the bot is not in that channel."""
        target = SlackTarget(channel, None)
        status: str | None = None
        try:
            status = await self._post(target, "Reloading…", notice_blocks("Knowledge-base reload: starting…", user))
        except SlackApiError as err:
            log.info("cannot post reload progress in %s (%s); reporting through the response URL", channel, err)

        async def progress(stage: str) -> None:
            if status is not None:
                text = f"Knowledge-base reload: {stage}…"
                await self.client.chat_update(channel=channel, ts=status, text=text, blocks=notice_blocks(text, user))

        text = describe_reload(await self._core.ops.reload(progress))
        if status is not None:
            await self._send(target, status, text, notice_blocks(text, user))
        else:
            await respond(text=text, blocks=notice_blocks(text, user), response_type="in_channel")

    async def _is_ops(self, user: str) -> bool:
        if user in self._config.ops_user_ids:
            return True
        if not self._config.ops_usergroup:
            return False
        try:
            members = await self.client.usergroups_users_list(usergroup=self._config.ops_usergroup)
        except SlackApiError as err:
            log.warning("cannot read ops user group %s: %s", self._config.ops_usergroup, err)
            return False
        return user in (members.get("users") or [])


def _describe(body: dict[str, Any]) -> str:
    """What failed, for the log: the event id, or the action / command and who sent it."""
    event, user = body.get("event"), body.get("user")
    if isinstance(event, dict):
        return (f"event {body.get('event_id', '?')} ({event.get('type')} from {event.get('user', '?')} in "
                f"{event.get('channel', '?')})")
    if isinstance(user, dict) and body.get("actions"):
        actions = ",".join(str(a.get("action_id")) for a in body["actions"])
        return f"action {actions} by {user.get('id', '?')} (trigger {body.get('trigger_id', '?')})"
    if "command" in body:
        subcommand = str(body.get("text") or "").split(" ")[0]  # not the rest: an `ask` is the person's words
        return (f"command {body.get('command')} {subcommand!r} by {body.get('user_id', '?')} in "
                f"{body.get('channel_id', '?')} (trigger {body.get('trigger_id', '?')})")
    return f"request {body.get('type', '?')} by {user.get('id', '?') if isinstance(user, dict) else user}"


def create(settings: Settings) -> SlackAdapter:
    if not settings.slack_bot_token:
        raise ValueError("SLACK_BOT_TOKEN is not set")
    if not settings.slack_app_token and not settings.slack_signing_secret:
        raise ValueError("set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)")
    ops = frozenset(u.strip() for u in settings.slack_ops_user_ids.split(",") if u.strip())
    return SlackAdapter(SlackConfig(
        settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token,
        settings.slack_api_base_url, settings.slack_http_host, settings.slack_http_port, settings.slack_events_path,
        ops, settings.slack_ops_usergroup, settings.slack_placeholder_after_s, settings.slack_command,
        settings.slack_support_channel,
    ))
