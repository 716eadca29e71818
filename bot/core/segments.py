"""The effective configuration the services act on: app.yaml with the admins' overrides from
the database laid over it (policies/config/overrides.py validates and merges them).

Every replica reads the one `config_revision` row at most once a `refresh_seconds` and rebuilds
when it moved, so an admin's change reaches every process within about a second; the process
that made the change rebuilds at once (`refresh(force=True)`)."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from policies.config import BrandConfig
from policies.config.overrides import Override, effective

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentView:
    """What a card needs to know of a segment."""

    name: str
    channel: str
    first_response_minutes: int
    tags: tuple[str, ...] = ()  # the labels its mention cards offer


@dataclass(frozen=True)
class StoredOverride:
    """An override as stored: the value and who set it when."""

    override: Override
    set_by: str
    set_by_name: str
    set_at: str  # ISO 8601, for display


class SegmentCatalog:
    def __init__(
        self, base: BrandConfig, *, engine: Engine | None = None, refresh_seconds: float = 1.0
    ) -> None:
        self.base = base  # app.yaml as loaded at start
        self._engine = engine  # None: app.yaml alone (tools and tests without a database)
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._config = base
        self._revision = -1
        self._checked = float("-inf")
        self._stored: list[StoredOverride] = []
        self._ignored: list[tuple[Override, str]] = []

    @property
    def config(self) -> BrandConfig:
        """app.yaml with every override that validates, as of at most `refresh_seconds` ago."""
        if self._engine is not None and time.monotonic() - self._checked >= self._refresh_seconds:
            self.refresh()
        return self._config

    def refresh(self, *, force: bool = False) -> None:
        """Rebuild from the database if an override changed (or `force`)."""
        if self._engine is None:
            return
        with self._lock:
            found = self._read("SELECT revision FROM config_revision WHERE id = 1")
            revision = int(found[0][0]) if found else 0
            if revision == self._revision and not force:
                self._checked = time.monotonic()
                return
            rows = self._read(
                "SELECT scope, key, value, set_by, set_by_name, set_at FROM config_override "
                "ORDER BY id"
            )
            stored = [
                StoredOverride(Override(scope, key, json.loads(value)), by, by_name, _shown(at))
                for scope, key, value, by, by_name, at in rows
            ]
            config, ignored = effective(self.base, [s.override for s in stored])
            for override, why in ignored:
                if (override, why) not in self._ignored:
                    log.warning("override %s.%s left out: %s", override.scope, override.key, why)
            self._config, self._stored, self._ignored = config, stored, ignored
            self._revision, self._checked = revision, time.monotonic()

    def _read(self, sql: str) -> list[tuple[Any, ...]]:
        """A read on a connection of its own, outside any transaction: `config` is read inside
        other transactions, and on SQLite every SQLAlchemy transaction takes the write lock
        (BEGIN IMMEDIATE), so a nested one would wait for its own caller. A plain read in WAL
        mode waits for nobody; on PostgreSQL it is rolled back at once."""
        assert self._engine is not None
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(sql)
                rows = [tuple(row) for row in cursor.fetchall()]
            finally:
                cursor.close()
            raw.rollback()
            return rows
        finally:
            raw.close()

    @property
    def revision(self) -> int:
        return self._revision

    def overrides(
        self, scope: str | None = None, *, left_out_too: bool = False
    ) -> list[StoredOverride]:
        """The overrides in force (of one scope: a segment, or the routing rules), oldest
        first; with `left_out_too`, also those stored that no longer fit app.yaml."""
        self.config  # noqa: B018  (refresh if due)
        left_out = [o for o, _ in self._ignored]
        return [
            s
            for s in self._stored
            if (left_out_too or s.override not in left_out)
            and (scope is None or s.override.scope == scope)
        ]

    def ignored(self) -> list[tuple[Override, str]]:
        """Stored overrides that no longer fit app.yaml, with why."""
        self.config  # noqa: B018
        return list(self._ignored)

    def names(self) -> list[str]:
        return list(self.config.segments)

    def view(self, name: str) -> SegmentView:
        segment = self.config.segments[name]
        return SegmentView(
            name, segment.channel, segment.first_response_minutes, tags=tuple(segment.tags)
        )

    def views(self) -> list[SegmentView]:
        return [self.view(name) for name in self.names()]

    def channel(self, name: str) -> str:
        return self.config.segments[name].channel

    def responders(self, name: str) -> list[str]:
        return list(self.config.segments[name].responders)

    def for_channel(self, channel: str) -> str | None:
        """The segment whose channel this is, if any."""
        return next((n for n, s in self.config.segments.items() if s.channel == channel), None)

    @property
    def admins(self) -> list[str]:
        return list(self.config.admins)


def _shown(at: Any) -> str:
    """When an override was set, for display (SQLite hands back text, PostgreSQL a datetime)."""
    if isinstance(at, datetime):
        return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return f"{str(at)[:16]} UTC"
