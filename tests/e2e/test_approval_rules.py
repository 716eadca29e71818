"""The strictest approval rule applies, and approvals are never stranded — through the real app.

Review items: 3 (a reply's segment, a guarded account), 4 (a Slack hiccup while counting), 15 (a
crash between recording an approval and queueing the draft).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlmodel import col
from support import TEST_CONFIG, audit_entries, posted_card

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import Draft, DraftApproval, DraftState
from bot.fakes.drafting import account_choice, draft_via_slack, latest_draft
from bot.fakes.drafting import approval_card as _card
from bot.fakes.drafting import click_card as _click
from bot.fakes.drafting import get_draft as _draft
from bot.fakes.drafting import publish as _publish
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.mention_card import MentionAction
from policies.config import parse_config

TWO_ACCOUNTS = TEST_CONFIG.replace(
    "  - {handle: acme, credentials_env: ACME}\n",
    "  - {handle: acme, credentials_env: ACME}\n"
    "  - {handle: acmecrisis, credentials_env: ACMECRISIS}\n",
).replace(
    '    approvers: ["S0CRISIS"]\n',
    '    approvers: ["S0CRISIS", "S0LEGAL"]\n    accounts: [acmecrisis]\n',
)


@pytest.fixture
def crisis_world(database_url: str, clock: FakeClock) -> Iterator[FakeWorld]:
    """Crisis management guards @acmecrisis; its approvers are two groups."""
    world = FakeWorld(
        config=parse_config(TWO_ACCOUNTS, filename="test.yaml"),
        database_url=database_url,
        clock=clock,
    ).start()
    world.slack.set_usergroup("S0CRISIS", ["U0CRISIS1", "U0CRISIS2", "U0CRISIS3"])
    world.slack.set_usergroup("S0LEGAL", ["U0LEGAL1"])
    world.slack.set_usergroup("S0CARE", ["U0BOB", "U0CAROL"])
    try:
        yield world
        assert world.slack.violations == []
    finally:
        world.stop()


def _reply_form(world: FakeWorld, mention_id: str, user_id: str, name: str) -> dict[str, Any]:
    card = posted_card(world, mention_id)
    user = world.user(user_id, name)
    before = len(world.slack.views_for(user_id))
    user.click(channel=card.channel, ts=card.ts, action_id="mention_reply")
    world.slack.wait_for(lambda s: len(s.views_for(user_id)) > before)
    return user.last_view_for(user_id)


def test_a_reply_keeps_its_mentions_segment_whatever_the_form_says(world: FakeWorld) -> None:
    mention = world.x.add_tweet(author="dana", text="@acme you got hacked, I'm suing: lawsuit")
    world.poll()
    world.deliver()
    assert world.mention(mention["id"]).segment == "crisis_management"

    view = _reply_form(world, mention["id"], "U0CRISIS1", "casey")
    assert "Segment (its approvers decide)" not in str(view["blocks"])  # no select to switch
    assert "Crisis management" in str(view["blocks"])
    author = world.user("U0CRISIS1", "casey")
    forged_segment = {
        "selected_option": {
            "text": {"type": "plain_text", "text": "Customer relations"},
            "value": "customer_relations",
        }
    }
    response = author.submit_view(
        view["id"],
        {
            "text": {"value": "@dana We are looking into this right now."},
            "account": account_choice("acme"),
            "segment": {"value": forged_segment},  # what the review's switch sent
        },
        force=True,
    )
    assert response.done, response
    world.slack.wait_for(lambda _: latest_draft(world) is not None)
    draft = latest_draft(world)
    assert draft is not None
    assert draft.segment == "crisis_management" and draft.in_reply_to == mention["id"]
    world.deliver()
    assert _card(world, draft).channel == "C0CRISIS"

    care = world.user("U0BOB", "bob")
    assert "not an approver" in _click(world, care, draft, DraftAction.APPROVE)
    crisis2 = world.user("U0CRISIS2", "quinn")
    assert "1 of 2" in _click(world, crisis2, draft, DraftAction.APPROVE)
    assert _publish(world) == 0 and world.x.posted_by("acme") == []
    assert "publish queue" in _click(
        world, world.user("U0CRISIS3", "rory"), draft, DraftAction.APPROVE
    )
    assert _publish(world) == 1


def test_no_accounts_listed_never_bypasses_another_segments_guard(
    crisis_world: FakeWorld,
) -> None:
    world = crisis_world
    alice = world.user("U0ALICE", "alice")
    alice.command("/tweet", "", channel="C0CUSTOMER")
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    view = alice.last_view_for("U0ALICE")
    assert "@acmecrisis" not in str(view["blocks"])  # not offered to customer relations
    response = alice.submit_view(
        view["id"],
        {
            "text": {"value": "All systems normal."},
            "account": account_choice("acmecrisis"),
        },
    )
    errors = response.errors
    assert "may not post as @acmecrisis" in errors["account"]
    assert "guarded by Crisis management" in errors["account"]
    assert latest_draft(world) is None


def test_a_draft_as_a_guarded_account_needs_the_guards_approvals_too(
    database_url: str, clock: FakeClock
) -> None:
    both = TWO_ACCOUNTS.replace(
        '    approvers: ["S0CARE"]\n',
        '    approvers: ["S0CARE"]\n    accounts: [acme, acmecrisis]\n',
    )
    config = parse_config(both, filename="test.yaml")
    with FakeWorld(config=config, database_url=database_url, clock=clock) as world:
        world.slack.set_usergroup("S0CRISIS", ["U0CRISIS1", "U0CRISIS2"])
        world.slack.set_usergroup("S0LEGAL", [])
        world.slack.set_usergroup("S0CARE", ["U0BOB", "U0CAROL"])
        alice = world.user("U0ALICE", "alice")
        draft = draft_via_slack(world, alice, "Service restored.", account="acmecrisis")
        shown = str(world.slack.message("C0CUSTOMER", str(_card(world, draft).ts))["blocks"])
        assert "2 approval(s) from Crisis management (guards @acmecrisis)" in shown

        assert "waiting for 2 more" in _click(
            world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE
        )
        assert "waiting for 1 more" in _click(
            world, world.user("U0CRISIS1", "casey"), draft, DraftAction.APPROVE
        )
        assert _publish(world) == 0 and world.x.posted_by("acmecrisis") == []
        assert "publish queue" in _click(
            world, world.user("U0CRISIS2", "quinn"), draft, DraftAction.APPROVE
        )
        assert _publish(world) == 1 and len(world.x.posted_by("acmecrisis")) == 1


def test_a_slack_hiccup_while_counting_never_strands_an_approval(
    crisis_world: FakeWorld, clock: FakeClock
) -> None:
    world = crisis_world
    author = world.user("U0CRISIS1", "casey")
    draft = draft_via_slack(world, author, "We are investigating.", channel="C0CRISIS")
    legal, quinn = world.user("U0LEGAL1", "lee"), world.user("U0CRISIS2", "quinn")
    assert "1 of 2" in _click(world, legal, draft, DraftAction.APPROVE)
    clock.advance(seconds=61)  # past the directory cache: the groups are asked again
    # The second group lookup of the next click fails (on the old code: while counting).
    world.slack.fail_next("usergroups.users.list", status=503, retry_after=None, skip=1)
    reply = _click(world, quinn, draft, DraftAction.APPROVE)
    assert "Something went wrong" not in reply
    recorded = _approvals(world, draft)
    assert _draft(world, draft.id).state == DraftState.APPROVED or recorded == ["U0LEGAL1"]
    assert "try again" in reply.lower()
    assert "publish queue" in _click(world, quinn, draft, DraftAction.APPROVE)
    assert _publish(world) == 1 and len(world.x.posted_by("acmecrisis")) == 1


def test_a_crash_between_recording_and_queueing_leaves_nothing_half_done(
    world: FakeWorld,
) -> None:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Back online, thank you!")
    bob = world.user("U0BOB", "bob")

    def crash_when_queueing(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        queueing = statement.lstrip().upper().startswith("UPDATE DRAFT SET")
        if queueing and "approved" in str(params):
            raise RuntimeError("the process died here")

    event.listen(world.db, "before_cursor_execute", crash_when_queueing)
    try:
        assert "went wrong" in _click(world, bob, draft, DraftAction.APPROVE)
    finally:
        event.remove(world.db, "before_cursor_execute", crash_when_queueing)
    assert _draft(world, draft.id).state == DraftState.PENDING
    assert _approvals(world, draft) == []  # rolled back whole
    assert "publish queue" in _click(world, bob, draft, DraftAction.APPROVE)
    assert _publish(world) == 1
    assert len(audit_entries(world, action="draft.approve")) == 1


def _approvals(world: FakeWorld, draft: Draft) -> list[str]:
    with transaction(world.db) as session:
        return list(
            session.scalars(
                select(col(DraftApproval.approver_id)).where(
                    col(DraftApproval.draft_id) == draft.id
                )
            )
        )


def _reply_draft(world: FakeWorld, mention_id: str) -> Draft:
    view = _reply_form(world, mention_id, "U0ALICE", "alice")
    author = world.user("U0ALICE", "alice")
    response = author.submit_view(view["id"], {"text": {"value": "@dana Sorry, fixing it now."}})
    assert response.done, response
    world.slack.wait_for(lambda _: latest_draft(world) is not None)
    world.deliver()
    draft = latest_draft(world)
    assert draft is not None
    return draft


def test_a_queued_reply_whose_mention_moves_to_crisis_needs_crisis_approvals(
    world: FakeWorld, clock: FakeClock
) -> None:
    mention = world.x.add_tweet(author="dana", text="@acme outage in Leeds")
    world.poll()
    world.deliver()
    draft = _reply_draft(world, mention["id"])
    assert draft.segment == "customer_relations"
    world.x.fail("POST /2/tweets", status=429, count=1)  # the approved reply waits in the queue
    assert "publish queue" in _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    assert _publish(world) == 0

    card = posted_card(world, mention["id"])
    # Replying claimed it for alice: she escalates it herself (nobody else may move her claim).
    world.user("U0ALICE", "alice").click(
        channel=card.channel,
        ts=card.ts,
        action_id=MentionAction.REROUTE,
        option="crisis_management",
    )
    world.slack.wait_for(lambda _: world.mention(mention["id"]).segment == "crisis_management")
    clock.advance(minutes=20)
    assert _publish(world) == 0 and world.x.posted_by("acme") == []
    assert _draft(world, draft.id).state == DraftState.PENDING
    shown = str(world.slack.message("C0CUSTOMER", str(_card(world, draft).ts))["blocks"])
    assert "2 approval(s) from Crisis management (its mention is there now)" in shown
    for crisis in ("U0CRISIS2", "U0CRISIS3"):
        _click(world, world.user(crisis, crisis.lower()), draft, DraftAction.APPROVE)
    assert _publish(world) == 1 and len(world.x.posted_by("acme")) == 1


def test_an_approver_removed_before_the_post_goes_out_no_longer_counts(
    world: FakeWorld, clock: FakeClock
) -> None:
    at = int(clock.now().timestamp()) + 600
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Webinar at noon", schedule=at)
    assert "publish queue" in _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    world.slack.set_usergroup("S0CARE", ["U0CAROL"])  # bob leaves the approvers
    clock.advance(minutes=11)  # due, and past the directory cache
    assert _publish(world) == 0 and world.x.posted_by("acme") == []
    assert _draft(world, draft.id).state == DraftState.PENDING
    lost = audit_entries(world, action="draft.approvals_lost")
    assert len(lost) == 1 and "customer_relations" in str(lost[0].after)


HELP_DESK = TEST_CONFIG.replace(
    "  - {handle: acme, credentials_env: ACME}\n",
    "  - {handle: acme, credentials_env: ACME}\n  - {handle: acme_help, credentials_env: HELP}\n",
)


def test_a_reply_answers_from_the_account_that_was_mentioned(
    database_url: str, clock: FakeClock
) -> None:
    config = parse_config(HELP_DESK, filename="test.yaml")
    world = FakeWorld(config=config, database_url=database_url, clock=clock).start()
    try:
        tweet = world.x.add_tweet(author="dana", text="@acme_help my refund never came")
        clock.advance(seconds=config.poll_seconds)
        world.poll()
        world.deliver()
        assert world.mention(tweet["id"]).account == "acme_help"

        view = _reply_form(world, tweet["id"], "U0BOB", "bob")

        (account,) = [b for b in view["blocks"] if b.get("block_id") == "account"]
        assert account["element"]["initial_option"]["value"] == "acme_help"
        offered = [o["value"] for o in account["element"]["options"]]
        assert sorted(offered) == ["acme", "acme_help"]  # the segment may post as either
    finally:
        world.stop()


def test_an_accounts_floor_holds_a_draft_filed_under_a_lenient_segment_in_slack(
    database_url: str, clock: FakeClock
) -> None:
    careful = TEST_CONFIG.replace(
        "{handle: acme, credentials_env: ACME}",
        "{handle: acme, credentials_env: ACME, min_approvals: 2}",
    )
    world = FakeWorld(
        config=parse_config(careful, filename="test.yaml"), database_url=database_url, clock=clock
    ).start()
    world.slack.set_usergroup("S0CARE", ["U0BOB", "U0CAROL"])
    try:
        alice = world.user("U0ALICE", "alice")
        draft = draft_via_slack(world, alice, "Our spring sale starts Monday")
        assert draft.segment == "customer_relations"  # its own rule: one approval
        first = _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
        assert "1 more" in first, first
        assert _draft(world, draft.id).state == DraftState.PENDING
        assert _publish(world) == 0 and world.x.posted_by("acme") == []
        world.deliver()
        card = _card(world, draft)
        shown = str(world.slack.message(card.channel, str(card.ts))["blocks"])
        assert (
            "*Needs 2 approval(s)* from approvers other than the author — 1 so far: <@U0BOB>"
            in shown
        )
        second = _click(world, world.user("U0CAROL", "carol"), draft, DraftAction.APPROVE)
        assert "publish queue" in second
        assert _publish(world) == 1 and len(world.x.posted_by("acme")) == 1
        assert world.slack.violations == []
    finally:
        world.stop()
