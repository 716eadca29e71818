"""Why a draft waits or stopped: the card and the clicks tell the cases apart by these."""

import pytest

from policies.draft_reasons import (
    STALE,
    held_as_stale,
    refused_by_reply_rule,
    reply_rule_refusal,
)

REPLY_RULE_CASES = [
    # (id, state, last_error, refused for good by X's reply rule)
    ("the reply rule", "failed", reply_rule_refusal("acme"), True),
    ("another refusal", "failed", "X refused the request: 400 Bad Request", False),
    ("no error", "failed", None, False),
    ("not failed any more", "cancelled", reply_rule_refusal("acme"), False),
]


@pytest.mark.parametrize(
    ("state", "error", "expected"),
    [c[1:] for c in REPLY_RULE_CASES],
    ids=[c[0] for c in REPLY_RULE_CASES],
)
def test_a_reply_rule_refusal_is_told_apart(state: str, error: str | None, expected: bool) -> None:
    assert refused_by_reply_rule(state=state, last_error=error) is expected


def test_the_reply_rule_refusal_says_what_to_do() -> None:
    assert reply_rule_refusal("acme").startswith(
        "X refuses replies to tweets that don't mention @acme — quote it instead"
    )


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        ("held", f"{STALE} it was meant to go out at 09:00 UTC", True),
        ("held", "held when the freeze ended: release it or reject it", False),
        ("approved", f"{STALE} it was meant to go out at 09:00 UTC", False),
        ("held", None, False),
    ],
    ids=["late", "freeze", "not held", "no reason"],
)
def test_a_late_post_is_told_apart_from_a_frozen_one(
    state: str, reason: str | None, expected: bool
) -> None:
    assert held_as_stale(state=state, held_reason=reason) is expected
