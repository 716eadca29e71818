"""Which approvals a draft needs (the strictest rule that applies) and whether it has them."""

from __future__ import annotations

import pytest
from support import TEST_CONFIG

from policies.approvals import (
    all_met,
    approval_progress,
    approval_rules,
    may_post_as,
)
from policies.config import parse_config

GUARDED = parse_config(
    TEST_CONFIG.replace(
        "  - {handle: acme, credentials_env: ACME}\n",
        "  - {handle: acme, credentials_env: ACME}\n"
        "  - {handle: acmecrisis, credentials_env: CRISIS}\n",
    ).replace(
        '    responders: ["S0CRISIS"]\n',
        '    responders: ["S0CRISIS"]\n    accounts: [acmecrisis]\n',
    ),
    filename="test.yaml",
)

POSTING = [
    # (segment, account, may post)
    ("crisis_management", "acmecrisis", True),
    ("crisis_management", "acme", False),  # it lists its accounts: only those
    ("customer_relations", "acme", True),  # lists none: the unguarded accounts
    ("customer_relations", "acmecrisis", False),  # never another segment's guarded account
    ("event_coverage", "ACMECRISIS", False),
]


@pytest.mark.parametrize(("segment", "account", "allowed"), POSTING)
def test_who_may_post_as_which_account(segment: str, account: str, allowed: bool) -> None:
    assert may_post_as(GUARDED, segment=segment, account=account) is allowed


RULES = [
    # (segment, account, mention's segment now, [(rule segment, required)])
    ("customer_relations", "acme", None, [("customer_relations", 1)]),
    ("crisis_management", "acmecrisis", None, [("crisis_management", 2)]),
    (
        "customer_relations",
        "acmecrisis",
        None,
        [("customer_relations", 1), ("crisis_management", 2)],
    ),
    (
        "customer_relations",
        "acme",
        "crisis_management",
        [("customer_relations", 1), ("crisis_management", 2)],
    ),
    ("customer_relations", "acme", "customer_relations", [("customer_relations", 1)]),
]


@pytest.mark.parametrize(("segment", "account", "mention", "expected"), RULES)
def test_every_rule_that_applies(
    segment: str, account: str, mention: str | None, expected: list[tuple[str, int]]
) -> None:
    rules = approval_rules(GUARDED, segment=segment, account=account, mention_segment=mention)
    assert [(r.segment, r.required) for r in rules] == expected


FLOORED = parse_config(
    TEST_CONFIG.replace(
        "{handle: acme, credentials_env: ACME}",
        "{handle: acme, credentials_env: ACME, min_approvals: 3}",
    ),
    filename="test.yaml",
)
FLOORS = [
    # (segment, mention's segment now, [(rule segment, required)]) for @acme, whose floor is 3
    ("customer_relations", None, [("customer_relations", 3)]),  # a lenient segment: raised
    ("event_coverage", None, [("event_coverage", 3)]),
    (
        "customer_relations",
        "crisis_management",
        [("customer_relations", 3), ("crisis_management", 3)],
    ),
]


@pytest.mark.parametrize(("segment", "mention", "expected"), FLOORS)
def test_an_accounts_floor_applies_whatever_segment_a_draft_is_filed_under(
    segment: str, mention: str | None, expected: list[tuple[str, int]]
) -> None:
    rules = approval_rules(FLOORED, segment=segment, account="ACME", mention_segment=mention)
    assert [(r.segment, r.required) for r in rules] == expected
    assert all("@acme needs 3" in r.reason for r in rules)


def test_an_account_without_a_floor_asks_for_no_more() -> None:
    rules = approval_rules(GUARDED, segment="customer_relations", account="acme")
    assert [(r.required, r.reason) for r in rules] == [(1, "its segment")]


MEMBERS = {"S0CARE": frozenset({"U0BOB", "U0CAROL"}), "S0CRISIS": frozenset({"U0C1", "U0C2"})}
PROGRESS = [
    # (approver ids in order, author, editors, met)
    (["U0BOB", "U0C1", "U0C2"], "U0ALICE", [], True),
    (["U0BOB", "U0C1"], "U0ALICE", [], False),  # crisis needs two
    (["U0C1", "U0C2"], "U0ALICE", [], False),  # care needs one of its own
    (
        ["U0BOB", "U0C1", "U0C1", "U0C2"],
        "U0C2",
        [],
        False,
    ),  # the author never counts; twice is once
    (["U0BOB", "U0C1", "U0C2"], "U0ALICE", ["U0BOB"], False),  # nor an editor of the text
    (["U0MALLORY", "U0C1", "U0C2", "U0CAROL"], "U0ALICE", [], True),  # outsiders don't count
]


@pytest.mark.parametrize(("approvals", "author", "editors", "met"), PROGRESS)
def test_every_rule_must_be_met_by_eligible_people(
    approvals: list[str], author: str, editors: list[str], met: bool
) -> None:
    rules = approval_rules(GUARDED, segment="customer_relations", account="acmecrisis")
    progress = approval_progress(
        rules, approvals=approvals, author=author, editors=editors, members=MEMBERS
    )
    assert all_met(progress) is met


def test_no_rule_means_never_approved() -> None:
    assert not all_met([])
