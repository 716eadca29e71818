"""How a mention stands against its segment's first-response target. Pure: the caller passes
when the tweet was sent, the target and the time now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

DUE_SOON_SHARE = 0.2  # the last fifth of the target (at least a minute) is "due soon"


class Urgency(StrEnum):
    WITHIN = "within"  # comfortably within the target
    DUE_SOON = "due_soon"  # in the last fifth of the target
    OVERDUE = "overdue"  # past the target


@dataclass(frozen=True)
class ResponseClock:
    age_minutes: int  # whole minutes since the tweet, never negative
    target_minutes: int
    urgency: Urgency

    @property
    def minutes_left(self) -> int:
        """Minutes until the target (0 once it has passed)."""
        return max(0, self.target_minutes - self.age_minutes)

    @property
    def minutes_over(self) -> int:
        """Minutes past the target (0 while within it)."""
        return max(0, self.age_minutes - self.target_minutes)


def response_clock(*, since: datetime, now: datetime, target_minutes: int) -> ResponseClock:
    """The age of a mention sent at `since`, against a target of `target_minutes`: overdue once
    the target has passed, due soon in its last fifth (at least its last minute)."""
    seconds = max(0.0, (now - since).total_seconds())
    age = int(seconds // 60)
    if seconds > target_minutes * 60:
        urgency = Urgency.OVERDUE
    elif target_minutes * 60 - seconds <= max(60.0, target_minutes * 60 * DUE_SOON_SHARE):
        urgency = Urgency.DUE_SOON
    else:
        urgency = Urgency.WITHIN
    return ResponseClock(age_minutes=age, target_minutes=target_minutes, urgency=urgency)
