"""The App Home's service and its refresher on a real database: what a home shows when Slack
can't say who is in a group, a reply with several texts, the block limit, notices that expire,
the debounce, replicas sharing what was published, and a worker that outlives Slack failures."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.errors import ActionRefused
from bot.core.models import DraftState, HomeTab
from bot.drafts.service import DraftRequest
from bot.fakes.services import ServiceKit
from bot.home.tabs import NOTICE_FOR, Debounce
from bot.slack.cards.app_home import MAX_BLOCKS, HomeAction
from bot.slack.clicks import Person

BOB = "U0BOB"


def _open(kit: ServiceKit, user_id: str) -> None:
    kit.homes.opened(kit.person(user_id), shown=False)


def _view(kit: ServiceKit, user_id: str) -> dict[str, Any]:
    return kit.slack.home_view(user_id)


def _text(kit: ServiceKit, user_id: str) -> str:
    return str(_view(kit, user_id)["blocks"])


def _actions(kit: ServiceKit, user_id: str) -> list[str]:
    return [
        e["action_id"]
        for b in _view(kit, user_id)["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def _publishes(kit: ServiceKit) -> int:
    return len([c for c in kit.slack.calls_to("views.publish") if c.ok])


def _tab(kit: ServiceKit, user_id: str = BOB) -> HomeTab:
    with transaction(kit.engine) as session:
        row = session.get(HomeTab, user_id)
        assert row is not None
        return row


def _failed(kit: ServiceKit, times: int) -> Callable[[object], bool]:
    """Has publishing bob's home failed `times` times (and been rescheduled)?"""
    return lambda _: _tab(kit).attempts == times and _tab(kit).lease_owner is None


def _clock(kit: ServiceKit) -> FakeClock:
    assert isinstance(kit.clock, FakeClock)
    return kit.clock


def test_a_reply_with_several_texts_links_to_its_card_instead_of_approve(kit: ServiceKit) -> None:
    mention = kit.add_mention("@acme is the app down?")
    draft = kit.drafts.create(
        author=kit.person("U0ALICE"),
        request=DraftRequest(
            "acme",
            "customer_relations",
            "@dana it is back now",
            in_reply_to=mention.id,
            alternatives=("@dana fixed, sorry!",),
        ),
    )
    kit.deliver()
    _open(kit, BOB)
    home = _text(kit, BOB)
    assert f"#{draft.id} for @acme" in home and "2 candidate texts: pick one on" in home
    card = kit.card(kit.draft(draft.id).card_id)
    assert f"/archives/{card.channel}/p{str(card.ts).replace('.', '')}" in home
    assert HomeAction.APPROVE not in _actions(kit, BOB)


def test_when_slack_cannot_say_who_approves_the_home_says_so_and_refuses_nothing(
    kit: ServiceKit,
) -> None:
    kit.add_draft(author="U0ALICE")
    kit.slack.fail_next("usergroups.users.list", status=503, count=5)
    _open(kit, BOB)
    home = _text(kit, BOB)
    assert "couldn't ask Slack who is in the approvers' groups" in home
    assert HomeAction.APPROVE not in _actions(kit, BOB)
    assert kit.audit("draft.refused") == []  # showing is not acting: nothing refused
    kit.slack.stop_failing()
    kit.tabs.mark_stale()
    assert kit.tabs.publish_due() == 1
    assert HomeAction.APPROVE in _actions(kit, BOB)


def test_a_busy_home_keeps_within_slacks_block_limit(kit: ServiceKit) -> None:
    drafts = [kit.add_draft(author="U0ALICE", text=f"Update number {i}") for i in range(40)]
    _open(kit, BOB)
    view = _view(kit, BOB)
    assert len(view["blocks"]) <= MAX_BLOCKS
    assert "Waiting for your approval (40)" in str(view["blocks"])
    assert "… and 25 more drafts" in str(view["blocks"])
    assert drafts[0].text in str(view["blocks"])  # oldest first: it has waited longest
    assert kit.slack.violations == []


def test_a_notice_stays_on_top_for_a_while_then_goes(kit: ServiceKit) -> None:
    _open(kit, BOB)
    kit.homes.tell(kit.person(BOB), "Approved (1 of 2); waiting for 1 more.")
    assert "waiting for 1 more" in _text(kit, BOB)
    _clock(kit).advance(seconds=NOTICE_FOR.total_seconds() - 5)
    kit.tabs.publish_due()
    assert "waiting for 1 more" in _text(kit, BOB)
    _clock(kit).advance(seconds=6)
    assert kit.tabs.publish_due() == 1
    assert "waiting for 1 more" not in _text(kit, BOB)


def test_a_burst_of_changes_is_one_pass_once_quiet_or_at_most_longest() -> None:
    now = [0.0]
    debounce = Debounce(quiet=1.0, longest=5.0, now=lambda: now[0])
    assert not debounce.take()  # nothing signalled
    for t in (0.0, 0.5, 0.9):
        now[0] = t
        debounce.signal()
    now[0] = 1.5
    assert not debounce.take()  # 0.6 s since the last: not quiet yet
    now[0] = 1.95
    assert debounce.take() and not debounce.take()  # once
    passes = []
    for t in range(10, 17):  # a signal every second: never quiet for 1 s
        now[0] = t + 0.5
        debounce.signal()
        now[0] = t + 0.9
        if debounce.take():
            passes.append(t)
    assert passes == [15]  # 5 s after the first signal of the burst, whatever follows
    now[0] = 17.4
    assert not debounce.take()  # the signal at 16.5 waits for its own quiet second
    now[0] = 17.5
    assert debounce.take()


def test_a_second_replica_does_not_publish_what_the_first_already_did(
    make_kit: Callable[..., ServiceKit],
) -> None:
    first, second = make_kit(), make_kit()  # two processes, one database, each its own Slack
    first.add_draft(author="U0ALICE")
    _open(first, BOB)
    assert _publishes(first) == 1
    second.person(BOB)
    assert second.tabs.mark_stale() == 1
    assert second.tabs.publish_due() == 1  # rendered, found as published: current
    assert _publishes(second) == 0
    second.add_draft(author="U0ALICE", text="A second update")
    second.tabs.mark_stale()
    assert second.tabs.publish_due() == 1
    assert _publishes(second) == 1 and "A second update" in _text(second, BOB)
    first.tabs.mark_stale()
    assert first.tabs.publish_due() == 1
    assert _publishes(first) == 1  # what the second published is what it would: not again


def test_the_refresher_outlives_slack_failing_and_publishes_once_slack_is_back(
    kit: ServiceKit,
) -> None:
    _open(kit, BOB)
    kit.tabs.debounce = Debounce(quiet=0.05, longest=0.2)
    kit.tabs.idle_seconds = 0.05
    stop = threading.Event()
    worker = threading.Thread(target=kit.tabs.run, args=(stop,), daemon=True)
    worker.start()
    try:
        kit.slack.fail_next("views.publish", status=500, count=3)
        draft = kit.add_draft(author="U0ALICE", text="Back in a moment")
        kit.ctx.hooks.cards_changed()  # what every service calls after a change
        for failures in (1, 2, 3):  # each failure backs off on the app's clock: move it on
            kit.slack.wait_for(_failed(kit, failures))
            _clock(kit).advance(seconds=20)
        kit.slack.wait_for(lambda _: draft.text in _text(kit, BOB), timeout=10)
    finally:
        stop.set()
        kit.tabs.wake()
        worker.join(timeout=10)
    assert worker.is_alive() is False
    failed = [c for c in kit.slack.calls_to("views.publish") if not c.ok]
    assert len(failed) == 3


def test_approve_and_reject_from_home_act_on_the_drafts_own_card(kit: ServiceKit) -> None:
    draft = kit.add_draft(author="U0ALICE")
    bob = kit.person(BOB)
    value = f"{draft.id}:{draft.text_hash}"
    context = kit.homes.reject_form(bob, value)
    card = kit.card(draft.card_id)
    assert (context.channel, context.card_ts, context.value) == (card.channel, card.ts, value)
    assert "publish queue" in kit.homes.approve(bob, value)
    assert kit.draft(draft.id).state == DraftState.APPROVED
    entry = kit.audit("draft.approve")[-1]
    assert entry.actor_id == BOB


def test_a_draft_whose_card_is_not_in_slack_yet_is_not_acted_on(kit: ServiceKit) -> None:
    draft = kit.drafts.create(
        author=Person("U0ALICE", "alice"),
        request=DraftRequest("acme", "customer_relations", "Queued, not posted yet"),
    )  # its card is queued in the outbox, not delivered
    kit.person(BOB)
    with pytest.raises(ActionRefused, match="isn't in Slack yet"):
        kit.homes.approve(Person(BOB, "bob"), f"{draft.id}:{draft.text_hash}")
    assert kit.audit("draft.approve") == []


def test_notices_for_a_home_never_seen_told_at_once_are_all_kept(kit: ServiceKit) -> None:
    """Two clicks from a home the bot has no row for, told at the same moment (the fuzz found
    it on PostgreSQL: both saw no row, both inserted, one failed on the primary key)."""
    for round_no in range(5):
        users = [f"U0NEW{round_no}{n}" for n in range(6)] * 2  # each person told twice at once
        start = threading.Barrier(len(users))
        failures: list[BaseException] = []

        def tell(user_id: str, start: threading.Barrier, failures: list[BaseException]) -> None:
            start.wait()
            try:
                kit.tabs.notify(user_id, f"Saved for {user_id}")
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=tell, args=(u, start, failures)) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert failures == []
        assert {_tab(kit, u).notice for u in users} == {f"Saved for {u}" for u in set(users)}
