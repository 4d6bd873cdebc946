"""`/storebot`: parsed here (Slack's syntax), run by the core (`Engine.handle`), answered privately or, for a
reload or rollback, in the channel with its progress updated in place."""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError

from adapters.slack.commands import parse_command, usage
from adapters.slack.convert import SlackTarget
from adapters.slack.formatting import notice_blocks, to_slack_messages
from adapters.slack.people import Poster, SlackPeople
from bot.engine import Engine
from bot.events import OpsAction, OpsCommand, Resolve
from bot.types import IncomingMessage

log = logging.getLogger(__name__)
STARTED = {"kb reload": "Reload started: the current version keeps serving until the new one is ready.",
           "kb rollback": "Rolling back…", "report": "Building the report…"}
ACTIONS: dict[str, OpsAction] = {"kb reload": "kb reload", "kb rollback": "kb rollback", "report": "report"}
IN_CHANNEL = frozenset({"kb reload", "kb rollback"})  # everyone in the channel sees what changed


class SlashCommands:
    def __init__(self, engine: Engine, poster: Poster, people: SlackPeople, command: str) -> None:
        self._engine = engine
        self._poster = poster
        self._people = people
        self._command = command

    async def on_command(self, ack: AsyncAck, command: dict[str, str], respond: AsyncRespond) -> None:
        parsed = parse_command(str(command.get("text") or ""))
        user, channel = str(command["user_id"]), str(command["channel_id"])
        if parsed is None:
            await ack(text=usage(self._command))
        elif parsed.name == "ask":
            await ack(text=f"Looking up: {parsed.argument}")
            msg = IncomingMessage("slack", f"{channel}:command:{user}", user, parsed.argument,
                                  event_id=f"command:{command.get('trigger_id', '')}", is_staff=True)
            reply = await self._engine.handle(msg)
            for message in to_slack_messages(reply, msg.conversation_id) if reply is not None else []:
                await respond(text=message.text, blocks=list(message.blocks), response_type="ephemeral")
        elif parsed.name == "resolve":
            reply = await self._engine.handle(Resolve("slack", user, handoff_id=parsed.argument))
            await ack(text=reply.text if reply is not None else "")
        elif parsed.name == "kb status":
            reply = await self._engine.handle(OpsCommand("slack", user, "kb status", directory=self._people))
            await ack(text=reply.text if reply is not None else "")
        else:
            await self._ops(ack, respond, parsed.name, user, channel, parsed.days)

    async def _ops(self, ack: AsyncAck, respond: AsyncRespond, name: str, user: str, channel: str,
                   days: float) -> None:
        """Refused (or failed) at once: said in the ack. Accepted (the core's first progress call): the ack says
        it started, and the result follows — in the channel for a reload or rollback, privately otherwise."""
        accepted = asyncio.Event()
        progress = ChannelProgress(self._poster, channel, user)

        async def on_progress(stage: str) -> None:
            accepted.set()
            if name == "kb reload":
                await progress.update(stage)

        command = OpsCommand("slack", user, ACTIONS[name], days, self._people, on_progress)
        running = asyncio.create_task(self._engine.handle(command))
        waiting = asyncio.create_task(accepted.wait())
        await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if running.done() and not accepted.is_set():
            reply = running.result()  # a failure goes to the error handler, which acks with the apology
            await ack(text=reply.text if reply is not None else "")
            return
        await ack(text=STARTED[name])
        reply = await running
        if reply is None:
            return
        public = name in IN_CHANNEL
        blocks = notice_blocks(reply.text, user if public else None)
        if public and await progress.finish(reply.text, blocks):
            return
        await respond(text=reply.text, blocks=blocks, response_type="in_channel" if public else "ephemeral")


class ChannelProgress:
    """A reload's stages in one channel message, posted at its first stage and updated in place; when the bot
    cannot post in that channel, the result goes through the command's response URL instead."""

    def __init__(self, poster: Poster, channel: str, user: str) -> None:
        self._poster = poster
        self._target = SlackTarget(channel, None)
        self._user = user
        self._status: str | None = None
        self._failed = False

    async def update(self, stage: str) -> None:
        text = f"Knowledge-base reload: {stage}…"
        if self._failed:
            return
        try:
            if self._status is None:
                self._status = await self._poster.post(self._target, text, notice_blocks(text, self._user))
            else:
                await self._poster.send(self._target, self._status, text, notice_blocks(text, self._user))
        except SlackApiError as err:
            self._failed = True
            log.info("cannot post reload progress in %s (%s); reporting through the response URL",
                     self._target.channel, err)

    async def finish(self, text: str, blocks: object) -> bool:
        """The result in the progress message; False when there is none to update."""
        if self._status is None:
            return False
        await self._poster.send(self._target, self._status, text, blocks)
        return True
