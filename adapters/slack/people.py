"""Slack's answers to what the core asks about people (`bot.events.Directory`), and posting helpers."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.convert import SlackTarget

log = logging.getLogger(__name__)


class SlackPeople:
    """User groups and display names, through the Web API (names cached for the process's life)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._names: dict[str, str] = {}

    async def members(self, group: str) -> frozenset[str]:
        try:
            found = await self._client.usergroups_users_list(usergroup=group)
        except SlackApiError as err:
            log.warning("cannot read user group %s: %s", group, err)
            return frozenset()
        return frozenset(found.get("users") or [])

    async def display_name(self, user: str) -> str:
        if user not in self._names:
            try:
                profile = (await self._client.users_info(user=user)).get("user") or {}
            except SlackApiError:
                profile = {}
            details = profile.get("profile") or {}
            self._names[user] = details.get("display_name") or details.get("real_name") or profile.get("name") or user
        return self._names[user]


class Poster:
    """chat.postMessage / chat.update with the bot's defaults (no unfurling)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post(self, target: SlackTarget, text: str, blocks: Any) -> str:
        response = await self.client.chat_postMessage(channel=target.channel, thread_ts=target.thread_ts, text=text,
                                                      blocks=blocks, unfurl_links=False, unfurl_media=False)
        return str(response["ts"])

    async def send(self, target: SlackTarget, replace: str | None, text: str, blocks: Any) -> None:
        """Updates the message `replace` in place when there is one, else posts a new message."""
        if replace is None:
            await self.post(target, text, blocks)
        else:
            await self.client.chat_update(channel=target.channel, ts=replace, text=text, blocks=blocks)
