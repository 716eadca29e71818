"""Fix 6: every permission check that needs a user group, with Slack down, refuses with
SLACK_UNAVAILABLE, changes nothing and writes exactly one `*.refused` entry."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support import TEST_CONFIG

from bot.core.db import transaction
from bot.core.errors import ActionRefused
from bot.core.models import Draft, DraftState, MentionState
from bot.fakes.services import ServiceKit
from bot.slack.directory import SLACK_UNAVAILABLE

ADMIN_GROUP = TEST_CONFIG.replace('admins: ["U0ADMIN"]', 'admins: ["S0ADMINS"]')


def _slack_down(kit: ServiceKit) -> None:
    kit.slack.fail_next("usergroups.users.list", status=503, retry_after=None, count=100)


def _draft_in(kit: ServiceKit, state: DraftState) -> Draft:
    draft = kit.add_draft(state, approved_by=["U0CAROL"] if state != DraftState.PENDING else ())
    if state == DraftState.POSTED:
        with transaction(kit.engine) as session:
            row = session.get(Draft, draft.id)
            assert row is not None
            row.tweet_id = "1790000000000000999"
            session.add(row)
    return kit.draft(draft.id)


CASES: dict[str, Callable[[ServiceKit], object]] = {
    "approve": lambda k: k.drafts.approve(k.on_draft("U0BOB", _draft_in(k, DraftState.PENDING))),
    "reject": lambda k: k.drafts.reject(
        k.on_draft("U0BOB", _draft_in(k, DraftState.PENDING)), reason="no"
    ),
    "release": lambda k: k.drafts.release(k.on_draft("U0BOB", _draft_in(k, DraftState.HELD))),
    "retry": lambda k: k.drafts.retry(k.on_draft("U0BOB", _draft_in(k, DraftState.FAILED))),
    "delete": lambda k: k.drafts.delete(k.on_draft("U0BOB", _draft_in(k, DraftState.POSTED))),
    "mention claim": lambda k: k.mentions.claim(
        k.on_mention("U0CRISIS1", k.add_mention("@acme hacked", segment="crisis_management"))
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_slack_down_refuses_once_and_audits_once(kit: ServiceKit, case: str) -> None:
    act = CASES[case]
    # Slack answers every user-group lookup ok:false (the subject is built inside `act`)
    kit.slack.fail_next(
        "usergroups.users.list", status=200, retry_after=None, error="fatal_error", count=1000
    )
    with pytest.raises(ActionRefused) as refused:
        act(kit)

    assert str(refused.value) == SLACK_UNAVAILABLE
    entries = [e for e in kit.audit() if e.action.endswith(".refused")]
    assert len(entries) == 1, [(e.action, e.after) for e in entries]


@pytest.mark.parametrize("command", ["freeze", "unfreeze"])
def test_freeze_with_admins_as_a_group_and_slack_down(
    make_kit: Callable[..., ServiceKit], command: str
) -> None:
    kit = make_kit(ADMIN_GROUP)
    _slack_down(kit)
    act = kit.freeze.freeze if command == "freeze" else kit.freeze.unfreeze
    with pytest.raises(ActionRefused, match="couldn't check your role"):
        act(person=kit.person("U0ADMIN"), text="all breach", channel="C0CRISIS")
    (entry,) = kit.audit("freeze.refused")
    assert entry.actor_id == "U0ADMIN"


def test_an_admin_acting_on_a_mention_needs_no_responders_lookup(kit: ServiceKit) -> None:
    mention = kit.add_mention("@acme hacked", segment="crisis_management")
    _slack_down(kit)
    kit.mentions.claim(kit.on_mention("U0ADMIN", mention))
    assert kit.mention(mention.id).state == MentionState.CLAIMED
