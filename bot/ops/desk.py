"""Ops commands for the engine: who may run them (allowlist, user group), the audit trail, the operation
itself and the sentence that reports it. Platforms only parse their own command syntax."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot import messages
from bot.events import OpsCommand
from bot.ops.kb import KnowledgeOps, describe_reload, describe_rollback, describe_status
from bot.ops.reports import Reports, describe
from bot.types import Reply

OPEN_TO_ALL = frozenset({"kb status"})  # reading the live version's status changes nothing
MAX_REPORT_DAYS = 3650
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OpsPolicy:
    user_ids: frozenset[str] = frozenset()  # people allowed by their platform user id
    usergroup: str = ""  # or by membership of this platform user group (looked up on each attempt)

    @classmethod
    def parse(cls, user_ids: str, usergroup: str) -> OpsPolicy:
        return cls(frozenset(u.strip() for u in user_ids.split(",") if u.strip()), usergroup.strip())

    async def allows(self, command: OpsCommand) -> bool:
        if command.action in OPEN_TO_ALL or command.user_id in self.user_ids:
            return True
        if not self.usergroup:
            return False
        return command.user_id in await command.directory.members(self.usergroup)


class OpsDesk:
    def __init__(self, kb: KnowledgeOps, reports: Reports | None, policy: OpsPolicy) -> None:
        self._kb = kb
        self._reports = reports
        self._policy = policy

    async def run(self, command: OpsCommand) -> Reply:
        """The command's result for the person who sent it; a refusal (audited like every attempt) when they
        may not run it. `confident=False` marks a refusal or failure, so adapters can keep it private."""
        allowed = await self._policy.allows(command)
        if command.action not in OPEN_TO_ALL:
            await self._kb.audit(command.platform, command.user_id, command.action, allowed)
        if not allowed:
            return Reply(messages.OPS_REFUSED, confident=False, mode="notice")
        if command.action == "kb status":
            return Reply(describe_status(await self._kb.status()), mode="command")
        if command.progress is not None:  # accepted: the platform may say so before the work is done
            await command.progress("starting")
        if command.action == "kb rollback":
            rolled = await self._kb.rollback()
            return Reply(describe_rollback(rolled), confident=rolled.ok, mode="command")
        if command.action == "report":
            if not 0 < command.days <= MAX_REPORT_DAYS:  # also NaN and infinity
                return Reply(f"A report covers 1 to {MAX_REPORT_DAYS} days.", confident=False, mode="notice")
            if self._reports is None:
                return Reply("Reports need Redis.", confident=False, mode="notice")
            return Reply(describe(await self._reports.build(command.days * 86400)), mode="command")
        reloaded = await self._kb.reload(command.progress)
        return Reply(describe_reload(reloaded), confident=reloaded.ok, mode="command")
