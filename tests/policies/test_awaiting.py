"""When a draft is waiting for someone's approval (policies.approvals.awaits)."""

from __future__ import annotations

import pytest

from policies.approvals import ApprovalRule, RuleProgress, awaits

CARE = ApprovalRule("customer_relations", ("S0CARE",), 1, "its segment")
CRISIS = ApprovalRule("crisis_management", ("S0CRISIS",), 2, "guards @acme")
MEMBERS = {"S0CARE": frozenset({"U0BOB", "U0CAROL"}), "S0CRISIS": frozenset({"U0CAROL", "U0C2"})}

CASES = [
    # who, progress (rule, approved by), waiting for them?
    ("U0BOB", [(CARE, ())], True),
    ("U0BOB", [(CARE, ("U0CAROL",))], False),  # care is met: Bob's approval adds nothing
    ("U0MALLORY", [(CARE, ())], False),  # not an approver
    ("U0CAROL", [(CARE, ("U0BOB",)), (CRISIS, ())], True),  # care met, crisis still needs her
    ("U0BOB", [(CARE, ("U0BOB",)), (CRISIS, ())], False),  # met his rule; crisis isn't his
    ("U0CAROL", [(CRISIS, ("U0CAROL",))], False),  # she approved; crisis waits for another
    ("U0C2", [(CRISIS, ("U0CAROL",))], True),
]


@pytest.mark.parametrize(("who", "progress", "waiting"), CASES)
def test_awaits(
    who: str, progress: list[tuple[ApprovalRule, tuple[str, ...]]], waiting: bool
) -> None:
    assert awaits(who, [RuleProgress(r, by) for r, by in progress], MEMBERS) is waiting
