"""The one permission path. A service names what is being attempted (a `Checkpoint`), the guard
resolves the facts a rule needs (group membership through the directory cache), the pure rule in
`policies/permissions.py` decides, and every refusal is audited and raised as `ActionRefused`,
which `handlers/errors.guarded` shows to the person as an ephemeral message.

When Slack cannot say who is in a group, every check fails closed the same way: nothing changes,
the person reads `SLACK_UNAVAILABLE`, and a `*.refused` audit entry records it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

from bot.core import audit
from bot.core.context import ServiceContext
from bot.slack.clicks import Person
from bot.slack.directory import SLACK_UNAVAILABLE, DirectoryUnavailable
from policies.permissions import Actor, Decision


@dataclass(frozen=True)
class Checkpoint:
    """One attempt by one person: `area.refused` on `subject` is what a refusal records."""

    ctx: ServiceContext
    person: Person
    channel: str
    area: str  # "draft", "mention", "freeze", "held_queue"
    subject: str  # e.g. "draft:12"
    attempted: str  # e.g. "approve"

    def refuse(self, reason: str) -> NoReturn:
        audit.refuse(
            self.ctx.engine,
            actor=self.ctx.actor(self.person),  # may ask Slack: so before the transaction
            action=f"{self.area}.refused",
            subject=self.subject,
            at=self.ctx.clock.now(),
            attempted=self.attempted,
            channel=self.channel,
            reason=reason,
        )

    def require(self, decision: Decision) -> None:
        if not decision.allowed:
            self.refuse(decision.reason)

    def members(self, principals: Iterable[str]) -> dict[str, frozenset[str]]:
        """Each principal's members (a user ID stands for itself), or refuse: fail closed."""
        try:
            return self.ctx.directory.members(principals)
        except DirectoryUnavailable:
            self.refuse(SLACK_UNAVAILABLE)

    def includes(self, principals: Iterable[str]) -> bool:
        """Is this person one of the principals (user IDs or user groups)? Fail closed."""
        try:
            return self.ctx.directory.includes(self.person.user_id, principals)
        except DirectoryUnavailable:
            self.refuse(SLACK_UNAVAILABLE)

    def is_admin(self) -> bool:
        return self.includes(self.ctx.segments.admins)

    def segment_actor(self, segment: str) -> Actor:
        """This person as a segment's rules see them: an admin, a responder (a segment naming
        no responders lets anyone in its channel respond), or neither. Fail closed."""
        is_admin = self.is_admin()
        responders = self.ctx.segments.responders(segment)
        # An admin may do whatever a responder may: no need to ask Slack about the group.
        is_responder = is_admin or not responders or self.includes(responders)
        return Actor(self.person.user_id, is_admin, is_responder)
