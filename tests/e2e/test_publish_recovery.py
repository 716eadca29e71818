"""A post of unknown outcome is matched by its whole text, and a freeze window holds what came due
in it however late the publisher looks (review items 2 and 7)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from support import TEST_CONFIG, audit_entries

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import Draft, DraftState
from bot.fakes.drafting import approval_card as _card
from bot.fakes.drafting import click_card as _click
from bot.fakes.drafting import draft_via_slack
from bot.fakes.drafting import get_draft as _draft
from bot.fakes.drafting import publish as _publish
from bot.fakes.world import FakeWorld
from bot.slack.cards.approval_card import DraftAction
from bot.slack.clicks import Click, Person
from policies.config import BrandConfig, parse_config


@pytest.fixture(params=[False, True], ids=["links as sent", "links as t.co"])
def linking_world(
    request: pytest.FixtureRequest, config: BrandConfig, database_url: str, clock: FakeClock
) -> Iterator[FakeWorld]:
    world = FakeWorld(
        config=config, database_url=database_url, clock=clock, shorten_links=request.param
    ).start()
    world.slack.set_usergroup("S0CARE", ["U0BOB", "U0CAROL"])
    try:
        yield world
    finally:
        world.stop()


def test_recovery_never_takes_another_drafts_tweet_and_delete_removes_only_its_own(
    linking_world: FakeWorld, clock: FakeClock
) -> None:
    world = linking_world
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    shoes = draft_via_slack(world, alice, "Flash sale today only https://acme.com/shoes")
    _click(world, bob, shoes, DraftAction.APPROVE)
    assert _publish(world) == 1
    (shoes_tweet,) = world.x.posted_by("acme")

    jackets = draft_via_slack(world, alice, "Flash sale today only https://acme.com/jackets")
    _click(world, bob, jackets, DraftAction.APPROVE)
    world.x.fail("POST /2/tweets", status=503)  # X fails before creating anything
    assert _publish(world) == 0
    assert _draft(world, jackets.id).state == DraftState.POSTING
    assert len(world.x.posted_by("acme")) == 1

    clock.advance(minutes=1)
    assert _publish(world) == 1  # searched, found nothing of its own, posted it
    recorded = _draft(world, jackets.id)
    assert recorded.state == DraftState.POSTED and recorded.tweet_id != shoes_tweet["id"]
    ours = next(t for t in world.x.posted_by("acme") if t["id"] == recorded.tweet_id)
    expanded = [u["expanded_url"] for u in ours.get("entities", {}).get("urls", [])]
    assert ours["text"].endswith("/jackets") or expanded == ["https://acme.com/jackets"]

    world.deliver()
    assert "another approver" in _click(world, bob, jackets, DraftAction.DELETE)
    assert "Deleted" in _click(world, world.user("U0CAROL", "carol"), jackets, DraftAction.DELETE)
    assert [t["id"] for t in world.x.posted_by("acme")] == [shoes_tweet["id"]]


def test_two_drafts_never_share_a_tweet(world: FakeWorld) -> None:
    now = world.clock.now()
    with pytest.raises(IntegrityError), transaction(world.db) as session:
        for text in ("one", "two"):
            session.add(
                Draft(
                    account="acme",
                    segment="customer_relations",
                    author_id="U0ALICE",
                    author_name="alice",
                    text=text,
                    text_hash=text,
                    state=DraftState.POSTED,
                    tweet_id="1790000000000000000",
                    created_at=now,
                    updated_at=now,
                )
            )


TWO_ACCOUNTS = TEST_CONFIG.replace(
    "  - {handle: acme, credentials_env: ACME}\n",
    "  - {handle: acme, credentials_env: ACME}\n  - {handle: acmehelp, credentials_env: HELP}\n",
)


def test_what_came_due_in_a_timed_freeze_is_held_even_if_the_publisher_was_busy(
    database_url: str, clock: FakeClock
) -> None:
    config = parse_config(TWO_ACCOUNTS, filename="test.yaml")
    with FakeWorld(config=config, database_url=database_url, clock=clock) as world:
        world.slack.set_usergroup("S0CARE", ["U0BOB", "U0CAROL"])
        admin, bob = world.user("U0ADMIN", "admin"), world.user("U0BOB", "bob")
        alice = world.user("U0ALICE", "alice")
        admin.command("/brand", "freeze acme Checking a data issue for 1m", channel="C0CUSTOMER")
        world.slack.wait_for(lambda s: any("frozen for acme" in e["text"] for e in s.ephemerals))
        start = clock.now()
        helper = draft_via_slack(world, alice, "Our help desk is open", account="acmehelp")
        promo = draft_via_slack(
            world,
            alice,
            "New colours in store",
            account="acme",
            schedule=int(start.timestamp()) + 50,
        )
        for draft in (helper, promo):
            _click(world, bob, draft, DraftAction.APPROVE)
        clock.advance(seconds=55)  # the promo is due; the freeze runs 5 s more
        # X takes half a minute for the @acmehelp post: the freeze runs out meanwhile.
        world.x.after_post = lambda _tweet: clock.advance(seconds=30)
        world.runtime.publisher.publish_due()
        world.x.after_post = None
        assert [t["text"] for t in world.x.posted_by("acmehelp")] == ["Our help desk is open"]
        assert world.x.posted_by("acme") == []
        assert _draft(world, promo.id).state == DraftState.HELD
        world.runtime.publisher.publish_due()
        assert world.x.posted_by("acme") == []
        assert len(audit_entries(world, action="draft.hold", subject=f"draft:{promo.id}")) == 1


def test_a_post_that_needs_a_person_can_be_posted_or_rejected_from_its_card(
    world: FakeWorld, clock: FakeClock
) -> None:
    text = "We're back up. Thanks for your patience!"
    world.x.add_tweet(author="acme", text=text, created_at=clock.now() - timedelta(days=1))
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), text)
    _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    _publish(world)  # X: duplicate content; the day-old tweet is outside the search window
    assert _draft(world, draft.id).state == DraftState.NEEDS_CHECK
    card = _card(world, draft)
    shown = world.slack.message(card.channel, str(card.ts))
    buttons = [
        e["action_id"] for b in shown["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == [DraftAction.MARK_POSTED, DraftAction.RETRY, DraftAction.CANCEL]
    carol = world.user("U0CAROL", "carol")
    carol.click(channel=card.channel, ts=str(card.ts), action_id=DraftAction.RETRY)
    world.slack.wait_for(lambda _: _draft(world, draft.id).state == DraftState.APPROVED)
    _publish(world)  # X refuses the duplicate again: back to a person
    assert _draft(world, draft.id).state == DraftState.NEEDS_CHECK
    world.runtime.services.drafts.reject(
        Click(Person("U0CAROL", "carol"), card.channel, str(card.ts)), reason="on X already"
    )
    assert _draft(world, draft.id).state == DraftState.REJECTED


def test_a_worker_taking_over_an_expired_lease_does_not_post_again_while_the_first_is_in_flight(
    world: FakeWorld, clock: FakeClock
) -> None:
    draft = draft_via_slack(world, world.user("U0ALICE", "alice"), "Spring sale starts now")
    _click(world, world.user("U0BOB", "bob"), draft, DraftAction.APPROVE)
    slow = iter([2.0])
    world.x.post_delays(before_create=lambda: next(slow, 0.0))
    replica = world.build_runtime()
    first = threading.Thread(target=world.runtime.publisher.publish_due)
    first.start()
    world.x.wait_for(lambda: len(world.x.post_records) == 1)
    clock.advance(seconds=61)  # the first worker's lease runs out while X is slow
    replica.publisher.publish_due()
    first.join(10)
    assert len(world.x.post_records) == 1  # one POST /2/tweets, not two
    assert _draft(world, draft.id).state == DraftState.POSTED
    clock.advance(minutes=5)
    assert replica.publisher.publish_due() == 0 and len(world.x.post_records) == 1
