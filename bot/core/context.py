"""What every service stands on, built once in the composition root (`bot/runtime.py`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session

from bot.core import audit, outbox
from bot.core.clock import Clock
from bot.core.db import transaction
from bot.core.models import SlackMessage
from bot.core.segments import SegmentCatalog
from bot.slack.clicks import Click, Person
from bot.slack.directory import SlackDirectory


def _nothing() -> None:
    return None


@dataclass
class Hooks:
    """Who to wake when something changed. Filled in by the composition root once the workers
    exist (the publisher is built after the services that wake it)."""

    cards_changed: Callable[[], None] = _nothing  # the outbox: a card or message must be redrawn
    approved: Callable[[], None] = _nothing  # the publisher: a draft may be due now


class OnContext:
    """For what holds a ServiceContext: its engine and clock, by name."""

    ctx: ServiceContext

    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    @property
    def clock(self) -> Clock:
        return self.ctx.clock


@dataclass(frozen=True)
class ServiceContext:
    engine: Engine
    clock: Clock
    segments: SegmentCatalog
    directory: SlackDirectory
    hooks: Hooks = field(default_factory=Hooks)

    def actor(self, person: Person) -> audit.Actor:
        """Who acted, as the audit log names them (asks Slack: call it outside a transaction)."""
        return audit.Actor(
            person.user_id, self.directory.display_name(person.user_id, person.user_name)
        )

    def card_at(self, session: Session, kind: str, click: Click) -> SlackMessage | None:
        """Our message of this kind where the click happened, by Slack's envelope alone."""
        return outbox.message_at(session, kind=kind, channel=click.channel, ts=click.message_ts)

    def transaction(self, *, read_only: bool = False) -> AbstractContextManager[Session]:
        """`read_only=True` for reads: on SQLite they then wait for no writer (bot/core/db.py)."""
        return transaction(self.engine, read_only=read_only)
