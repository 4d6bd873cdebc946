"""A shopper's question on Slack, from taking it in to its answer posted.

Slack wants its 200 within three seconds and retries only a few times, so with Redis a question is taken into
the journal (bot/store/journal.py) before it is acknowledged: a delivery again is dropped there, the
conversation's questions are answered in the order they were taken whichever process took them, and if this
process dies before answering, another one answers. While Redis is unreachable the question is acknowledged
anyway and kept here until it can be taken in. Without Redis (the demo), it is answered at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError

from adapters.slack.convert import SlackTarget, from_event
from adapters.slack.errors import APOLOGIZED, FAILED
from adapters.slack.formatting import notice_blocks, to_slack_messages
from adapters.slack.people import Poster
from adapters.slack.staff import permanent
from bot.engine import Engine
from bot.store.journal import Journal, Taken, platform_order
from bot.store.outbox import Outbox
from bot.tasks import InOrder, passing, retry_passing
from bot.types import IncomingMessage, Reply

log = logging.getLogger(__name__)
THINKING = "Thinking…"
KEPT_SETTLE_S = 0.5  # > the 0.1 s a kept question waits between tries: every process has taken its own by then


@dataclass(frozen=True, slots=True)
class Kept:
    """A question that could not be taken in (Redis unreachable), kept in this process until it can."""

    conversation: str
    event: str  # "channel:ts"
    payload: str

    @property
    def order(self) -> float:
        """The message's place in its conversation: Slack's ts."""
        return platform_order(self.event.rpartition(":")[2])


class Questions:
    def __init__(self, core: Engine, poster: Poster, outbox: Outbox | None, journal: Journal | None,
                 placeholder_after_s: float) -> None:
        self._core = core
        self._poster = poster
        self._outbox = outbox
        self._journal = journal
        self._placeholder_after_s = placeholder_after_s
        self._in_order = InOrder()  # in arrival order within this process: without a journal, or Redis
        self._keeping: Counter[str] = Counter()  # questions kept here (Redis unreachable), per conversation

    async def take_in(self, event: dict[str, Any], bot_user: str | None) -> Taken | Kept | Literal["again"] | None:
        """Run before Bolt acknowledges the event (at once, for the Events API): the question taken into the
        journal, or kept here while Redis is unreachable; "again" for a delivery again of a question taken
        already; None when there is nothing to take (not a question, or no journal)."""
        converted = from_event(event, bot_user)
        if self._journal is None or converted is None or converted[0].event_id is None:
            return None
        msg = converted[0]
        kept = Kept(msg.conversation_id, str(msg.event_id), json.dumps({"event": event, "bot_user": bot_user}))
        if self._keeping[kept.conversation]:  # behind the conversation's kept questions, in the order they came
            self._keeping[kept.conversation] += 1
            return kept
        try:
            taken = await self._journal.take("slack", kept.conversation, kept.event, kept.order, kept.payload)
        except Exception as err:
            if not passing(err):
                raise
            log.warning("Slack event %s kept in this process until Redis is back (%s)", kept.event, err)
            self._keeping[kept.conversation] += 1
            return kept
        return "again" if taken is None else taken

    async def answer(self, taking: Taken | Kept | None, msg: IncomingMessage, target: SlackTarget,
                     context: dict[str, Any]) -> None:
        """Answers what `take_in` took (in the conversation's turn; the engine skips its own dedupe, done when
        taken in), or, with no journal, at once in arrival order within this process."""
        if self._journal is None or taking is None:
            async with self._in_order.hold(msg.conversation_id):
                await self._answer(msg, target, context)
            return
        journal = self._journal
        if isinstance(taking, Kept):
            kept = taking
            try:
                async with self._in_order.hold(kept.conversation):  # taken in the order they came, once Redis is back
                    taken = await retry_passing(lambda: journal.take("slack", kept.conversation, kept.event,
                                                                      kept.order, kept.payload), max_delay_s=0.1)
            finally:
                self._keeping[kept.conversation] -= 1
                if not self._keeping[kept.conversation]:
                    del self._keeping[kept.conversation]
            await asyncio.sleep(KEPT_SETTLE_S)  # other processes' kept questions are taken meanwhile: order holds
            if taken is None:
                return  # taken meanwhile by another delivery of it
            taking = taken
        await journal.process(taking, lambda: self._answer(replace(msg, event_id=None), target, context))

    async def answer_again(self, taken: Taken) -> None:
        """A question another process took and did not live to answer; the shopper is told if it fails."""
        assert self._journal is not None
        stored = json.loads(taken.payload)
        converted = from_event(stored.get("event"), stored.get("bot_user"))
        if converted is None:
            return
        msg, target = converted
        try:
            await self._journal.process(taken, lambda: self._answer(replace(msg, event_id=None), target, {}))
        except Exception:
            await self._poster.post(target, FAILED, notice_blocks(FAILED))
            raise

    async def _answer(self, msg: IncomingMessage, target: SlackTarget, context: dict[str, Any]) -> None:
        answering = asyncio.create_task(self._core.handle(msg))
        done, _ = await asyncio.wait({answering}, timeout=self._placeholder_after_s)
        placeholder = None if done else await self._poster.post(target, THINKING, notice_blocks(THINKING))
        try:
            reply = await answering
        except Exception as err:
            if placeholder is not None and passing(err):  # tried again once Redis is back, with a new placeholder
                with contextlib.suppress(SlackApiError, aiohttp.ClientError, TimeoutError):
                    await self._poster.client.chat_delete(channel=target.channel, ts=placeholder)
            elif placeholder is not None:  # the apology replaces "Thinking…"
                await self._poster.send(target, placeholder, FAILED, notice_blocks(FAILED))
                context[APOLOGIZED] = True
            raise
        if reply is None:  # a duplicate delivery, a user over the rate limit, a message relayed to staff
            if placeholder is not None:
                await self._poster.client.chat_delete(channel=target.channel, ts=placeholder)
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
