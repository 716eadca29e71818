"""The Outbox on a real database against the fake Slack: a queued card is posted once, a Slack
failure delays it without ever duplicating it, and every send renders the database as it is."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlmodel import col
from support import copies_in_slack

from bot.core import outbox
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import Mention, MentionState
from bot.fakes.services import ServiceKit


def test_a_queued_card_is_posted_once(kit: ServiceKit) -> None:
    mention = kit.add_mention("@acme my refund never came")  # add_mention delivers it
    card = kit.card(mention.card_id)

    assert kit.deliver() == 0  # nothing is due any more

    (posted,) = copies_in_slack(kit.slack, card)
    assert card.ts == posted["ts"] and not card.pending and card.synced_revision == 0
    assert "my refund never came" in posted["text"]
    assert len(kit.slack.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize(
    ("status", "retry_after", "stored_by_slack"),
    [(429, 30, False), (503, None, False), (500, None, True)],
    ids=["429 retry-after", "5xx", "5xx after Slack stored it"],
)
def test_a_failed_post_is_delivered_later_without_a_duplicate(
    kit: ServiceKit, clock: FakeClock, status: int, retry_after: int | None, stored_by_slack: bool
) -> None:
    kit.slack.fail_next(
        "chat.postMessage", status=status, retry_after=retry_after, apply=stored_by_slack
    )
    mention = kit.add_mention("@acme the app logs me out")
    card = kit.card(mention.card_id)
    assert card.ts is None and card.pending and card.last_error
    assert card.due_at > kit.clock.now()  # delayed, not dropped
    attempts = len(kit.slack.calls)

    assert kit.deliver() == 0  # still not due: Slack is not asked again yet
    assert len(kit.slack.calls) == attempts
    clock.advance(seconds=retry_after or 5)
    assert kit.deliver() == 1

    delivered = kit.card(mention.card_id)
    (posted,) = copies_in_slack(kit.slack, delivered)
    assert delivered.ts == posted["ts"] and not delivered.pending
    # A refusal (429) proves nothing reached Slack; any other failure is looked for first.
    assert bool(kit.slack.calls_to("conversations.history")) is (status != 429)


def test_an_update_renders_the_database_as_it_is_when_sent(kit: ServiceKit) -> None:
    mention = kit.add_mention("@acme the app logs me out")
    card = kit.card(mention.card_id)
    now = kit.clock.now()
    for who in ("U0BOB", "U0CAROL"):  # two changes before the outbox runs: one update
        with transaction(kit.engine) as session:
            session.execute(
                update(Mention)
                .where(col(Mention.id) == mention.id)
                .values(state=MentionState.CLAIMED, claimed_by=who, claimed_at=now)
            )
            outbox.mark_changed(session, card.id, now=now)

    assert kit.deliver() == 1

    (update_call,) = kit.slack.calls_to("chat.update")
    assert update_call.args["ts"] == card.ts
    (shown,) = copies_in_slack(kit.slack, card)
    assert "*Claimed* by <@U0CAROL>" in str(shown["blocks"])
    assert "U0BOB" not in str(shown["blocks"])
    synced = kit.card(card.id)
    assert synced.synced_revision == synced.revision == 2 and not synced.pending


def test_a_post_slack_may_have_stored_is_still_looked_for_after_the_search_is_rate_limited(
    kit: ServiceKit, clock: FakeClock
) -> None:
    # Slack stores the card but answers 500: the outbox must look before posting again ...
    kit.slack.fail_next("chat.postMessage", status=500, retry_after=None, apply=True)
    mention = kit.add_mention("@acme the app logs me out")
    card = kit.card(mention.card_id)
    assert card.outcome_unknown and len(copies_in_slack(kit.slack, card)) == 1
    # ... and when that look is itself refused (429), nothing has been learned yet.
    kit.slack.fail_next("conversations.history", status=429, retry_after=1)
    clock.advance(seconds=5)
    assert kit.deliver() == 0

    clock.advance(seconds=5)
    kit.deliver()

    assert len(copies_in_slack(kit.slack, card)) == 1, "the card was posted twice"
    assert kit.card(card.id).ts == copies_in_slack(kit.slack, card)[0]["ts"]


def test_a_card_someone_deleted_is_posted_again_once_even_if_the_answer_is_lost(
    kit: ServiceKit, clock: FakeClock
) -> None:
    """Re-posting a deleted card is a post like any other: until its new ts is recorded its
    outcome is unknown, so the next attempt looks for the new copy instead of updating the
    deleted one, finding it gone, and posting a second."""
    mention = kit.add_mention("@acme my parcel is lost")
    card = kit.card(mention.card_id)
    (shown,) = copies_in_slack(kit.slack, card)
    kit.slack.messages[card.channel].remove(shown)  # someone deleted it in Slack
    with transaction(kit.engine) as session:
        outbox.mark_changed(session, card.id, now=kit.clock.now())
    kit.slack.fail_next("chat.postMessage", status=500, apply=True)  # posted, answer lost

    assert kit.deliver() == 0
    clock.advance(seconds=60)
    assert kit.deliver() == 1

    (again,) = copies_in_slack(kit.slack, card)
    recorded = kit.card(card.id)
    assert recorded.ts == again["ts"] != shown["ts"] and not recorded.pending
