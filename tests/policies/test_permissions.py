"""Who may press which button on a mention card."""

import pytest

from policies.permissions import Actor, may_act_on_mention

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
