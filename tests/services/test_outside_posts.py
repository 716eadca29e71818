"""Own-timeline polling on a real database against the fake X: brandbot's own posts are never
outside posts — also while the publisher has a tweet on X whose id it has not recorded yet — and a
deferral never swallows a real outside post; the first poll alerts on no history; an outside post
alerts once however many store it at once; Delete from X calls X once and survives X failing;
native replies credit the right mentions; every read of X is counted per UTC day."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import col
from support import TEST_CONFIG

from bot.alerts.outside_posts import OUTSIDE_POST_ALERT
from bot.alerts.timeline import DEFER_LIMIT, store_timeline
from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.errors import ActionRefused
from bot.core.models import (
    Draft,
    DraftState,
    MentionState,
    OutsidePost,
    OutsidePostState,
    PollCursor,
    XRead,
)
from bot.fakes.services import ServiceKit
from bot.mentions.ingest import PollResult, Source
from bot.slack.clicks import Click
from bot.x.gateway import Tweet

TIMELINE = Source("timeline:acme", "timeline", "acme")


def _poll_timeline(kit: ServiceKit, clock: FakeClock) -> PollResult:
    clock.advance(seconds=kit.config.poll_seconds)
    result = kit.ingestor.poll(TIMELINE)
    assert result is not None and result.error is None, result
    kit.deliver()
    return result


def _poll_all(kit: ServiceKit, clock: FakeClock) -> None:
    clock.advance(seconds=kit.config.poll_seconds)
    kit.ingestor.poll_due()
    kit.deliver()


def _native(kit: ServiceKit, clock: FakeClock, text: str, **kwargs: Any) -> str:
    kwargs.setdefault("created_at", clock.now())
    return str(kit.x.post_natively("acme", text, **kwargs)["id"])


def _posts(kit: ServiceKit) -> list[OutsidePost]:
    with transaction(kit.engine) as session:
        return list(session.scalars(select(OutsidePost).order_by(col(OutsidePost.tweet_id))))


def _since_id(kit: ServiceKit) -> int:
    with transaction(kit.engine) as session:
        cursor = session.get(PollCursor, TIMELINE.key)
        assert cursor is not None and cursor.since_id is not None
        return int(cursor.since_id)


def _set_draft(kit: ServiceKit, draft: Draft, **values: Any) -> None:
    with transaction(kit.engine) as session:
        session.execute(update(Draft).where(col(Draft.id) == draft.id).values(**values))


def _mention(kit: ServiceKit, clock: FakeClock, text: str, **kwargs: Any) -> str:
    """A customer's tweet on X, ingested as a mention."""
    tweet = kit.x.add_tweet(text=text, created_at=clock.now(), **kwargs)
    _poll_all(kit, clock)
    return str(tweet["id"])


# -- our own posts, and the race with the publisher --------------------------------------------


def test_a_post_whose_answer_x_lost_is_deferred_until_the_publisher_recognises_it(
    kit: ServiceKit, clock: FakeClock
) -> None:
    _poll_timeline(kit, clock)  # watching from here
    draft = kit.add_draft(
        DraftState.APPROVED, text="Update 1: engineers on it", approved_by=["U0BOB"]
    )
    kit.x.drop_response_after_post()  # X stores it; its answer never reaches the publisher
    assert kit.publisher.publish_due() == 0
    assert kit.draft(draft.id).state == DraftState.POSTING
    (tweet,) = kit.x.posted_by("acme")

    _poll_timeline(kit, clock)
    assert _posts(kit) == []  # no false alarm while its id is unknown
    assert _since_id(kit) < int(tweet["id"])  # and the next poll reads it again

    clock.advance(seconds=5)
    kit.publisher.publish_due()  # finds it on X and records it
    assert kit.draft(draft.id).tweet_id == tweet["id"]
    _poll_timeline(kit, clock)
    assert _posts(kit) == [] and kit.messages(OUTSIDE_POST_ALERT) == []
    assert _since_id(kit) >= int(tweet["id"])


def test_a_different_tweet_while_a_draft_is_in_flight_alerts_at_once(
    kit: ServiceKit, clock: FakeClock
) -> None:
    _poll_timeline(kit, clock)
    kit.add_draft(DraftState.POSTING, text="Our statement on the outage")
    tweet_id = _native(kit, clock, "Our statement on the outage: we were hacked")
    _poll_timeline(kit, clock)
    (post,) = _posts(kit)
    assert post.tweet_id == tweet_id and post.resembles_draft is None


def test_a_homoglyph_of_an_in_flight_draft_is_not_mistaken_for_it(
    kit: ServiceKit, clock: FakeClock
) -> None:
    _poll_timeline(kit, clock)
    kit.add_draft(DraftState.POSTING, text="Doors open at 9 tomorrow")
    tweet_id = _native(kit, clock, "D\u043e\u043ers open at 9 tomorrow")  # Cyrillic o, twice
    _poll_timeline(kit, clock)
    assert [p.tweet_id for p in _posts(kit)] == [tweet_id]


def test_a_look_alike_alerts_once_its_draft_is_no_longer_in_flight(
    kit: ServiceKit, clock: FakeClock
) -> None:
    _poll_timeline(kit, clock)
    draft = kit.add_draft(DraftState.NEEDS_CHECK, text="Doors open at 9 tomorrow")
    tweet_id = _native(kit, clock, "Doors open at 9 tomorrow")
    _poll_timeline(kit, clock)
    assert _posts(kit) == []
    _set_draft(kit, draft, state=DraftState.CANCELLED)  # a person checked: it is not ours
    _poll_timeline(kit, clock)
    assert [p.tweet_id for p in _posts(kit)] == [tweet_id]


def test_a_deferral_never_outlasts_its_limit_and_the_alert_names_the_draft(
    kit: ServiceKit, clock: FakeClock
) -> None:
    _poll_timeline(kit, clock)
    draft = kit.add_draft(DraftState.NEEDS_CHECK, text="Prices go up on Monday")
    tweet_id = _native(kit, clock, "Prices go up on Monday")
    _poll_timeline(kit, clock)
    assert _posts(kit) == []
    clock.advance(seconds=DEFER_LIMIT.total_seconds())
    _poll_timeline(kit, clock)
    (post,) = _posts(kit)
    assert post.tweet_id == tweet_id and post.resembles_draft == draft.id
    card = kit.messages(OUTSIDE_POST_ALERT)[0]
    shown = str(kit.slack.message(card.channel, str(card.ts))["blocks"])
    assert f"draft #{draft.id}" in shown and "outside_post_delete" in shown

    # A person finds it on X and marks the draft posted: the alert says whose it is now.
    said = kit.drafts.mark_posted(
        kit.on_draft("U0BOB", draft), reference=f"https://x.com/acme/status/{tweet_id}"
    )
    assert "posted" in said.lower()
    kit.deliver()
    shown = str(kit.slack.message(card.channel, str(card.ts))["blocks"])
    assert f"brandbot's post of draft #{draft.id}" in shown
    assert "outside_post_delete" not in shown  # nothing to do any more


# -- the first poll, switching alerts off, and once-only ---------------------------------------


def test_the_first_poll_alerts_on_no_history_but_credits_replies_made_on_x(
    kit: ServiceKit, clock: FakeClock
) -> None:
    earlier = clock.now() - timedelta(hours=3)
    kit.x.post_natively("acme", "Last week's promo", created_at=earlier)
    complaint = kit.x.add_tweet(
        author="dana", text="@acme where is my refund", created_at=earlier + timedelta(hours=1)
    )
    kit.x.post_natively(
        "acme",
        "@dana refunded this morning",
        in_reply_to=complaint["id"],
        created_at=earlier + timedelta(hours=2),
    )
    _poll_all(kit, clock)  # mentions first, then the timeline
    assert _posts(kit) == [] and kit.audit("x.post_around_brandbot") == []
    mention = kit.mention(complaint["id"])
    assert mention.state == MentionState.REPLIED and mention.replied_via == "x"
    assert mention.replied_at is not None  # its time on X (to the millisecond), not the poll's
    assert abs(mention.replied_at - (earlier + timedelta(hours=2))) < timedelta(seconds=1)

    fresh = _native(kit, clock, "New today")
    _poll_timeline(kit, clock)
    assert [p.tweet_id for p in _posts(kit)] == [fresh]


def test_with_alerts_off_no_alert_but_native_replies_still_answer(
    make_kit: Callable[..., ServiceKit], clock: FakeClock
) -> None:
    kit = make_kit(TEST_CONFIG + "alerts: {posts_around_brandbot: false}\n")
    _poll_timeline(kit, clock)
    complaint = _mention(kit, clock, "@acme app keeps crashing", author="erin")
    _native(kit, clock, "@erin a fix ships tonight", in_reply_to=complaint)
    _native(kit, clock, "Unapproved, but alerts are off")
    _poll_timeline(kit, clock)
    assert _posts(kit) == [] and kit.messages(OUTSIDE_POST_ALERT) == []
    assert kit.mention(complaint).state == MentionState.REPLIED


def _tweet(kit: ServiceKit, tweet_id: str) -> Tweet:
    raw = kit.x.tweets[tweet_id]
    return Tweet(
        id=tweet_id,
        text=raw["text"],
        author_id=raw["author_id"],
        author_handle="acme",
        author_name="acme",
        created_at=kit.clock.now(),
        conversation_id=raw["conversation_id"],
        lang="en",
        source="Twitter Web App",
    )


def test_processes_storing_the_same_tweet_at_once_raise_one_alert(
    kit: ServiceKit, clock: FakeClock
) -> None:
    tweet = _tweet(kit, _native(kit, clock, "Posted from a stolen phone"))
    since = clock.now() - timedelta(minutes=5)

    def store(_: int) -> list[str]:
        return store_timeline(kit.ctx, [tweet], account="acme", watching_since=since).alerted

    with ThreadPoolExecutor(max_workers=4) as pool:
        alerted = [ids for ids in pool.map(store, range(4)) if ids]
    assert alerted == [[tweet.id]]
    assert len(_posts(kit)) == 1 and len(kit.messages(OUTSIDE_POST_ALERT)) == 1
    assert len(kit.audit("x.post_around_brandbot")) == 1


# -- Delete from X ------------------------------------------------------------------------------


def _alerted(kit: ServiceKit, clock: FakeClock, text: str) -> tuple[str, Callable[[str], Click]]:
    _poll_timeline(kit, clock)
    tweet_id = _native(kit, clock, text)
    _poll_timeline(kit, clock)
    (card,) = [m for m in kit.messages(OUTSIDE_POST_ALERT) if m.subject_id == tweet_id]
    return tweet_id, lambda user: kit.click(user, kit.card(card.id), tweet_id)


def test_delete_survives_x_failing_and_calls_x_once_however_many_confirm(
    kit: ServiceKit, clock: FakeClock
) -> None:
    tweet_id, on_alert = _alerted(kit, clock, "Hacked: follow this link")
    assert "different person must confirm" in kit.outside_posts.delete(on_alert("U0CRISIS1"))
    kit.x.fail("DELETE /2/tweets", status=503)
    with pytest.raises(ActionRefused, match="X did not delete it"):
        kit.outside_posts.delete(on_alert("U0CRISIS2"))
    post = _posts(kit)[0]
    assert post.state == OutsidePostState.DELETE_REQUESTED and post.deleted_by is None
    assert tweet_id in kit.x.tweets
    (failed,) = kit.audit("outside_post.delete_failed")
    assert "503" in str(failed.after)

    deletes_before = len(kit.x.calls_to("DELETE /2/tweets"))
    confirmers = ["U0CRISIS2", "U0CRISIS3", "U0ADMIN"]
    clicks = [on_alert(u) for u in confirmers]
    with ThreadPoolExecutor(max_workers=3) as pool:
        replies = list(pool.map(kit.outside_posts.delete, clicks))
    assert len(kit.x.calls_to("DELETE /2/tweets")) == deletes_before + 1
    assert sum(r == "Deleted from X." for r in replies) == 1, replies
    assert tweet_id not in kit.x.tweets
    assert _posts(kit)[0].state == OutsidePostState.DELETED


def test_a_tweet_already_gone_from_x_is_recorded_as_gone(kit: ServiceKit, clock: FakeClock) -> None:
    _, on_alert = _alerted(kit, clock, "Deleted on x.com already")
    kit.outside_posts.delete(on_alert("U0ADMIN"))
    kit.x.fail("DELETE /2/tweets", status=404)
    assert "no longer had it" in kit.outside_posts.delete(on_alert("U0CRISIS1"))
    assert _posts(kit)[0].state == OutsidePostState.GONE


def test_expected_is_refused_to_non_admins_and_audited(kit: ServiceKit, clock: FakeClock) -> None:
    tweet_id, on_alert = _alerted(kit, clock, "Scheduled by the agency")
    with pytest.raises(ActionRefused, match="Only brandbot admins"):
        kit.outside_posts.mark_expected(on_alert("U0CRISIS1"), reason="looks fine")
    (refused,) = kit.audit("outside_post.refused")
    assert refused.actor_id == "U0CRISIS1" and refused.subject == f"tweet:{tweet_id}"
    assert _posts(kit)[0].state == OutsidePostState.ALERTED
    kit.outside_posts.mark_expected(on_alert("U0ADMIN"), reason="agency launch post")
    with pytest.raises(ActionRefused):  # already recorded: a second one changes nothing
        kit.outside_posts.mark_expected(on_alert("U0ADMIN"), reason="again")
    assert len(kit.audit("outside_post.expected")) == 1


# -- native replies -----------------------------------------------------------------------------


def test_a_native_reply_answers_that_customers_conversation_only(
    kit: ServiceKit, clock: FakeClock
) -> None:
    _poll_timeline(kit, clock)
    first = _mention(kit, clock, "@acme my order is late", author="dana")
    again = _mention(kit, clock, "@acme still waiting", author="dana", in_reply_to=first)
    other = _mention(kit, clock, "@acme same for me", author="erin", in_reply_to=first)
    reply = _native(kit, clock, "@dana it ships today", in_reply_to=again)
    _poll_timeline(kit, clock)
    assert kit.mention(first).state == MentionState.REPLIED
    assert kit.mention(again).state == MentionState.REPLIED
    assert kit.mention(again).reply_tweet_id == reply
    assert kit.mention(other).state == MentionState.OPEN  # erin has no answer yet
    credited = {e.subject for e in kit.audit("mention.replied_on_x")}
    assert credited == {f"mention:{first}", f"mention:{again}"}
    after = json.loads(kit.audit("mention.replied_on_x")[0].after or "{}")
    assert after["account"] == "acme" and after["tweet_id"] == reply

    # A thread continuing our own tweet answers nobody.
    promo = _native(kit, clock, "Spring sale starts now")
    asks = _mention(kit, clock, "@acme does it include shoes?", author="finn", in_reply_to=promo)
    _native(kit, clock, "2/ and free delivery all week", in_reply_to=promo)
    _poll_timeline(kit, clock)
    assert kit.mention(asks).state == MentionState.OPEN


def test_a_reply_through_brandbot_is_recorded_as_such_and_a_later_native_one_changes_nothing(
    kit: ServiceKit, clock: FakeClock
) -> None:
    _poll_timeline(kit, clock)
    complaint = _mention(kit, clock, "@acme refund please", author="dana")
    draft = kit.add_draft(DraftState.APPROVED, text="@dana refund sent", approved_by=["U0BOB"])
    _set_draft(kit, draft, in_reply_to=complaint)
    assert kit.publisher.publish_due() == 1
    ours = kit.draft(draft.id).tweet_id
    mention = kit.mention(complaint)
    assert (mention.replied_via, mention.reply_tweet_id) == ("brandbot", ours)
    replied_at = mention.replied_at

    _native(kit, clock, "@dana and a voucher for the wait", in_reply_to=complaint)
    _poll_timeline(kit, clock)
    mention = kit.mention(complaint)
    assert (mention.replied_via, mention.reply_tweet_id, mention.replied_at) == (
        "brandbot",
        ours,
        replied_at,
    )
    assert kit.audit("mention.replied_on_x") == []
    assert [p.text for p in _posts(kit)] == ["@dana and a voucher for the wait"]  # ours isn't one


# -- the reads ledger ---------------------------------------------------------------------------


def _reads(kit: ServiceKit) -> dict[tuple[str, str], tuple[int, int]]:
    with transaction(kit.engine) as session:
        rows = session.scalars(select(XRead))
        return {(r.day, r.endpoint): (r.requests, r.resources) for r in rows}


def test_every_read_of_x_is_counted_per_utc_day_and_endpoint(
    kit: ServiceKit, clock: FakeClock
) -> None:
    day = clock.now().strftime("%Y-%m-%d")
    kit.x.add_tweet(author="dana", text="@acme outage again", created_at=clock.now())
    kit.x.add_tweet(author="erin", text="@acme refund?", created_at=clock.now())
    _native(kit, clock, "Hello from the web app")
    _poll_all(kit, clock)
    reads = _reads(kit)
    assert reads[(day, "mentions")] == (1, 2)
    assert reads[(day, "timeline")] == (1, 1)
    assert reads[(day, "user")] == (1, 1)  # @acme's id, asked once and remembered
    searches = sum(1 for s in kit.ingestor.sources() if s.kind == "search")
    assert reads[(day, "search")][0] == searches

    kit.add_draft(DraftState.APPROVED, text="A post is not a read", approved_by=["U0BOB"])
    assert kit.publisher.publish_due() == 1
    assert _reads(kit) == reads

    clock.advance(seconds=timedelta(days=1).total_seconds())
    next_day = clock.now().strftime("%Y-%m-%d")
    kit.ingestor.poll(TIMELINE)
    assert _reads(kit)[(next_day, "timeline")] == (1, 1)  # the post above, ours, read back
    assert _reads(kit)[(day, "timeline")] == (1, 1)


def test_a_stale_click_on_an_alert_since_recognised_as_a_drafts_post_deletes_nothing(
    kit: ServiceKit, clock: FakeClock
) -> None:
    """The redraw drops the buttons, but a Slack client showing the old alert still sends them:
    brandbot's own approved post must be taken down from its draft's card, not from the alert."""
    _poll_timeline(kit, clock)
    draft = kit.add_draft(DraftState.NEEDS_CHECK, text="Prices go up on Monday")
    tweet_id = _native(kit, clock, "Prices go up on Monday")
    clock.advance(seconds=DEFER_LIMIT.total_seconds())
    _poll_timeline(kit, clock)
    (card,) = kit.messages(OUTSIDE_POST_ALERT)
    kit.drafts.mark_posted(
        kit.on_draft("U0BOB", draft), reference=f"https://x.com/acme/status/{tweet_id}"
    )
    kit.deliver()
    stale = (
        kit.click("U0CRISIS1", kit.card(card.id), tweet_id),
        kit.click("U0ADMIN", kit.card(card.id), tweet_id),
    )
    for click in stale:
        with pytest.raises(ActionRefused, match=f"draft #{draft.id}"):
            kit.outside_posts.delete(click)
    assert kit.x.calls_to("DELETE /2/tweets") == [] and tweet_id in kit.x.tweets
    assert _posts(kit)[0].state == OutsidePostState.ALERTED


def test_a_request_by_someone_no_longer_an_approver_needs_a_new_request(
    kit: ServiceKit, clock: FakeClock
) -> None:
    tweet_id, on_alert = _alerted(kit, clock, "Posted by a leaver")
    assert "different person must confirm" in kit.outside_posts.delete(on_alert("U0CRISIS1"))
    kit.slack.set_usergroup("S0CRISIS", ["U0CRISIS2", "U0CRISIS3"])  # U0CRISIS1 left the team
    clock.advance(seconds=120)  # past the directory's cache
    assert "different person must confirm" in kit.outside_posts.delete(on_alert("U0CRISIS2"))
    assert tweet_id in kit.x.tweets  # one eligible person alone took nothing down
    assert kit.outside_posts.delete(on_alert("U0CRISIS3")) == "Deleted from X."
    assert tweet_id not in kit.x.tweets
