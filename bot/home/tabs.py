"""Keeping every opened Home tab current: who opened theirs (the `home_tab` table, so refreshes go
on after a restart and on every replica), what was last published there, when each is due.

`ctx.hooks.cards_changed` — called after every change that redraws a card — also says "homes may
be stale". That signal is debounced (a burst of changes becomes one pass, once quiet for
`quiet` seconds or at most `longest` after the first), then every opened home is marked due,
re-rendered from the database, and published only if it differs from what was published last
(by hash, whichever replica published it). Each home is also due again every `refresh_every` on
the app's clock, so the ages it shows stay true.

A Slack failure never loses a refresh: the row stays due and waits (Retry-After for a 429,
which holds every home, since Slack limits `views.publish` per workspace; else backoff)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import ColumnElement, Update, and_, case, or_, select, update
from sqlmodel import col

from bot.core.clock import monotonic
from bot.core.context import ServiceContext
from bot.core.db import insert_ignoring_conflicts, rowcount, skip_locked, table_of
from bot.core.models import HomeTab
from bot.core.retry import backoff, describe_failure, retry_after
from bot.core.worker import Worker
from bot.home.content import HomeContent, Snapshot
from bot.slack.cards.app_home import build_home
from bot.slack.pacing import Pacer, method_key

log = logging.getLogger(__name__)

NOTICE_FOR = timedelta(minutes=10)  # how long the outcome of a click stays on top
CURRENT, FAILED, HELD = "current", "failed", "held"  # what one attempt to publish a home did
VIEWS_PUBLISH = method_key("views.publish")


@dataclass
class Debounce:
    """Real time, not the app's clock: it batches Slack calls, it is not a business timer."""

    quiet: float = 1.0  # seconds without a new signal
    longest: float = 5.0  # seconds after the first signal, however busy
    now: Callable[[], float] = monotonic
    _first: float | None = field(default=None, init=False)
    _last: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def signal(self) -> None:
        with self._lock:
            now = self.now()
            self._first = now if self._first is None else self._first
            self._last = now

    def take(self) -> bool:
        """True, once, when the signals since the last take have settled (or gone on too long)."""
        with self._lock:
            if self._first is None:
                return False
            now = self.now()
            if now - self._last < self.quiet and now - self._first < self.longest:
                return False
            self._first = None
            return True


@dataclass(kw_only=True)
class HomeTabs(Worker):
    ctx: ServiceContext
    client: WebClient  # no hidden retries: a failure is rescheduled here, durably
    content: HomeContent
    owner: str
    refresh_every: timedelta = timedelta(seconds=60)
    lease_seconds: int = 60
    batch_size: int = 50
    debounce: Debounce = field(default_factory=Debounce)

    # -- signals ----------------------------------------------------------------------------

    def changed(self) -> None:
        """Something a home may show changed (chained to `ctx.hooks.cards_changed`)."""
        self.debounce.signal()
        self.wake()

    def work(self) -> int:
        if self.debounce.take():
            self.mark_stale()
        return self.publish_due()

    def opened(self, user_id: str, *, republish: bool = False) -> None:
        """The person opened their Home tab: keep it current from now on; it is due now.
        `republish`: Slack shows them no view of ours, so send it even if unchanged."""
        now = self.ctx.clock.now()
        with self.ctx.transaction() as session:
            inserted = session.execute(
                insert_ignoring_conflicts(self.ctx.engine, table_of(HomeTab))
                .values(user_id=user_id, opened_at=now, due_at=now)
                .returning(table_of(HomeTab).c.user_id)
            ).first()
            if inserted is None:
                values: dict[str, Any] = {"opened_at": now}
                if republish:
                    values["published_hash"] = None
                session.execute(self._due_now(user_id, now).values(**values))

    def notify(self, user_id: str, text: str) -> None:
        """Show `text` on top of the person's home (the outcome of what they did there)."""
        now = self.ctx.clock.now()
        notice = {"notice": text[:2000], "notice_until": now + NOTICE_FOR}
        table = table_of(HomeTab)
        with self.ctx.transaction() as session:
            # Insert first, ignoring a row that is there (or being inserted by another click at
            # this moment: PostgreSQL waits for it), then update: two notices for a home never
            # seen can't both insert.
            inserted = session.execute(
                insert_ignoring_conflicts(self.ctx.engine, table)
                .values(user_id=user_id, opened_at=now, due_at=now, **notice)
                .returning(table.c.user_id)
            ).first()
            if inserted is None:
                session.execute(self._due_now(user_id, now).values(**notice))

    def mark_stale(self) -> int:
        """Every opened home is due now (unless Slack asked us to wait: see `retry_at`)."""
        now = self.ctx.clock.now()
        with self.ctx.transaction() as session:
            result = session.execute(
                update(HomeTab).values(
                    revision=col(HomeTab.revision) + 1,
                    due_at=case((col(HomeTab.due_at) > now, now), else_=col(HomeTab.due_at)),
                )
            )
            return rowcount(result)

    def _due_now(self, user_id: str, now: datetime) -> Update:
        return (
            update(HomeTab)
            .where(col(HomeTab.user_id) == user_id)
            .values(revision=col(HomeTab.revision) + 1, due_at=now)
        )

    # -- publishing -------------------------------------------------------------------------

    def publish_now(self, user_id: str) -> bool:
        """Publish this person's home if it is due (it is, after `opened` or `notify`) and
        Slack has not asked us to wait; True if it was sent or already current."""
        if not self._lease(user_id):
            self.wake()  # in flight elsewhere (or held): the row stays due for the worker
            return False
        current, _ = self._publish_leased([user_id])
        return current == 1

    def publish_due(self) -> int:
        """Render every due home once, publish those that changed; how many are current now."""
        done = 0
        while True:
            leased = [u for u in self._due_ids() if self._lease(u)]
            if not leased:
                return done
            current, held = self._publish_leased(leased)
            done += current
            if held or len(leased) < self.batch_size:
                return done

    def _publish_leased(self, user_ids: list[str]) -> tuple[int, bool]:
        """Render and send the homes leased to this worker: how many are current now, and
        whether Slack asked every home to wait. The snapshot is read after the leases, so it
        is at least as new as every revision they saw."""
        try:
            snapshot = self.content.snapshot()
        except Exception as exc:
            log.exception("home snapshot failed")
            for user_id in user_ids:
                self._failed(user_id, exc)
            return 0, False
        current = 0
        for index, user_id in enumerate(user_ids):
            outcome = self._publish_one(user_id, snapshot)
            current += outcome == CURRENT
            if outcome == HELD:  # Slack said wait: the others wait too
                for later in user_ids[index + 1 :]:
                    self._release(later)
                return current, True
        return current, False

    def _publish_one(self, user_id: str, snapshot: Snapshot) -> str:
        now = self.ctx.clock.now()
        with self.ctx.transaction() as session:
            row = session.get(HomeTab, user_id)
            if row is None or row.lease_owner != self.owner:
                return FAILED
            held = self._pacer.held(session, VIEWS_PUBLISH, now=now)
            if held is not None:  # Slack asked every home to wait (a 429 on any replica)
                row.retry_at, row.lease_owner, row.lease_until = now + held, None, None
                session.add(row)
                return HELD
            seen, last_hash = row.revision, row.published_hash
            notice = row.notice if row.notice_until and row.notice_until > now else None
            notice_until = row.notice_until if notice else None
        try:
            view = build_home(self.content.view_for(user_id, snapshot, notice=notice))
            digest = view_hash(view)
            if digest != last_hash:
                self.client.views_publish(user_id=user_id, view=view)
        except Exception as exc:  # Slack refused or failed, or a rendering bug: try again later
            return HELD if self._failed(user_id, exc) else FAILED
        due = now + self.refresh_every
        if notice_until is not None:
            due = min(due, notice_until)  # take the notice down when its time is up
        with self.ctx.transaction() as session:
            row = session.get(HomeTab, user_id)
            if row is None or row.lease_owner != self.owner:
                return CURRENT
            row.published_hash = digest
            if digest != last_hash:
                row.published_at = now
            row.attempts, row.retry_at, row.last_error = 0, None, None
            row.lease_owner, row.lease_until = None, None
            row.due_at = due if row.revision == seen else now  # asked again meanwhile: due
            session.add(row)
        return CURRENT

    def _failed(self, user_id: str, exc: Exception) -> bool:
        """Reschedule the home; True if Slack asked every home to wait (a 429)."""
        wait = retry_after(exc)
        error = describe_failure(exc)
        log.warning("home of %s not published: %s", user_id, error)
        now = self.ctx.clock.now()
        with self.ctx.transaction() as session:
            row = session.get(HomeTab, user_id)
            if row is not None and row.lease_owner == self.owner:
                row.attempts += 1
                row.retry_at = now + (wait or backoff(row.attempts))
                row.last_error = error
                row.lease_owner, row.lease_until = None, None
                session.add(row)  # due_at is untouched: it is still due, only later
            if wait:  # views.publish is limited per workspace: every home waits
                session.execute(
                    update(HomeTab)
                    .where(or_(col(HomeTab.retry_at).is_(None), col(HomeTab.retry_at) < now + wait))
                    .values(retry_at=now + wait)
                )
                self._pacer.hold(session, VIEWS_PUBLISH, wait, now=now)  # homes opened later too
        return wait is not None

    @property
    def _pacer(self) -> Pacer:
        return Pacer(engine=self.ctx.engine, rate=None)  # views have no bucket, only holds

    # -- leases -----------------------------------------------------------------------------

    def _free(self, now: datetime) -> ColumnElement[bool]:
        return and_(
            or_(col(HomeTab.lease_until).is_(None), col(HomeTab.lease_until) < now),
            or_(col(HomeTab.retry_at).is_(None), col(HomeTab.retry_at) <= now),
        )

    def _due_ids(self) -> list[str]:
        now = self.ctx.clock.now()
        with self.ctx.transaction(read_only=True) as session:
            return list(
                session.scalars(
                    select(col(HomeTab.user_id))
                    .where(col(HomeTab.due_at) <= now, self._free(now))
                    .order_by(col(HomeTab.due_at))
                    .limit(self.batch_size)
                )
            )

    def _lease(self, user_id: str) -> bool:
        now = self.ctx.clock.now()
        due = and_(col(HomeTab.user_id) == user_id, col(HomeTab.due_at) <= now, self._free(now))
        with self.ctx.transaction() as session:
            # Another replica publishing this home holds its row: skip it, don't wait for it.
            row = skip_locked(select(col(HomeTab.user_id)).where(due), self.ctx.engine)
            if session.execute(row).first() is None:
                return False
            result = session.execute(
                update(HomeTab)
                .where(due)
                .values(
                    lease_owner=self.owner, lease_until=now + timedelta(seconds=self.lease_seconds)
                )
            )
            return rowcount(result) == 1

    def _release(self, user_id: str) -> None:
        with self.ctx.transaction() as session:
            session.execute(
                update(HomeTab)
                .where(col(HomeTab.user_id) == user_id, col(HomeTab.lease_owner) == self.owner)
                .values(lease_owner=None, lease_until=None)
            )


def view_hash(view: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()
