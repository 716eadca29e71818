"""Outbox fix 1 (a failed search keeps 'outcome unknown'): when the search can *never* succeed,
the card must still reach Slack eventually ("nothing is dropped").

Real Slack refuses conversations.history in a public channel the app was never added to
(`not_in_channel`: brandbot posts there with chat:write.public, without joining) and in a DM (no
im:history scope: `missing_scope`; a U… id is no conversation id: `channel_not_found`). The fake
answers these searches, so the test makes it answer as Slack does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.core.clock import FakeClock
from bot.core.models import DraftState
from bot.drafts.service import AUTHOR_DM
from bot.fakes.services import ServiceKit


def _history_refused(kit: ServiceKit, error: str) -> None:
    kit.slack.fail_next(
        "conversations.history", status=200, retry_after=None, error=error, count=1000
    )


def _retry_for_a_day(kit: ServiceKit, clock: FakeClock, done: Any) -> None:
    deadline = clock.now() + timedelta(days=1)
    while not done() and clock.now() < deadline:
        clock.advance(minutes=16)  # past the outbox's longest backoff
        kit.deliver()


@pytest.mark.parametrize("error", ["not_in_channel", "missing_scope"])
def test_a_card_whose_post_failed_is_delivered_even_if_the_channel_cannot_be_searched(
    kit: ServiceKit, clock: FakeClock, error: str
) -> None:
    # Slack answers 500 without storing the card: the outbox must search before posting again.
    kit.slack.fail_next("chat.postMessage", status=500, retry_after=None)
    mention = kit.add_mention("@acme my refund never came")
    assert kit.card(mention.card_id).ts is None
    _history_refused(kit, error)

    _retry_for_a_day(kit, clock, lambda: kit.card(mention.card_id).ts is not None)

    card = kit.card(mention.card_id)
    searches = len(kit.slack.calls_to("conversations.history"))
    assert card.ts is not None, (
        f"a day later the mention card is still not in Slack ({searches} searches, each "
        f"{error}; last error {card.last_error!r}): a search that can never succeed keeps it "
        "from ever being posted"
    )


def test_an_authors_dm_whose_post_failed_is_delivered(kit: ServiceKit, clock: FakeClock) -> None:
    draft = kit.add_draft(DraftState.PENDING, text="Back online now")
    kit.slack.fail_next("chat.postMessage", status=503, retry_after=None)
    kit.drafts.reject(kit.on_draft("U0BOB", draft), reason="Legal has to see it first")
    kit.deliver()
    (dm,) = kit.messages(AUTHOR_DM)
    assert dm.ts is None and dm.outcome_unknown
    _history_refused(kit, "channel_not_found")  # conversations.history on a user id

    _retry_for_a_day(kit, clock, lambda: kit.messages(AUTHOR_DM)[0].ts is not None)

    assert kit.messages(AUTHOR_DM)[0].ts is not None, "the author is never told why"
