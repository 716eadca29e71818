"""A storm into one segment's channel (issue 12): more cards than Slack's pace could post within a
minute become one summary card, updated in place as the storm grows; Show next 10 and Claim next
put mentions in its thread, where claiming and replying work as on any card; the App Home lists
the surge; once the storm is over, new mentions get their own cards again. Every mention is in
exactly one card or one summary. Through the real app over signed HTTP, on the FakeClock."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from support import audit_entries

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import HomeTab, Mention, MentionState, SlackMessage, Surge, SurgeMention
from bot.fakes.drafting import latest_draft, said
from bot.fakes.world import FakeWorld
from bot.mentions.service import MENTION_CARD
from bot.mentions.surge import REFRESH_SECONDS, SURGE_SUMMARY
from bot.slack.cards.mention_card import MentionAction
from bot.slack.cards.surge_summary import SurgeAction

CHANNEL = "C0CUSTOMER"
TEXTS = [
    "@acme outage again, nothing loads in {city}",
    "@acme outage in {city}? my order page is blank",
    "@acme thanks for the quick fix yesterday, {city} says hi",
]
CITIES = ["Leeds", "Bristol", "Cork", "Derby", "York"]


def _storm(world: FakeWorld, clock: FakeClock, count: int, *, start: int = 0) -> list[str]:
    """`count` tweets on X, one a second up to now, from different people; their ids in order."""
    ids = []
    for i in range(start, start + count):
        tweet = world.x.add_tweet(
            author=f"fan{i}",
            text=TEXTS[i % len(TEXTS)].format(city=CITIES[i % len(CITIES)]),
            created_at=clock.now() - timedelta(seconds=start + count - i),
        )
        ids.append(str(tweet["id"]))
    clock.advance(seconds=world.config.poll_seconds)
    world.poll()
    _deliver(world)
    return ids


def _deliver(world: FakeWorld) -> None:
    """Run the outbox until two passes in a row send nothing: a pass that folds cards into a
    summary sends none of them, and the summary goes out on the next."""
    idle = 0
    while idle < 2:
        idle = 0 if world.deliver() else idle + 1


def _top_level(world: FakeWorld) -> list[dict[str, Any]]:
    """The mention cards and summaries in the channel itself (not in a thread)."""
    with transaction(world.db) as session:
        ours = {
            m.id
            for m in session.scalars(
                select(SlackMessage).where(
                    col(SlackMessage.kind).in_([MENTION_CARD, SURGE_SUMMARY])
                )
            )
        }
    return [
        m
        for m in world.slack.messages.get(CHANNEL, [])
        if not m["thread_ts"] and _subject(m) in ours
    ]


def _thread(world: FakeWorld, ts: str) -> list[dict[str, Any]]:
    return [m for m in world.slack.messages.get(CHANNEL, []) if m["thread_ts"] == ts]


def _mentions_of(world: FakeWorld, messages: list[dict[str, Any]]) -> list[str]:
    """The mention each of these Slack messages is the card of."""
    with transaction(world.db) as session:
        cards = [session.get(SlackMessage, _subject(m)) for m in messages]
    return [c.subject_id for c in cards if c is not None and c.kind == MENTION_CARD]


def _home_settled(world: FakeWorld, user_id: str) -> bool:
    with transaction(world.db) as session:
        row = session.get(HomeTab, user_id)
        return row is not None and row.lease_owner is None


def _summary(world: FakeWorld) -> SlackMessage:
    (summary,) = world.cards(SURGE_SUMMARY)
    assert summary.ts is not None
    return summary


def _subject(message: dict[str, Any]) -> int:
    return int(message["metadata"]["event_payload"]["id"])


def _placement(world: FakeWorld) -> Counter[str]:
    """Where each mention is: its own posted card, or a summary (its card, if any, is in the
    summary's thread). Counted per mention: a mention in both would count twice."""
    where: Counter[str] = Counter()
    with transaction(world.db) as session:
        summarised = set(session.scalars(select(col(SurgeMention.mention_id))))
        roots = {s.card_id for s in session.scalars(select(Surge))}
        for mention in session.scalars(select(Mention)):
            cards = session.scalars(
                select(SlackMessage).where(
                    col(SlackMessage.kind) == MENTION_CARD,
                    col(SlackMessage.subject_id) == mention.id,
                )
            ).all()
            own = [c for c in cards if c.thread_root_id not in roots]
            where[mention.id] += len(own) + (mention.id in summarised)
            assert all(c.ts is not None for c in cards), "a card is still waiting"
    return where


def test_a_storm_becomes_one_summary_and_every_mention_stays_reachable(
    world: FakeWorld, clock: FakeClock
) -> None:
    first = _storm(world, clock, 200)
    summary = _summary(world)
    ts = str(summary.ts)
    top = _top_level(world)
    assert [_subject(m) for m in top] == [summary.id], "one summary instead of 200 cards"
    shown = world.slack.message(CHANNEL, ts)
    blocks = str(shown["blocks"])
    assert "200 new mentions in the last" in blocks
    assert "`outage`" in blocks  # top terms
    assert "negative" in blocks and "positive" in blocks  # sentiment split
    examples = [b for b in shown["blocks"] if str(b.get("block_id", "")).startswith("surge_ex")]
    assert len(examples) == world.config.surge.examples
    buttons = [
        e["action_id"] for b in shown["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == [SurgeAction.SHOW_NEXT, SurgeAction.CLAIM_NEXT]

    # the storm grows: the same summary, updated in place
    more = _storm(world, clock, 50, start=200)
    assert [_subject(m) for m in _top_level(world)] == [summary.id]
    assert world.slack.message(CHANNEL, ts)["edits"] == 0, "redrawn at most every few seconds"
    clock.advance(seconds=REFRESH_SECONDS)
    _deliver(world)
    again = world.slack.message(CHANNEL, ts)
    assert again["edits"] == 1 and "250 new mentions" in str(again["blocks"])

    bob = world.user("U0BOB", "bob")
    note = said(
        world,
        bob,
        lambda: bob.click(channel=CHANNEL, ts=ts, action_id=SurgeAction.SHOW_NEXT),
    )
    assert "next 10" in note, note
    _deliver(world)
    thread = _thread(world, ts)
    assert _mentions_of(world, thread) == first[:10], (
        "the oldest ten, in the order they were tweeted"
    )

    carol = world.user("U0CAROL", "carol")
    note = said(
        world,
        carol,
        lambda: carol.click(channel=CHANNEL, ts=ts, action_id=SurgeAction.CLAIM_NEXT),
    )
    assert "You claimed @fan0" in note, note
    assert world.mention(first[0]).claimed_by == "U0CAROL"
    note = said(
        world,
        carol,
        lambda: carol.click(channel=CHANNEL, ts=ts, action_id=SurgeAction.CLAIM_NEXT),
    )
    assert world.mention(first[1]).claimed_by == "U0CAROL", note
    assert len(audit_entries(world, action="mention.claim")) == 2

    # Claim next on a mention not shown yet posts its card in the thread too
    for _ in range(9):
        said(
            world,
            bob,
            lambda: bob.click(channel=CHANNEL, ts=ts, action_id=SurgeAction.CLAIM_NEXT),
        )
    _deliver(world)
    assert world.mention(first[10]).claimed_by == "U0BOB"
    card = world.card(first[10])
    assert card.thread_root_id == summary.id and card.ts is not None

    # a reply from the thread works as from a channel card: bob's claim, his form, his draft
    before = len(world.slack.views_for("U0BOB"))
    bob.click(channel=CHANNEL, ts=str(card.ts), action_id=MentionAction.REPLY)
    world.slack.wait_for(lambda s: len(s.views_for("U0BOB")) > before)
    form = bob.last_view_for("U0BOB")
    assert "@fan10" in str(form)
    response = bob.submit_view(form["id"], {"text": {"value": "@fan10 Sorry! Fixing it now."}})
    assert response.done, response
    world.slack.wait_for(lambda _: latest_draft(world) is not None)
    draft = latest_draft(world)
    assert draft is not None and draft.in_reply_to == first[10]

    _deliver(world)
    status = str(world.slack.message(CHANNEL, ts)["blocks"])
    assert "in the thread" in status and "claimed" in status

    # the App Home lists the surge with Claim next
    dana = world.user("U0DANA", "dana")
    dana.open_home()
    world.slack.wait_for(
        lambda s: "Surges with mentions waiting" in str(s.home_views.get("U0DANA"))
    )
    dana.click_home(action_id=SurgeAction.HOME_CLAIM_NEXT, value=str(summary.subject_id))
    world.slack.wait_for(lambda s: "You claimed" in str(s.home_views.get("U0DANA")))
    assert world.mention(first[11]).claimed_by == "U0DANA"

    # the storm is over: the summary says so, and new mentions get their own cards again
    clock.advance(seconds=world.config.surge.max_wait_seconds + 1)
    quiet = _storm(world, clock, 3, start=250)
    ended = world.slack.message(CHANNEL, ts)
    assert "The surge ended" in str(ended["blocks"])
    top = _top_level(world)
    assert len(top) == 4, [(m["text"][:60], _subject(m)) for m in top]
    assert _mentions_of(world, top[1:]) == quiet

    placement = _placement(world)
    assert len(placement) == 253 and set(placement.values()) == {1}, "none lost, none doubled"
    assert set(first + more) == {m for m, n in placement.items() if n == 1 and m not in quiet}
    assert world.mention(first[12]).state == MentionState.OPEN
