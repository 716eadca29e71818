"""What a dismissal must say (policies/dismissal.py)."""

from __future__ import annotations

import pytest

from policies.dismissal import REASONS, dismissal_problems, dismissal_text

CASES = [
    # reason,      note,             problems
    ("spam", "", {}),
    ("no_action", "thanked already", {}),
    ("other", "asked in DMs", {}),
    ("other", "", {"note": "Say why, since you picked “Other”."}),
    ("", "", {"reason": "Pick a reason."}),
    ("made_up", "note", {"reason": "Pick a reason."}),
]


@pytest.mark.parametrize(("reason", "note", "problems"), CASES)
def test_dismissal_problems(reason: str, note: str, problems: dict[str, str]) -> None:
    assert dismissal_problems(reason, note) == problems


@pytest.mark.parametrize(
    ("reason", "note", "text"),
    [
        ("spam", "", "Spam or bot"),
        ("duplicate", "see 1234", "Duplicate of another mention — see 1234"),
    ],
)
def test_dismissal_text(reason: str, note: str, text: str) -> None:
    assert dismissal_text(reason, note) == text


def test_every_reason_has_a_label() -> None:
    assert all(label.strip() for label in REASONS.values()) and "other" in REASONS
