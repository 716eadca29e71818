"""MentionService on a real database: who may claim and release a mention, and when Slack cannot
say who is in a group, every check fails closed with one message and a `mention.refused` entry."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bot.core.errors import ActionRefused
from bot.core.models import Mention, MentionState
from bot.fakes.services import ServiceKit
from bot.mentions.service import MentionService
from bot.slack.clicks import Click
from bot.slack.directory import SLACK_UNAVAILABLE

CRISIS = "crisis_management"  # responders: the S0CRISIS group


def _refused(kit: ServiceKit, mention: Mention) -> list[dict[str, str]]:
    entries = kit.audit("mention.refused", subject=f"mention:{mention.id}")
    return [json.loads(str(e.after)) for e in entries]


def test_a_responder_claims_a_mention_and_releases_it(kit: ServiceKit) -> None:
    mention = kit.add_mention("@acme was there a breach?", segment=CRISIS)

    kit.mentions.claim(kit.on_mention("U0CRISIS1", mention))
    claimed = kit.mention(mention.id)
    assert (claimed.state, claimed.claimed_by) == (MentionState.CLAIMED, "U0CRISIS1")
    assert claimed.claimed_by_name == "crisis1" and kit.card(mention.card_id).pending
    with pytest.raises(ActionRefused, match="Already claimed by <@U0CRISIS1>"):
        kit.mentions.claim(kit.on_mention("U0CRISIS2", mention))

    kit.mentions.release(kit.on_mention("U0CRISIS1", mention))
    released = kit.mention(mention.id)
    assert (released.state, released.claimed_by) == (MentionState.OPEN, None)
    subject = f"mention:{mention.id}"
    assert [e.action for e in kit.audit(subject=subject)] == ["mention.claim", "mention.release"]


def test_only_a_responder_of_the_segment_may_claim(kit: ServiceKit) -> None:
    mention = kit.add_mention("@acme was there a breach?", segment=CRISIS)

    with pytest.raises(ActionRefused, match="responders"):
        kit.mentions.claim(kit.on_mention("U0BOB", mention))

    assert kit.mention(mention.id).state == MentionState.OPEN
    assert [(r["attempted"], r["channel"]) for r in _refused(kit, mention)] == [
        ("claim", "C0CRISIS")
    ]


def test_only_the_claimer_or_an_admin_may_release(kit: ServiceKit) -> None:
    mention = kit.add_mention(segment=CRISIS, state=MentionState.CLAIMED, claimed_by="U0CRISIS1")

    with pytest.raises(ActionRefused, match="Only <@U0CRISIS1> or an admin"):
        kit.mentions.release(kit.on_mention("U0CRISIS2", mention))
    assert kit.mention(mention.id).claimed_by == "U0CRISIS1"
    assert [r["attempted"] for r in _refused(kit, mention)] == ["release"]

    kit.mentions.release(kit.on_mention("U0ADMIN", mention))
    assert kit.mention(mention.id).state == MentionState.OPEN


def _dismiss(service: MentionService, click: Click) -> None:
    service.dismiss(click, reason="spam", note="")


def _reroute(service: MentionService, click: Click) -> None:
    service.reroute(click, to_segment="customer_relations")


ACTIONS: dict[str, tuple[MentionState, Callable[[MentionService, Click], None]]] = {
    "claim": (MentionState.OPEN, MentionService.claim),
    "release": (MentionState.CLAIMED, MentionService.release),
    "resolve": (MentionState.OPEN, MentionService.resolve),
    "dismiss": (MentionState.OPEN, _dismiss),
    "reroute": (MentionState.OPEN, _reroute),
    "reopen": (MentionState.RESOLVED, MentionService.reopen),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_when_slack_cannot_list_groups_every_check_fails_closed(
    kit: ServiceKit, action: str
) -> None:
    state, act = ACTIONS[action]
    claimer = "U0CRISIS1" if state == MentionState.CLAIMED else None
    mention = kit.add_mention(segment=CRISIS, state=state, claimed_by=claimer)
    kit.slack.fail_next("usergroups.users.list", status=503, retry_after=None, count=5)

    with pytest.raises(ActionRefused) as refused:
        act(kit.mentions, kit.on_mention("U0CRISIS1", mention))

    assert str(refused.value) == SLACK_UNAVAILABLE
    unchanged = kit.mention(mention.id)
    assert (unchanged.state, unchanged.version, unchanged.segment) == (state, 1, CRISIS)
    assert [(r["attempted"], r["reason"]) for r in _refused(kit, mention)] == [
        (action, SLACK_UNAVAILABLE)
    ]
    assert kit.slack.calls_to("usergroups.users.list")[-1].http_status == 503


def test_an_admin_acts_on_a_mention_without_slack_being_asked_about_responders(
    kit: ServiceKit,
) -> None:
    mention = kit.add_mention(segment=CRISIS, state=MentionState.OPEN)
    kit.slack.fail_next("usergroups.users.list", status=503, retry_after=None, count=5)

    kit.mentions.claim(kit.on_mention("U0ADMIN", mention))  # admins are listed by user id

    assert kit.mention(mention.id).claimed_by == "U0ADMIN"
    assert kit.slack.calls_to("usergroups.users.list") == []
