"""The surge service on a real database (SQLite, or PostgreSQL with BRANDBOT_TEST_DATABASE_URL):
what a fold may take and what it must leave, races between people and between replicas, and who
may use the summary's buttons. A short `max_wait_seconds` keeps the threshold at five cards."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import count
from typing import TypeVar

import pytest
from sqlalchemy import ColumnElement, select, update
from sqlmodel import col
from support import TEST_CONFIG

from bot.core import outbox
from bot.core.clock import FakeClock
from bot.core.db import is_postgres, transaction
from bot.core.errors import ActionRefused
from bot.core.models import Mention, SlackMessage, Surge, SurgeMention
from bot.fakes.services import ServiceKit, add_mention
from bot.mentions import surge as surge_module
from bot.mentions.service import MENTION_CARD
from bot.mentions.surge import SURGE_SUMMARY
from bot.slack.cards.app_home import build_home
from bot.slack.clicks import Click

SHORT = TEST_CONFIG + "surge: {max_wait_seconds: 5}\n"  # threshold: 5 cards at 1 a second
T = TypeVar("T")
_ids = count(1_900_000_000_000_000_000)


@pytest.fixture
def kit(make_kit: Callable[..., ServiceKit]) -> ServiceKit:
    return make_kit(SHORT)


def _queue(kit: ServiceKit, n: int, *, segment: str = "customer_relations") -> list[str]:
    """`n` mentions with their cards queued, not sent (as one poll leaves them)."""
    ids = []
    for _ in range(n):
        kit.clock.advance(seconds=1)  # type: ignore[attr-defined]
        mention = add_mention(
            kit.engine,
            tweet_id=str(next(_ids)),
            at=kit.clock.now(),
            text="@acme outage again",
            segment=segment,
            channel=kit.ctx.segments.channel(segment),
        )
        ids.append(mention.id)
    return ids


def _summarised(kit: ServiceKit) -> dict[str, int]:
    with transaction(kit.engine) as session:
        return dict(
            session.execute(select(col(SurgeMention.mention_id), col(SurgeMention.surge_id))).all()
        )


def _card_rows(kit: ServiceKit, mention_id: str) -> list[SlackMessage]:
    with transaction(kit.engine) as session:
        return list(
            session.scalars(
                select(SlackMessage).where(
                    col(SlackMessage.kind) == MENTION_CARD,
                    col(SlackMessage.subject_id) == mention_id,
                )
            )
        )


def _summary_click(kit: ServiceKit, user_id: str) -> Click:
    kit.deliver()
    (summary,) = kit.messages(SURGE_SUMMARY)
    surge_id = summary.subject_id
    return kit.click(user_id, summary, surge_id)


def test_a_fold_takes_only_cards_nobody_is_sending_and_moves_their_thread(
    kit: ServiceKit,
) -> None:
    ids = _queue(kit, 8)
    sending, maybe_posted = _card_rows(kit, ids[0])[0], _card_rows(kit, ids[1])[0]
    now = kit.clock.now()
    folded_card = _card_rows(kit, ids[5])[0]
    with transaction(kit.engine) as session:
        session.execute(  # another replica is posting this one right now
            update(SlackMessage)
            .where(col(SlackMessage.id) == sending.id)
            .values(lease_owner="other", lease_until=now + timedelta(seconds=60))
        )
        session.execute(  # this one may be in Slack already (a post whose answer was lost)
            update(SlackMessage)
            .where(col(SlackMessage.id) == maybe_posted.id)
            .values(outcome_unknown=True)
        )
        # a message waiting to go under the card of ids[5]
        outbox.enqueue(
            session,
            [
                outbox.NewMessage(
                    kind="announcement",
                    subject_id="1",
                    channel="C0CUSTOMER",
                    thread_root_id=folded_card.id,
                )
            ],
            now=now,
        )
    assert kit.surges.fold() == 6
    summarised = _summarised(kit)
    assert set(summarised) == set(ids[2:])
    for mention_id in ids[2:]:
        assert _card_rows(kit, mention_id) == [], "a folded card is retired, never posted"
        assert kit.mention(mention_id).card_id is None
    for mention_id in ids[:2]:
        assert len(_card_rows(kit, mention_id)) == 1 and mention_id not in summarised
    (surge,) = _surges(kit)
    assert surge.mentions == 6 and surge.open_for == "C0CUSTOMER"
    (reminder,) = kit.messages("announcement")
    assert reminder.thread_root_id == surge.card_id
    assert [e.action for e in kit.audit(subject=f"surge:{surge.id}")] == ["surge.opened"]


def test_a_retired_card_keeps_its_id(kit: ServiceKit) -> None:
    """An outbox pass still holding a folded card's id must not find a new card there: SQLite
    hands a deleted highest id to the next row, so folded cards are retired, not deleted."""
    _queue(kit, 6)
    kit.surges.fold()  # opens the surge (its summary is the newest row)
    _queue(kit, 3)
    assert kit.surges.fold() == 3  # these three are now the newest rows
    (newer,) = _card_rows(kit, _queue(kit, 1)[0])
    assert newer.id is not None and newer.id > max(c.id or 0 for c in kit.messages("folded_card"))


def _surges(kit: ServiceKit) -> list[Surge]:
    with transaction(kit.engine) as session:
        return list(session.scalars(select(Surge).order_by(col(Surge.id))))


def test_below_the_threshold_nothing_folds_and_a_surge_ends_when_traffic_falls(
    kit: ServiceKit, clock: FakeClock
) -> None:
    _queue(kit, 5)
    assert kit.surges.fold() == 0 and _surges(kit) == []  # five go out within five seconds
    kit.deliver()
    _queue(kit, 6)
    assert kit.surges.fold() == 6
    _queue(kit, 2)
    assert kit.surges.fold() == 2  # the surge is on: new cards join it
    clock.advance(seconds=6)
    late = _queue(kit, 1)
    assert kit.surges.fold() == 0  # 1 in the last 5 s: below half the threshold, it ends
    (surge,) = _surges(kit)
    assert surge.open_for is None and surge.ended_at is not None and surge.mentions == 8
    assert late[0] not in _summarised(kit)
    kit.deliver()
    assert kit.card(kit.mention(late[0]).card_id).ts is not None  # its own card
    _queue(kit, 6)
    kit.surges.fold()
    assert [s.open_for for s in _surges(kit)] == [None, "C0CUSTOMER"]  # a new storm, a new one


def _at_once(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run the calls on threads released together; each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[T | BaseException] = [RuntimeError("did not run")] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_claim_next_at_once_claim_two_different_mentions(kit: ServiceKit) -> None:
    ids = _queue(kit, 12)
    kit.surges.fold()
    bob, carol = _summary_click(kit, "U0BOB"), _summary_click(kit, "U0CAROL")
    results = _at_once([lambda: kit.surges.claim_next(bob), lambda: kit.surges.claim_next(carol)])
    assert all(isinstance(r, str) and "You claimed" in r for r in results), results
    owners = {m: kit.mention(m).claimed_by for m in ids[:2]}
    assert sorted(str(o) for o in owners.values()) == ["U0BOB", "U0CAROL"], owners
    assert all(kit.mention(m).claimed_by is None for m in ids[2:])
    for mention_id in ids[:2]:  # each got one card, in the summary's thread
        (card,) = _card_rows(kit, mention_id)
        assert card.thread_root_id == _surges(kit)[0].card_id
    assert len(kit.audit("mention.claim")) == 2


def test_two_show_next_at_once_post_twenty_different_cards(kit: ServiceKit) -> None:
    ids = _queue(kit, 25)
    kit.surges.fold()
    bob, carol = _summary_click(kit, "U0BOB"), _summary_click(kit, "U0CAROL")
    results = _at_once([lambda: kit.surges.show_next(bob), lambda: kit.surges.show_next(carol)])
    assert all(isinstance(r, str) and "next 10" in r for r in results), results
    shown = [m for m in ids if _card_rows(kit, m)]
    assert shown == ids[:20]
    assert all(len(_card_rows(kit, m)) == 1 for m in shown), "no mention shown twice"
    kit.deliver()
    thread = [c for c in kit.messages(MENTION_CARD) if c.thread_root_id is not None]
    assert len(thread) == 20 and all(c.ts is not None for c in thread)


def test_two_replicas_folding_at_once_open_one_surge_and_fold_each_card_once(
    make_kit: Callable[..., ServiceKit],
) -> None:
    first, second = make_kit(SHORT), make_kit(SHORT)
    ids = _queue(first, 40)
    results = _at_once([first.surges.fold, second.surges.fold])
    assert sum(r for r in results if isinstance(r, int)) == 40, results
    (surge,) = _surges(first)
    assert surge.mentions == 40
    assert set(_summarised(first)) == set(ids)
    assert len(first.messages(SURGE_SUMMARY)) == 1


def test_only_the_channels_responders_may_use_the_summary(kit: ServiceKit) -> None:
    _queue(kit, 6, segment="crisis_management")  # responders: S0CRISIS only
    kit.surges.fold()
    mallory = _summary_click(kit, "U0MALLORY")
    with pytest.raises(ActionRefused, match="responders"):
        kit.surges.show_next(mallory)
    with pytest.raises(ActionRefused, match="responders"):
        kit.surges.claim_next(mallory)
    assert kit.audit("surge.refused") and kit.audit("mention.refused")
    assert all(c.thread_root_id is None for c in kit.messages(MENTION_CARD))
    assert "You claimed" in kit.surges.claim_next(_summary_click(kit, "U0CRISIS1"))


def test_a_forged_button_or_an_unknown_surge_changes_nothing(kit: ServiceKit) -> None:
    _queue(kit, 6)
    kit.surges.fold()
    click = _summary_click(kit, "U0BOB")
    forged = Click(click.person, click.channel, click.message_ts, value="999")
    with pytest.raises(ActionRefused, match="doesn't match"):
        kit.surges.claim_next(forged)
    # a superscript digit, an Arabic-Indic one, and an id past PostgreSQL's INTEGER (found by
    # the fuzz: the lookup raised "integer out of range" instead of refusing)
    for value in ("²", "٣", "2128142817296384000", "-1", ""):
        with pytest.raises(ActionRefused, match="isn't one of mine"):
            kit.surges.claim_next_from_home(click.person, value)
    with transaction(kit.engine) as session:
        assert (
            session.scalars(select(Mention).where(col(Mention.claimed_by).is_not(None))).all() == []
        )


def test_claim_next_passes_over_a_mention_the_clicker_may_not_claim(kit: ServiceKit) -> None:
    """A mention of the surge rerouted to a segment the clicker doesn't answer for stays in the
    surge: Claim next must give the clicker the next one they may claim, not refuse them while
    mentions of their own segment wait."""
    ids = _queue(kit, 6)
    kit.surges.fold()
    kit.surges.show_next(_summary_click(kit, "U0BOB"))
    kit.deliver()
    rerouted = kit.mention(ids[0])
    kit.mentions.reroute(kit.on_mention("U0BOB", rerouted), to_segment="crisis_management")
    result = kit.surges.claim_next(_summary_click(kit, "U0BOB"))
    assert "You claimed" in result, result
    assert kit.mention(ids[1]).claimed_by == "U0BOB"
    assert kit.mention(ids[0]).claimed_by is None
    assert kit.audit("mention.refused") == [], "passing over it is not a refusal"


def test_a_message_queued_under_a_card_as_it_folds_goes_in_the_summarys_thread(
    kit: ServiceKit,
) -> None:
    """A writer that read a mention's card just before a fold committed (a reminder, a follow-up
    on PostgreSQL's READ COMMITTED) queues its message under a card that will never be posted:
    it must still reach Slack, in the summary's thread, not wait for that card forever."""
    ids = _queue(kit, 6)
    (card,) = _card_rows(kit, ids[3])
    assert kit.surges.fold() == 6
    with transaction(kit.engine) as session:  # what the concurrent writer commits after the fold
        outbox.enqueue(
            session,
            [
                outbox.NewMessage(
                    kind="announcement",
                    subject_id="1",
                    channel="C0CUSTOMER",
                    thread_root_id=card.id,
                )
            ],
            now=kit.clock.now(),
        )
    for _ in range(5):
        kit.deliver()
        kit.clock.advance(seconds=2)  # type: ignore[attr-defined]
    (surge,) = _surges(kit)
    (late,) = kit.messages("announcement")
    assert late.ts is not None, late.last_error
    assert late.thread_root_id == surge.card_id


def test_claim_next_from_the_app_home_needs_the_summarys_channel(kit: ServiceKit) -> None:
    """Every App Home lists the surges, but on the summary only someone in its channel can click
    Claim next: from the App Home, someone outside the channel of a segment that names no
    responders ("anyone in its channel") is refused, as is anyone when Slack can't say."""
    kit.slack.add_channel("C0CUSTOMER", "customer-relations", members=["U0BOB"])
    ids = _queue(kit, 6)
    kit.surges.fold()
    click = _summary_click(kit, "U0BOB")
    (surge,) = _surges(kit)
    with pytest.raises(ActionRefused, match="C0CUSTOMER"):
        kit.surges.claim_next_from_home(kit.person("U0MALLORY"), str(surge.id))
    assert all(kit.mention(m).claimed_by is None for m in ids)
    assert kit.audit("surge.refused")
    assert "You claimed" in kit.surges.claim_next_from_home(click.person, str(surge.id))
    assert "You claimed" in kit.surges.claim_next_from_home(kit.person("U0ADMIN"), str(surge.id))


def _home_of(kit: ServiceKit, user_id: str) -> str:
    content = kit.tabs.content
    return str(build_home(content.view_for(user_id, content.snapshot())))


def test_the_app_home_lists_only_the_surges_the_viewer_can_work_on(kit: ServiceKit) -> None:
    """A surge is listed on the App Homes of its channel's members and of admins: someone outside
    the channel could not claim from it (above), and a private segment's storm is not news for
    the whole workspace. When Slack can't say who is in the channel, the home says so."""
    kit.slack.add_channel("C0CUSTOMER", "customer-relations", members=["U0BOB"])
    _queue(kit, 6)
    kit.surges.fold()
    kit.deliver()
    assert "Surges with mentions waiting" in _home_of(kit, "U0BOB")
    assert "Surges with mentions waiting" in _home_of(kit, "U0ADMIN")
    outside = _home_of(kit, "U0MALLORY")
    assert "Surges with mentions waiting" not in outside and "C0CUSTOMER" not in outside
    kit.slack.fail_next("conversations.members", status=500, retry_after=None, count=10)
    kit.clock.advance(minutes=10)  # type: ignore[attr-defined]  # the directory asks again
    unsure = _home_of(kit, "U0BOB")
    assert "Surges with mentions waiting" not in unsure
    assert "couldn't check with Slack which channels you are in" in unsure


def test_two_folds_growing_one_surge_count_every_mention(
    make_kit: Callable[..., ServiceKit], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas folding new cards into one open surge (PostgreSQL, READ COMMITTED): the
    summary's count must add both, or its Show next disappears while mentions are unshown."""
    first, second = make_kit(SHORT), make_kit(SHORT)
    if not is_postgres(first.engine):
        pytest.skip("SQLite runs one process, and BEGIN IMMEDIATE serialises the folds")
    _queue(first, 6)
    first.surges.fold()
    _queue(first, 4)
    calls = count()
    real = surge_module._foldable

    def interleaved(now: datetime) -> ColumnElement[bool]:
        # The first fold's second use is its retiring UPDATE, after it read the surge row: the
        # other replica folds in between, and three more cards arrive.
        if next(calls) == 1:
            assert second.surges.fold() == 4
            _queue(first, 3)
        return real(now)

    monkeypatch.setattr(surge_module, "_foldable", interleaved)
    assert first.surges.fold() == 3
    (surge,) = _surges(first)
    assert len(_summarised(first)) == 13
    assert surge.mentions == 13
