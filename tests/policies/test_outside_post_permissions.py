"""Who may act on an alert about a tweet posted around brandbot (policies/permissions.py)."""

import pytest

from policies.permissions import (
    may_confirm_outside_delete,
    may_delete_outside_post,
    may_mark_expected,
)

ALICE, BOB = "U0ALICE", "U0BOB"


@pytest.mark.parametrize(("is_admin", "allowed"), [(True, True), (False, False)])
def test_only_admins_mark_a_tweet_expected(is_admin: bool, allowed: bool) -> None:
    assert may_mark_expected(is_admin=is_admin).allowed is allowed


@pytest.mark.parametrize(
    ("is_admin", "is_approver", "allowed"),
    [(True, False, True), (False, True, True), (True, True, True), (False, False, False)],
)
def test_admins_and_the_alert_segments_approvers_may_ask_or_confirm(
    is_admin: bool, is_approver: bool, allowed: bool
) -> None:
    assert may_delete_outside_post(is_admin=is_admin, is_approver=is_approver).allowed is allowed


CONFIRM_CASES = [
    # who,  asked by, confirms (else: it is recorded as the request, or refused if theirs)
    (BOB, ALICE, True),  # a second person confirms
    (ALICE, ALICE, False),  # the same person twice: never, admins included
    (ALICE, None, False),  # nobody asked yet: this is the request
]


@pytest.mark.parametrize(("who", "requested_by", "confirms"), CONFIRM_CASES)
def test_two_different_people_take_an_outside_post_down(
    who: str, requested_by: str | None, confirms: bool
) -> None:
    decision = may_confirm_outside_delete(user_id=who, requested_by=requested_by)
    assert decision.allowed is confirms
    if requested_by == who:
        assert "different person" in decision.reason
