"""Who may do what: every rule in policies/permissions.py, each with its table of cases."""

from collections.abc import Callable

import pytest

from policies.permissions import (
    Actor,
    Decision,
    may_acknowledge,
    may_act_on_mention,
    may_administer,
    may_approve,
    may_be_assigned,
    may_cancel,
    may_confirm_delete,
    may_delete,
    may_edit,
    may_freeze,
    may_mark_posted,
    may_reject,
    may_release_held,
    may_reply,
    may_work_on_mention,
)

ALICE, BOB = "U0ALICE", "U0BOB"
responder = Actor(ALICE, is_admin=False, is_responder=True)
outsider = Actor(ALICE, is_admin=False, is_responder=False)
admin = Actor(ALICE, is_admin=True, is_responder=False)

CASES = [
    # action,    actor,     claimed_by, allowed
    ("claim", responder, None, True),
    ("claim", outsider, None, False),
    ("claim", admin, None, True),
    ("release", responder, ALICE, True),
    ("release", responder, BOB, False),
    ("release", admin, BOB, True),
    ("resolve", responder, None, True),
    ("resolve", responder, ALICE, True),
    ("resolve", responder, BOB, False),
    ("resolve", outsider, None, False),
    ("resolve", admin, BOB, True),
    ("dismiss", responder, BOB, False),
    ("dismiss", responder, None, True),
    ("reroute", responder, BOB, False),
    ("reroute", responder, ALICE, True),
    ("reopen", responder, None, True),
    ("reopen", outsider, None, False),
    ("launch_missiles", responder, None, False),
]


@pytest.mark.parametrize(
    ("action", "actor", "claimed_by", "allowed"),
    CASES,
    ids=[
        f"{a}-{'admin' if c.is_admin else 'responder' if c.is_responder else 'outsider'}-{cb}"
        for a, c, cb, _ in CASES
    ],
)
def test_mention_permissions(
    action: str, actor: Actor, claimed_by: str | None, allowed: bool
) -> None:
    decision = may_act_on_mention(action, actor=actor, claimed_by=claimed_by)
    assert decision.allowed is allowed
    assert bool(decision.reason) is not allowed  # every refusal says why


# -- drafts ------------------------------------------------------------------------------------

AUTHOR, EDITOR, CAROL = "U0AUTHOR", "U0EDITOR", "U0CAROL"
APPROVE_CASES = [
    # who, is an approver, allowed, why not
    (CAROL, True, True, ""),
    (CAROL, False, False, "not an approver"),
    (AUTHOR, True, False, "You wrote this draft"),
    (EDITOR, True, False, "You edited this text"),
]


@pytest.mark.parametrize("rule", [may_approve, may_release_held])
@pytest.mark.parametrize(("who", "is_approver", "allowed", "why"), APPROVE_CASES)
def test_approving_and_releasing_need_an_approver_who_did_not_write_it(
    rule: Callable[..., Decision], who: str, is_approver: bool, allowed: bool, why: str
) -> None:
    decision = rule(
        user_id=who, author_id=AUTHOR, editors=frozenset({EDITOR}), is_approver=is_approver
    )
    assert decision.allowed is allowed and why in decision.reason


@pytest.mark.parametrize(
    ("who", "is_approver", "allowed"),
    [(CAROL, True, True), (AUTHOR, False, True), (CAROL, False, False)],
    ids=["approver", "author withdraws", "outsider"],
)
def test_rejecting(who: str, is_approver: bool, allowed: bool) -> None:
    decision = may_reject(user_id=who, author_id=AUTHOR, is_approver=is_approver)
    assert decision.allowed is allowed and bool(decision.reason) is not allowed


@pytest.mark.parametrize(
    ("who", "state", "allowed"),
    [(AUTHOR, "pending", True), (CAROL, "pending", False), (AUTHOR, "approved", False)],
)
def test_editing_is_the_authors_while_pending(who: str, state: str, allowed: bool) -> None:
    assert may_edit(user_id=who, author_id=AUTHOR, state=state).allowed is allowed


DELETE_CASES = [
    # is admin, is approver, requested by, who clicks, may act, confirms now
    (False, True, None, CAROL, True, False),  # the first approver asks
    (False, True, CAROL, CAROL, True, False),  # asking again is still asking
    (False, True, "U0BOB", CAROL, True, True),  # another approver confirms
    (True, False, None, CAROL, True, True),  # an admin alone
    (False, False, "U0BOB", CAROL, False, True),  # an outsider may do neither
]


@pytest.mark.parametrize(
    ("is_admin", "is_approver", "requested_by", "who", "may", "confirms"), DELETE_CASES
)
def test_two_people_take_a_tweet_down(
    is_admin: bool, is_approver: bool, requested_by: str | None, who: str, may: bool, confirms: bool
) -> None:
    assert may_delete(is_admin=is_admin, is_approver=is_approver).allowed is may
    step = may_confirm_delete(user_id=who, requested_by=requested_by, is_admin=is_admin)
    assert step.allowed is confirms


@pytest.mark.parametrize("rule", [may_freeze, may_administer], ids=["freeze", "administer"])
@pytest.mark.parametrize(("is_admin", "allowed"), [(True, True), (False, False)])
def test_only_admins_freeze_or_administer(
    rule: Callable[..., Decision], is_admin: bool, allowed: bool
) -> None:
    decision = rule(is_admin=is_admin)
    assert (
        decision.allowed is allowed and ("Only brandbot admins" in decision.reason) is not allowed
    )


REPLY_CASES = [
    # actor,     claimed_by, state,      allowed
    (responder, None, "open", True),  # replying claims it
    (responder, ALICE, "claimed", True),
    (responder, BOB, "claimed", False),  # someone else's claim
    (admin, BOB, "claimed", False),  # admins too: release it first
    (admin, None, "open", True),
    (outsider, None, "open", False),
    (responder, ALICE, "replied", True),  # a second reply by whoever answered
    (responder, BOB, "replied", False),
    (responder, None, "resolved", False),
    (admin, None, "dismissed", False),
]


@pytest.mark.parametrize(("actor", "claimed_by", "state", "allowed"), REPLY_CASES)
def test_reply_permissions(actor: Actor, claimed_by: str | None, state: str, allowed: bool) -> None:
    decision = may_reply(actor=actor, claimed_by=claimed_by, state=state)
    assert decision.allowed is allowed
    assert decision.allowed or decision.reason


MARK_POSTED_CASES = [
    # (id, who, is admin, is approver, allowed)
    ("an approver", CAROL, False, True, True),
    ("an admin", CAROL, True, False, True),
    ("the author, though an approver", AUTHOR, False, True, False),
    ("the author, though an admin", AUTHOR, True, False, False),
    ("an outsider", CAROL, False, False, False),
]


@pytest.mark.parametrize(
    ("who", "is_admin", "is_approver", "allowed"),
    [c[1:] for c in MARK_POSTED_CASES],
    ids=[c[0] for c in MARK_POSTED_CASES],
)
def test_marking_as_posted_needs_an_approver_or_admin_other_than_the_author(
    who: str, is_admin: bool, is_approver: bool, allowed: bool
) -> None:
    decision = may_mark_posted(
        user_id=who, author_id=AUTHOR, is_admin=is_admin, is_approver=is_approver
    )
    assert decision.allowed is allowed and bool(decision.reason) is not allowed


@pytest.mark.parametrize(
    ("who", "is_approver", "allowed"),
    [(CAROL, True, True), (AUTHOR, False, True), (CAROL, False, False)],
    ids=["approver", "author withdraws", "outsider"],
)
def test_cancelling(who: str, is_approver: bool, allowed: bool) -> None:
    decision = may_cancel(user_id=who, author_id=AUTHOR, is_approver=is_approver)
    assert decision.allowed is allowed and bool(decision.reason) is not allowed


INBOX_CASES = [
    # action,     actor,     allowed — a claim locks none of these (assigning is a request)
    ("assign", responder, True),
    ("assign", outsider, False),
    ("assign", admin, True),
    ("unassign", responder, True),
    ("unassign", outsider, False),
    ("note", responder, True),
    ("note", outsider, False),
    ("note", admin, True),
    ("tag", responder, True),
    ("tag", outsider, False),
    ("claim", responder, False),  # not an inbox control: may_act_on_mention decides it
]


@pytest.mark.parametrize(("action", "actor", "allowed"), INBOX_CASES)
def test_inbox_controls(action: str, actor: Actor, allowed: bool) -> None:
    assert may_work_on_mention(action, actor=actor).allowed is allowed


@pytest.mark.parametrize(
    ("is_responder", "allowed", "reason"),
    [
        (True, True, ""),
        (False, False, "<@U0BOB> can't be assigned this: only members of <#C0CARE> can."),
    ],
)
def test_only_someone_who_could_work_it_is_assigned(
    is_responder: bool, allowed: bool, reason: str
) -> None:
    decision = may_be_assigned(
        assignee=BOB, is_responder=is_responder, who_can="members of <#C0CARE>"
    )
    assert (decision.allowed, decision.reason) == (allowed, reason)


ACKNOWLEDGE_CASES = [
    # actor, is an approver of the segment, allowed
    (responder, False, True),
    (admin, False, True),
    (outsider, True, True),  # an escalation names the approvers: they may acknowledge it
    (outsider, False, False),
]


@pytest.mark.parametrize(("actor", "is_approver", "allowed"), ACKNOWLEDGE_CASES)
def test_acknowledging_a_reminder(actor: Actor, is_approver: bool, allowed: bool) -> None:
    decision = may_acknowledge(actor=actor, is_approver=is_approver)
    assert decision.allowed is allowed
    assert decision.reason == (
        "" if allowed else "Only this segment's responders, its approvers or an admin can do that."
    )
