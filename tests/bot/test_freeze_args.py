"""`/brand freeze [account|all] <reason> [for 2h]`: the whole reason, a bounded duration."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.errors import ActionRefused
from bot.freeze.service import parse_freeze_args

ACCOUNTS = ["acme", "acmehelp"]

CASES = [
    ("Outage in progress for 2h", ("all", "Outage in progress", timedelta(hours=2))),
    ("Outage in progress", ("all", "Outage in progress", None)),
    ("all Data issue for 90m", ("all", "Data issue", timedelta(minutes=90))),
    ("@acme Hacked account for 3 days", ("acme", "Hacked account", timedelta(days=3))),
    ("acmehelp Storm", ("acmehelp", "Storm", None)),
    ("acme for the weekend", ("acme", "for the weekend", None)),  # no duration: reason stays
    ("All hands meeting for 1 hour", ("all", "hands meeting", timedelta(hours=1))),
    ("Outage for 30d", ("all", "Outage", timedelta(days=30))),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_freeze_arguments(text: str, expected: tuple[str, str, timedelta | None]) -> None:
    assert parse_freeze_args(text, ACCOUNTS) == expected


REFUSED = [
    ("Outage for 99999999999d", "from 1 minute to 30 days"),
    ("Outage for 31d", "from 1 minute to 30 days"),
    ("Outage for 0m", "from 1 minute to 30 days"),
    ("", "Say why"),
    ("acme", "Say why"),
    ("all for 2h", "Say why"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED, ids=[c[0] or "empty" for c in REFUSED])
def test_refused_freeze_arguments(text: str, message: str) -> None:
    with pytest.raises(ActionRefused, match=message):
        parse_freeze_args(text, ACCOUNTS)
