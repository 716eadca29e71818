"""Pacing Slack calls before Slack says no, shared by every replica through the `slack_pace` table.

Slack accepts about one message a second per channel (short bursts allowed) and limits other
methods per method per workspace. So each channel has a token bucket (`slack_pacing` in app.yaml:
`burst` sends at once, then `messages_per_second`), and a 429's Retry-After holds only what Slack
limited: that channel for a message, that method (its tier) for anything else.

Every function here runs in the caller's write transaction: the outbox takes a token in the same
transaction as the message it will send, so a token is never taken for a message another
replica sends. On PostgreSQL the bucket row is locked (FOR UPDATE: replicas wait for each other
on one channel, never on different ones); on SQLite BEGIN IMMEDIATE already serialises writers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from bot.core.db import insert_ignoring_conflicts, table_of
from bot.core.models import SlackPace

CHANNEL, METHOD = "channel:", "method:"
MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update"})  # limited per channel


def channel_key(channel: str) -> str:
    return CHANNEL + channel


def method_key(method: str) -> str:
    return METHOD + method


def hold_key(method: str, channel: str | None) -> str:
    """What a 429 from `method` holds: the channel for a message, else the method's tier."""
    if method in MESSAGE_METHODS and channel:
        return channel_key(channel)
    return method_key(method)


@dataclass(frozen=True)
class Rate:
    """A token bucket: `burst` sends at once, refilled at `per_second`."""

    per_second: float = 1.0
    burst: int = 3


@dataclass(frozen=True, kw_only=True)
class Pacer:
    engine: Engine
    rate: Rate | None  # the messages of one channel; None: only Slack's holds count

    def take(
        self,
        session: Session,
        key: str,
        *,
        now: datetime,
        ready: Callable[[], bool] = lambda: True,
    ) -> timedelta | None:
        """Take one send for `key`: None if taken, else how long until one is free. `ready` is
        asked once the bucket is locked (so replicas ask it one at a time): False, and nothing
        is taken (a zero wait)."""
        row = self._locked(session, key, now)
        if not ready():
            return timedelta(0)
        if self.rate is None:
            return self.held(session, key, now=now)
        if row.held_until is not None and row.held_until > now:
            return row.held_until - now
        tokens = self._tokens(row, now)
        if tokens < 1:
            return timedelta(seconds=(1 - tokens) / self.rate.per_second)
        row.tokens, row.refilled_at = tokens - 1, now
        session.add(row)
        return None

    def sent(self, session: Session, key: str, *, at: datetime) -> None:
        """A send taken from `key` was answered at `at`: its channel refills from then, not from
        the take. Slack counts a call when it arrives, somewhere between the two, and how long
        after the take varies (rendering, the network); counted from the answer, the next send
        can never reach Slack early (one message is in flight per channel, so nothing was taken
        meanwhile). The price: a channel's pace is one per 1/rate plus one call's time."""
        if self.rate is None:
            return
        row = self._locked(session, key, at)
        if row.held_until is None or row.held_until <= at:
            row.refilled_at = max(row.refilled_at, at)
            session.add(row)

    def held(self, session: Session, key: str, *, now: datetime) -> timedelta | None:
        """How long Slack asked `key` to wait still, if it did (takes nothing)."""
        row = session.get(SlackPace, key)
        if row is None or row.held_until is None or row.held_until <= now:
            return None
        return row.held_until - now

    def hold(self, session: Session, key: str, wait: timedelta, *, now: datetime) -> None:
        """Slack said 429: nothing goes to `key` for `wait`, and then one send, not a burst.
        Unpaced (`rate` None, the fakes' default) only the hold counts: after it the queue goes
        out back to back until the next 429, so measure storms paced, as `brandbot run` is."""
        row = self._locked(session, key, now)
        until = now + wait
        row.held_until = until if row.held_until is None else max(row.held_until, until)
        row.tokens, row.refilled_at = 1.0, row.held_until
        session.add(row)

    def waiting(self, session: Session, *, now: datetime) -> dict[str, datetime]:
        """Every key that cannot be sent to now, and when it can."""
        free_at: dict[str, datetime] = {}
        for row in session.scalars(select(SlackPace)):
            if row.held_until is not None and row.held_until > now:
                free_at[row.key] = row.held_until
            elif self.rate and row.key.startswith(CHANNEL) and (t := self._tokens(row, now)) < 1:
                free_at[row.key] = now + timedelta(seconds=(1 - t) / self.rate.per_second)
        return free_at

    def _tokens(self, row: SlackPace, now: datetime) -> float:
        if self.rate is None:
            return 1.0
        # A replica whose clock runs behind the one that last refilled sees no time pass.
        elapsed = max(0.0, (now - row.refilled_at).total_seconds())
        return min(float(self.rate.burst), row.tokens + elapsed * self.rate.per_second)

    def _locked(self, session: Session, key: str, now: datetime) -> SlackPace:
        query = select(SlackPace).where(col(SlackPace.key) == key).with_for_update()
        row = session.scalars(query).one_or_none()
        if row is None:
            session.execute(
                insert_ignoring_conflicts(self.engine, table_of(SlackPace)).values(
                    key=key, tokens=float(self.rate.burst if self.rate else 1), refilled_at=now
                )
            )
            row = session.scalars(query.execution_options(populate_existing=True)).one()
        return row
