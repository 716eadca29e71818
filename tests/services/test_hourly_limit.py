"""Hourly limit: a post whose outcome is unknown must count from its *latest* hand-off to X."""

from __future__ import annotations

from collections.abc import Callable

from support import TEST_CONFIG

from bot.core.clock import FakeClock
from bot.core.models import DraftState
from bot.fakes.services import ServiceKit

POSTS = "POST /2/tweets"


def _limit(posts: int) -> str:
    account = "{handle: acme, credentials_env: ACME"
    return TEST_CONFIG.replace(account + "}", f"{account}, max_posts_per_hour: {posts}}}")


def test_a_retry_handed_to_x_an_hour_after_the_first_attempt_still_counts(
    make_kit: Callable[..., ServiceKit], clock: FakeClock
) -> None:
    kit = make_kit(_limit(1))
    first = kit.add_draft(DraftState.APPROVED, text="Update 1 on the outage", approved_by=["U0BOB"])
    kit.x.fail(POSTS, status=503)  # X fails before storing: outcome unknown, nothing on X
    assert kit.publisher.publish_due() == 0
    assert kit.draft(first.id).state == DraftState.POSTING

    # X stays down for the posts for over an hour (the searches work and find nothing) ...
    clock.advance(minutes=61)
    kit.x.stop_failing()
    kit.x.drop_response_after_post()  # ... then the retry reaches X, but its answer is lost
    kit.publisher.publish_due()
    assert kit.draft(first.id).state == DraftState.POSTING
    assert len(kit.x.posted_by("acme")) == 1  # on X right now, outcome unknown to us

    second = kit.add_draft(
        DraftState.APPROVED, text="Update 2 on the outage", approved_by=["U0BOB"]
    )
    kit.publisher.publish_due()

    assert len(kit.x.posted_by("acme")) == 1, (
        "two tweets within a minute with max_posts_per_hour 1: the retry that may be on X was "
        "counted from its first attempt (attempt_at is kept for outcome-unknown retries)"
    )
    assert kit.draft(second.id).state == DraftState.APPROVED
