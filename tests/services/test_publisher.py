"""The Publisher on a real database against the fake X: an approved draft reaches X exactly once,
never past a freeze or the hourly limit, and a post whose outcome X left unknown is looked for
before it is tried again."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from support import TEST_CONFIG

from bot.core.clock import FakeClock
from bot.core.models import Draft, DraftState
from bot.fakes.services import ServiceKit
from bot.fakes.x_api import FakeX

POSTS = "POST /2/tweets"


def _approved(kit: ServiceKit, text: str = "Back online now: thanks for bearing with us") -> Draft:
    return kit.add_draft(DraftState.APPROVED, text=text, approved_by=["U0BOB"])


def _texts_on_x(kit: ServiceKit) -> list[str]:
    return [t["text"] for t in kit.x.posted_by("acme")]


def test_an_approved_draft_posts_once(kit: ServiceKit) -> None:
    draft = _approved(kit)

    assert kit.publisher.publish_due() == 1
    assert kit.publisher.publish_due() == 0

    (tweet,) = kit.x.posted_by("acme")
    posted = kit.draft(draft.id)
    assert posted.state == DraftState.POSTED and posted.tweet_id == tweet["id"]
    assert tweet["text"] == draft.text and len(kit.x.post_records) == 1
    (entry,) = kit.audit("draft.post", subject=f"draft:{draft.id}")
    assert json.loads(str(entry.after))["recovered"] is False


def test_a_freeze_in_force_holds_the_post(kit: ServiceKit) -> None:
    draft = _approved(kit)
    kit.freeze.freeze(person=kit.person("U0ADMIN"), text="all outage under investigation")
    kit.deliver()  # every open card shows the freeze

    assert kit.publisher.publish_due() == 0

    waiting = kit.draft(draft.id)
    assert waiting.state == DraftState.APPROVED and kit.x.post_records == []
    assert (waiting.held_reason or "").startswith("frozen by admin: outage under investigation")
    card = kit.card(draft.card_id)
    assert "Publishing is frozen" in str(kit.slack.message(card.channel, str(card.ts))["blocks"])


def test_an_approver_no_longer_in_the_group_sends_the_draft_back_for_approval(
    kit: ServiceKit,
    clock: FakeClock,
) -> None:
    draft = _approved(kit)
    kit.slack.set_usergroup("S0CARE", ["U0CAROL", "U0DANA"])  # Bob left the approvers
    clock.advance(minutes=2)  # past the directory's cache

    assert kit.publisher.publish_due() == 0

    assert kit.draft(draft.id).state == DraftState.PENDING and kit.x.post_records == []
    assert kit.audit("draft.approvals_lost", subject=f"draft:{draft.id}")


def _hourly_limit(posts: int) -> str:
    """TEST_CONFIG with @acme allowed `posts` tweets an hour."""
    account = "{handle: acme, credentials_env: ACME"
    return TEST_CONFIG.replace(account + "}", f"{account}, max_posts_per_hour: {posts}}}")


def test_posts_beyond_the_hourly_limit_wait_for_the_next_slot(
    make_kit: Callable[..., ServiceKit],
    clock: FakeClock,
) -> None:
    kit = make_kit(_hourly_limit(2))
    first, second, third = (_approved(kit, f"Update {n} on the outage") for n in (1, 2, 3))

    assert kit.publisher.publish_due() == 2
    waiting = kit.draft(third.id)
    assert waiting.state == DraftState.APPROVED and "limit 2" in str(waiting.held_reason)
    assert waiting.due_at == kit.clock.now() + timedelta(hours=1)  # an hour after the first
    clock.advance(minutes=59)
    assert kit.publisher.publish_due() == 0 and len(kit.x.post_records) == 2

    clock.advance(minutes=1)
    assert kit.publisher.publish_due() == 1
    assert kit.draft(third.id).state == DraftState.POSTED
    assert sorted(_texts_on_x(kit)) == [d.text for d in (first, second, third)]


def test_the_card_of_a_post_waiting_for_the_hourly_limit_says_why(
    make_kit: Callable[..., ServiceKit],
) -> None:
    kit = make_kit(_hourly_limit(1))
    _approved(kit, "Update 1 on the outage")
    waiting = _approved(kit, "Update 2 on the outage")

    assert kit.publisher.publish_due() == 1
    kit.deliver()

    card = kit.card(waiting.card_id)
    shown = str(kit.slack.message(card.channel, str(card.ts))["blocks"])
    assert "posted 1 tweets in the last hour (limit 1)" in shown


def test_a_post_that_may_be_on_x_counts_against_the_hourly_limit(
    make_kit: Callable[..., ServiceKit], clock: FakeClock
) -> None:
    kit = make_kit(_hourly_limit(1))
    maybe_posted = _approved(kit, "Update 1 on the outage")
    kit.x.drop_response_after_post()  # X stores it; the answer never comes back
    assert kit.publisher.publish_due() == 0
    assert kit.draft(maybe_posted.id).state == DraftState.POSTING
    next_one = _approved(kit, "Update 2 on the outage")

    kit.publisher.publish_due()
    clock.advance(seconds=5)
    kit.publisher.publish_due()  # finds the first on X and records it

    assert kit.draft(maybe_posted.id).state == DraftState.POSTED
    assert len(kit.x.posted_by("acme")) == 1, "two tweets in one hour with a limit of one"
    assert kit.draft(next_one.id).state == DraftState.APPROVED


def _x_fails_before_storing(x: FakeX) -> None:
    x.fail(POSTS, status=503)


def _x_stores_it_and_hangs_up(x: FakeX) -> None:
    x.drop_response_after_post()


def _x_stores_it_and_answers_too_late(x: FakeX) -> None:
    x.post_delays(before_answer=1.0)  # longer than the gateway waits (see x_timeout below)


@pytest.mark.parametrize(
    ("fault", "reached_x"),
    [
        (_x_fails_before_storing, False),
        (_x_stores_it_and_hangs_up, True),
        (_x_stores_it_and_answers_too_late, True),
    ],
    ids=["5xx", "answer lost", "timeout"],
)
def test_an_unknown_outcome_is_looked_for_and_never_posted_twice(
    make_kit: Callable[..., ServiceKit],
    clock: FakeClock,
    fault: Callable[[FakeX], None],
    reached_x: bool,
) -> None:
    kit = make_kit(x_timeout=0.25)
    draft = _approved(kit)
    fault(kit.x)

    assert kit.publisher.publish_due() == 0
    unknown = kit.draft(draft.id)
    assert unknown.state == DraftState.POSTING and unknown.last_error
    assert _texts_on_x(kit) == ([draft.text] if reached_x else [])
    kit.x.stop_failing()
    searches = len(kit.x.calls_to("/2/users/"))

    assert kit.publisher.publish_due() == 0  # not due yet: it backs off
    clock.advance(seconds=5)
    assert kit.publisher.publish_due() == 1

    assert _texts_on_x(kit) == [draft.text]
    posted = kit.draft(draft.id)
    assert posted.state == DraftState.POSTED
    assert posted.tweet_id == kit.x.posted_by("acme")[0]["id"]
    assert len(kit.x.calls_to("/2/users/")) > searches  # it looked at the account first
    assert len(kit.x.post_records) == (1 if reached_x else 2)
    (entry,) = kit.audit("draft.post", subject=f"draft:{draft.id}")
    assert json.loads(str(entry.after))["recovered"] is reached_x
