"""Any Slack listener's failure: logged once with the request's id, the person gets an apology, Slack its 200."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from adapters.slack.convert import from_event, thread_reply_of
from adapters.slack.formatting import notice_blocks
from adapters.slack.people import Poster

log = logging.getLogger(__name__)
FAILED = "Sorry, something went wrong on my side. Please try again in a moment."
ACK_POLL_S = 0.05  # > slack-bolt's 10 ms poll for a listener's ack (see `on_error`)
APOLOGIZED = "storebot_apologized"  # set in a request's context once the person has seen FAILED


class ErrorHandler:
    def __init__(self, poster: Poster) -> None:
        self._poster = poster

    async def on_error(self, error: Exception, body: dict[str, Any], context: AsyncBoltContext,
                       respond: AsyncRespond | None, response: BoltResponse | None) -> BoltResponse | None:
        """Bolt's global error handler. Listeners ack first, so Slack has its 200 already (`response` is
        None); a failure before the ack would answer 500 and Slack would redeliver the same doomed event,
        so the ack here is a 200 — with the apology as the ephemeral reply of a slash command."""
        log.error("Slack %s failed", describe(body), exc_info=error)
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
            log.warning("cannot apologize for the failed Slack %s: %s", describe(body), err)
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
                await self._poster.post(converted[1], FAILED, notice_blocks(FAILED))
            elif staff is not None:  # a staff reply in a handoff thread that was not relayed
                channel, thread_ts = staff.thread.split(":", 1)
                await self._poster.client.chat_postEphemeral(channel=channel, thread_ts=thread_ts, user=staff.user,
                                                             text=FAILED, blocks=notice_blocks(FAILED))
        elif respond is not None:  # buttons and slash commands: privately, through the response URL
            await respond(text=FAILED, blocks=notice_blocks(FAILED), response_type="ephemeral",
                          replace_original=False)


def describe(body: dict[str, Any]) -> str:
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
