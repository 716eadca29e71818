"""Who acted, and where: a click on one of our messages, as Slack's signed envelope reports it.

Every button handler builds one `Click` with one parser (`handlers.clicks.click_from`); the
services find the thing clicked by `channel` + `message_ts` in their own records. `value`,
`action_id` and `block_id` are what our buttons carry: a service only cross-checks them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    user_id: str
    user_name: str  # as Slack sent it; the audit log asks Slack's directory for the display name


@dataclass(frozen=True)
class Click:
    person: Person
    channel: str
    message_ts: str
    value: str | None = None
    action_id: str = ""
    block_id: str = ""

    @property
    def user_id(self) -> str:
        return self.person.user_id
