"""Time as a dependency, so timers and backoff can be driven by tests."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


def utcnow() -> datetime:
    return datetime.now(UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Sleep up to `seconds` or until `stop` is set; True if `stop` was set."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when a test calls `advance`; waits end early when it does."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)
        self._changed = threading.Condition()

    def now(self) -> datetime:
        with self._changed:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._changed:
            self._now += timedelta(**delta)
            self._changed.notify_all()
            return self._now

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        deadline = self.now() + timedelta(seconds=seconds)
        with self._changed:
            # Wake at least every 50 ms of real time to notice `stop` or a wake-up.
            while not stop.is_set() and self._now < deadline:
                self._changed.wait(0.05)
        return stop.is_set()


def iso(value: datetime | None) -> str | None:
    """A time for an audit entry's JSON (None stays None)."""
    return value.isoformat() if value else None


def monotonic() -> float:
    return time.monotonic()
