"""Which replica polls X: exactly one at a time, and another within two poll intervals of its death.

PostgreSQL: a session-level `pg_try_advisory_lock` on a dedicated connection. The server releases
it the moment that connection ends — the process killed, the backend terminated — so a follower's
next try wins it, and the deposed leader learns it lost the lock at its next check (a `SELECT 1`
that fails). SQLite (and any database without advisory locks): a lease row renewed on every check,
taken over once it runs out. SQLite runs as one process (`single_process_guard`), so there the
lease only matters to tests that race two leaders on one file.

Polling is idempotent (tweets are stored once by id, cursors move forward only), so the short
overlap when a deposed leader has not noticed yet costs at most a re-read, never a second card.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    column,
    create_engine,
    func,
    select,
    table,
    text,
    update,
)
from sqlalchemy.pool import NullPool
from sqlmodel import col

from bot.core.clock import Clock
from bot.core.db import insert_ignoring_conflicts, is_postgres, rowcount, table_of, transaction
from bot.core.models import LeaderLease

log = logging.getLogger(__name__)

POLLER = "poller"
_LOCK_KEY = 0x706F6C6C6572  # "poller": the advisory lock the polling replica holds
# The dedicated connection's application_name: "brandbot:<owner>". Every replica running the
# poller or the publisher keeps it open, leader or not, so it doubles as the replica's presence:
# a lease whose owner has no such connection belongs to a dead process (`live_owners`).
PRESENCE_PREFIX = "brandbot:"


@dataclass(kw_only=True)
class Leader:
    """One replica's view of the election. `tick()` tries to lead or renews; `is_leader()` is
    what `Ingestor.may_poll` asks before every pass."""

    engine: Engine
    clock: Clock
    owner: str
    interval: float  # seconds: the poll interval; takeover happens within two of them
    name: str = POLLER
    # False: never leads, only keeps the connection that says this replica is alive (a replica
    # that publishes but does not poll: others must not take its posts as a dead one's).
    candidate: bool = True
    _leading: bool = field(default=False, init=False)
    _connection: Connection | None = field(default=None, init=False, repr=False)
    _lock_engine: Engine | None = field(default=None, init=False, repr=False)
    _mutex: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def check_every(self) -> float:
        """How often to check: a third of the interval, so a follower wins a released lock (or an
        expired lease) well within two intervals."""
        return max(0.1, self.interval / 3)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.interval)

    def is_leader(self) -> bool:
        # No lock: a bool read is atomic, and a stale answer costs one idempotent re-read.
        return self._leading

    def tick(self) -> bool:
        """Try to lead, or confirm we still do; whether we lead now."""
        with self._mutex:
            was = self._leading
            try:
                if is_postgres(self.engine):
                    self._leading = self._lock_tick()
                else:
                    self._leading = self._lease_tick()
            except Exception as exc:  # a lost connection: not the leader until a check succeeds
                log.warning("leader check failed (%s): not leading until one succeeds", exc)
                self._drop_connection()
                self._leading = False
            if self._leading != was:
                log.info("%s %s polling X", self.owner, "now leads" if self._leading else "stopped")
            return self._leading

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.tick()
            stop.wait(self.check_every)  # real time: the election is between processes
        self.release()

    def release(self) -> None:
        """Step down (on a clean stop), so a follower takes over at its next check."""
        with self._mutex:
            leading, self._leading = self._leading, False
            try:
                if self._connection is not None and leading:
                    self._connection.execute(
                        text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY}
                    )
                elif leading:
                    with transaction(self.engine) as session:
                        session.execute(
                            update(LeaderLease)
                            .where(
                                col(LeaderLease.name) == self.name,
                                col(LeaderLease.owner) == self.owner,
                            )
                            .values(lease_until=self.clock.now())
                        )
            except (
                Exception
            ) as exc:  # it lapses by itself: the connection closes, the lease runs out
                log.warning("could not step down cleanly: %s", exc)
            finally:
                self._drop_connection()
                if self._lock_engine is not None:
                    self._lock_engine.dispose()

    # -- PostgreSQL: an advisory lock on a connection of its own ----------------------------

    def _lock_tick(self) -> bool:
        connection = self._connect()
        if self._leading or not self.candidate:
            connection.execute(text("SELECT 1"))  # fails if the server ended our session
            return self._leading
        return bool(
            connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}).scalar()
        )

    def _connect(self) -> Connection:
        if self._connection is None:
            if self._lock_engine is None:
                # NullPool: closing it really ends the session (and so the lock). Its name says
                # which replica this is (pg_stat_activity), for `live_owners` and operators.
                self._lock_engine = create_engine(
                    self.engine.url,
                    poolclass=NullPool,
                    isolation_level="AUTOCOMMIT",
                    connect_args={
                        "application_name": f"{PRESENCE_PREFIX}{self.owner}"[:63],
                        "connect_timeout": 5,
                    },
                )
            self._connection = self._lock_engine.connect()
        return self._connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # already gone: nothing to release
                pass
            self._connection = None

    # -- SQLite: a lease row ----------------------------------------------------------------

    def _lease_tick(self) -> bool:
        if not self.candidate:
            return False
        now = self.clock.now()
        until = now + self.lease
        lease = table_of(LeaderLease)
        with transaction(self.engine) as session:
            session.execute(
                insert_ignoring_conflicts(self.engine, lease),
                [{"name": self.name, "owner": self.owner, "lease_until": now, "acquired_at": now}],
            )
            ours = col(LeaderLease.name) == self.name
            led = rowcount(  # renewed: ours still (nobody took it, even if it ran out)
                session.execute(
                    update(lease)
                    .where(ours, col(LeaderLease.owner) == self.owner)
                    .values(lease_until=until)
                )
            ) or rowcount(  # taken over: the last leader's lease ran out
                session.execute(
                    update(lease)
                    .where(ours, col(LeaderLease.lease_until) <= now)
                    .values(owner=self.owner, lease_until=until, acquired_at=now)
                )
            )
        return led == 1


def live_owners() -> Select[tuple[str]]:
    """The owners of the replicas connected now (PostgreSQL): a lease held by any other owner
    is a dead process's and may be taken at once rather than when it runs out."""
    activity = table("pg_stat_activity", column("application_name"), column("datname"))
    name = activity.c.application_name
    return select(func.substr(name, len(PRESENCE_PREFIX) + 1)).where(
        name.startswith(PRESENCE_PREFIX), activity.c.datname == func.current_database()
    )


class AlreadyRunning(Exception):
    """Another `brandbot run` holds this SQLite database."""


@contextmanager
def single_process_guard(database_url: str) -> Iterator[None]:
    """Hold an exclusive lock beside a SQLite database file for as long as `run` serves it: SQLite
    has one writer, so a second process would only queue behind the first (and two pollers,
    publishers and outboxes would race). The OS drops the lock when the process dies, SIGKILL
    included, so a restart is never refused by a stale lock. PostgreSQL: nothing to guard."""
    path = sqlite_file(database_url)
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + "-run.lock")
    handle: IO[str] = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise AlreadyRunning(
                f"another `brandbot run` ({holder}) is already serving the SQLite database "
                f"{path}: SQLite runs as one process. Stop that one first, or set DATABASE_URL to "
                "a PostgreSQL database to run several replicas."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and in-memory databases)."""
    from sqlalchemy import make_url

    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve()
