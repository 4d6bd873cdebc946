"""What the core sends to Slack later, one sender per outbound event: a handoff opens as a thread in the support
channel, the shopper's messages, reminders and the closing follow in it; an answer Slack did not take at once."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from adapters.slack.convert import SlackTarget
from adapters.slack.formatting import escape, handoff_blocks, notice_blocks, to_slack_messages
from adapters.slack.people import Poster
from bot.outbound import HandoffOpened, HandoffThreads, Reminder, ReplyTo, Resolved, ShopperToStaff
from bot.store.outbox import Delivery, Undeliverable

log = logging.getLogger(__name__)
PERMANENT_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive",
                    "missing_scope", "thread_not_found"}


def permanent(err: Exception) -> bool:
    """A Slack error retrying cannot fix (a setting or permission ops must change)."""
    data = err.response.data if isinstance(err, SlackApiError) else None
    return isinstance(data, dict) and data.get("error") in PERMANENT_ERRORS  # a 5xx body may not even be JSON


class StaffSenders:
    def __init__(self, poster: Poster, threads: HandoffThreads | None, support_channel: str) -> None:
        self._poster = poster
        self._threads = threads
        self._channel = support_channel

    async def deliver(self, delivery: Delivery) -> None:
        try:
            await self._send(delivery)
        except SlackApiError as err:
            if permanent(err):  # retrying cannot help; ops must fix the setting
                raise Undeliverable(f"Slack: {err}") from err
            raise

    async def _send(self, delivery: Delivery) -> None:
        if isinstance(delivery.event, ReplyTo):  # an answer Slack did not take at once
            channel, _, thread = delivery.event.conversation.partition(":")
            for part in to_slack_messages(delivery.event.reply, delivery.event.conversation)[
                    delivery.event.sent_parts:]:
                await self._poster.post(SlackTarget(channel, thread or None), part.text, part.blocks)
            return
        match delivery.event:
            case HandoffOpened() as opened:
                if not await self._desk.thread_of(opened.handoff):  # else a redelivery after a restart
                    await self._open_thread(opened)
            case ShopperToStaff() as message:
                text = f"{message.name}: {message.text}"
                await self._poster.post(await self._thread(message.handoff, message.name), escape(text),
                                        notice_blocks(text))
            case Reminder() as reminder:
                await self._mention(reminder.handoff, reminder.name, f"<!here> Nobody has answered "
                                    f"{escape(reminder.name)} for {reminder.minutes} min.")
            case Resolved() as resolved:
                await self._mention(resolved.handoff, resolved.name, f"Resolved by <@{resolved.by}>. The bot "
                                    f"answers {escape(resolved.name)} again.")
            case other:
                log.warning("delivery %s (%s) is not for staff: dropped", delivery.id, type(other).__name__)

    @property
    def _desk(self) -> HandoffThreads:
        if self._threads is None:
            raise Undeliverable("a handoff event, but no handoff desk in this process (HANDOFF_TO is empty)")
        return self._threads

    async def _mention(self, handoff: str, name: str, mrkdwn: str) -> None:
        blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}]
        await self._poster.post(await self._thread(handoff, name), mrkdwn, blocks)

    async def _thread(self, handoff: str, name: str) -> SlackTarget:
        """The handoff's thread; normally open by now, else (its opening could not be posted) opened bare."""
        thread = await self._desk.thread_of(handoff) or await self._open_thread(HandoffOpened(handoff, "", name,
                                                                                                 ""))
        channel, thread_ts = thread.split(":", 1)
        return SlackTarget(channel, thread_ts)

    async def _open_thread(self, opened: HandoffOpened) -> str:
        transcript = [{"role": line.role, "text": line.text} for line in opened.transcript]
        blocks = handoff_blocks(opened.handoff, opened.name, opened.platform, opened.reason, transcript,
                                opened.last_answer, list(opened.sources))
        ts = await self._poster.post(SlackTarget(self._channel, None),
                                     f"Handoff {opened.handoff}: {escape(opened.name)} needs a person", blocks)
        thread = f"{self._channel}:{ts}"
        await self._desk.attach_thread(opened.handoff, thread)
        return thread
