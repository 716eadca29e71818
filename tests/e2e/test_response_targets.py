"""Response targets that nag until someone acts (issue 11), end to end over the fakes on the
FakeClock: the card warns at half the target, a reminder in its thread names the claimer at the
target, an escalation names the approvers at twice it, reminders repeat until Acknowledge — or
stop when a reply reaches X — and a fresh process over the same database carries on."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from support import audit_entries, carded, posted_card

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import ResponseTimer
from bot.fakes.drafting import click_card, latest_draft, publish, said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.mentions.timers import RESPONSE_REMINDER
from bot.runtime import Runtime
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.mention_card import MentionAction
from bot.slack.cards.response_reminder import ReminderAction
from policies.config import BrandConfig

# TEST_CONFIG: customer_relations answers within 15 minutes, reminds every 30 (the default);
# its approvers are S0CARE (U0BOB, U0CAROL); it names no responders.


def _clock(world: FakeWorld) -> FakeClock:
    assert isinstance(world.clock, FakeClock)
    return world.clock


def _tick(world: FakeWorld, **delta: float) -> None:
    """Time passes; the timer pass runs (as the publisher's loop runs it); Slack is sent what
    it queued."""
    _clock(world).advance(**delta)
    world.runtime.services.timers.run_due()
    world.deliver()


def _card_text(world: FakeWorld, mention_id: str) -> str:
    card = posted_card(world, mention_id)
    return json.dumps(world.slack.message(card.channel, card.ts)["blocks"], ensure_ascii=False)


def _reminders(world: FakeWorld, mention_id: str) -> list[dict[str, Any]]:
    """The app's messages in the thread under the mention's card, oldest first."""
    card = posted_card(world, mention_id)
    return [
        m
        for m in world.slack.find_messages(lambda m: m.get("thread_ts") == card.ts)
        if "response target" in m.get("text", "")
    ]


def _acknowledge(
    world: FakeWorld, user: SlackUser, mention_id: str, message: dict[str, Any]
) -> str:
    card = world.card(mention_id)
    return said(
        world,
        user,
        lambda: user.click(
            channel=card.channel, ts=message["ts"], action_id=ReminderAction.ACKNOWLEDGE
        ),
    )


def test_warn_remind_escalate_and_repeat_until_someone_acknowledges(world: FakeWorld) -> None:
    mention_id = carded(world)
    card = posted_card(world, mention_id)
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    alice.click(channel=card.channel, ts=card.ts, action_id=MentionAction.CLAIM)
    world.slack.wait_for(lambda _: world.mention(mention_id).claimed_by == "U0ALICE")
    world.deliver()
    assert "Half the 15 min target" not in _card_text(world, mention_id)

    _tick(world, minutes=8)  # past half of the 15-minute target
    assert "Half the 15 min target has passed" in _card_text(world, mention_id)
    assert _reminders(world, mention_id) == []

    _tick(world, minutes=7)  # at the target: the claimer is reminded in the card's thread
    [reminder] = _reminders(world, mention_id)
    assert "<@U0ALICE>" in reminder["text"] and "subteam" not in reminder["text"]
    assert "has waited 15 min with no reply, past its 15 min response target" in reminder["text"]
    assert "Overdue since" in _card_text(world, mention_id)

    _tick(world, minutes=15)  # twice the target: the approvers are named too
    escalation = _reminders(world, mention_id)[-1]
    assert "Escalated" in escalation["text"]
    assert "<@U0ALICE>" in escalation["text"] and "<!subteam^S0CARE>" in escalation["text"]
    assert "escalated to the approvers" in _card_text(world, mention_id)

    _tick(world, minutes=29)
    assert len(_reminders(world, mention_id)) == 2  # not yet: every 30 minutes
    _tick(world, minutes=1)
    assert len(_reminders(world, mention_id)) == 3
    assert "Still unanswered" in _reminders(world, mention_id)[-1]["text"]

    # An approver acknowledges the latest one: every reminder says so and offers no button.
    assert "Acknowledged" in _acknowledge(world, bob, mention_id, _reminders(world, mention_id)[-1])
    world.deliver()
    for message in _reminders(world, mention_id):
        shown = json.dumps(message["blocks"])
        assert "Acknowledged by <@U0BOB>" in shown and ReminderAction.ACKNOWLEDGE not in shown
    assert "acknowledged by <@U0BOB>" in _card_text(world, mention_id)

    _tick(world, hours=3)
    assert len(_reminders(world, mention_id)) == 3  # no more reminders after Acknowledge

    actions = [e.action for e in audit_entries(world, subject=f"mention:{mention_id}")]
    assert actions.count("mention.reminded") == 2  # at the target, and the repeat
    assert actions.count("mention.escalated") == 1
    assert actions.count("mention.acknowledged") == 1
    reminded = audit_entries(world, action="mention.reminded")[0]
    assert reminded.actor_id == "brandbot"
    assert json.loads(str(reminded.after))["notified"] == ["U0ALICE"]


def test_a_double_click_or_a_forged_acknowledge_changes_nothing(world: FakeWorld) -> None:
    mention_id = carded(world, "@acme was there a breach? hacked lawsuit")  # crisis: responders
    assert world.mention(mention_id).segment == "crisis_management"
    _tick(world, minutes=10)
    [reminder] = _reminders(world, mention_id)
    assert "<!subteam^S0CRISIS>" in reminder["text"]  # unclaimed: the segment's responders
    channel = world.card(mention_id).channel

    mallory = world.user("U0MALLORY", "mallory")  # in no group of crisis management
    refused = said(
        world,
        mallory,
        lambda: mallory.click(
            channel=channel, ts=reminder["ts"], action_id=ReminderAction.ACKNOWLEDGE
        ),
    )
    assert "Only this segment's responders, its approvers or an admin" in refused

    responder = world.user("U0CRISIS1", "crisis1")
    # a forged button that names another mention, on this reminder: refused, nothing changes
    forged = said(
        world,
        responder,
        lambda: responder.forge_action(
            channel=channel,
            ts=reminder["ts"],
            action_id=ReminderAction.ACKNOWLEDGE,
            value="1234",
        ),
    )
    assert "doesn't match" in forged
    # a click on something that is not a reminder of ours
    card = posted_card(world, mention_id)
    stray = said(
        world,
        responder,
        lambda: responder.forge_action(
            channel=channel, ts=card.ts, action_id=ReminderAction.ACKNOWLEDGE, value=mention_id
        ),
    )
    assert "isn't one of mine" in stray
    assert audit_entries(world, action="mention.acknowledged") == []

    first = said(
        world,
        responder,
        lambda: responder.click(
            channel=channel, ts=reminder["ts"], action_id=ReminderAction.ACKNOWLEDGE
        ),
    )
    assert first.startswith("Acknowledged")
    assert responder.last_sent is not None
    body, stamp = responder.last_sent
    replayed = responder.send_raw(body, timestamp=stamp)  # the very same signed request again
    assert replayed.status_code == 200
    again = said(
        world,
        responder,
        lambda: responder.forge_action(
            channel=channel,
            ts=reminder["ts"],
            action_id=ReminderAction.ACKNOWLEDGE,
            value=mention_id,
        ),
    )
    assert "<@U0CRISIS1> already acknowledged it" in again
    assert len(audit_entries(world, action="mention.acknowledged")) == 1
    # Acknowledged before the escalation: the approvers are not called in (documented).
    _tick(world, minutes=60)
    assert len(_reminders(world, mention_id)) == 1


def test_a_reply_through_brandbot_stops_the_reminders(world: FakeWorld) -> None:
    mention_id = carded(world)
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    _tick(world, minutes=15)
    [reminder] = _reminders(world, mention_id)
    assert "<!here>" in reminder["text"]  # unclaimed, no responders named: whoever is around
    assert "*Open* — overdue since" in _card_text(world, mention_id)

    card = posted_card(world, mention_id)
    before = len(world.slack.views_for("U0ALICE"))
    alice.click(channel=card.channel, ts=card.ts, action_id=MentionAction.REPLY)
    world.slack.wait_for(lambda s: len(s.views_for("U0ALICE")) > before)
    view = alice.last_view_for("U0ALICE")
    alice.submit_view(view["id"], {"text": {"value": "@dana Sorry! Fixed now."}})
    world.slack.wait_for(
        lambda _: (d := latest_draft(world)) is not None and d.in_reply_to == mention_id
    )
    world.deliver()
    draft = latest_draft(world)
    assert draft is not None
    assert "publish queue" in click_card(world, bob, draft, DraftAction.APPROVE)
    assert publish(world) == 1  # on the fake X
    assert world.mention(mention_id).replied_at is not None

    _tick(world, minutes=20)  # past twice the target: no escalation, the customer has an answer
    assert len(_reminders(world, mention_id)) == 1
    assert audit_entries(world, action="mention.escalated") == []
    shown = json.dumps(_reminders(world, mention_id)[0]["blocks"])
    assert "answered" in shown and ReminderAction.ACKNOWLEDGE not in shown
    with transaction(world.db) as session:
        timer = session.get(ResponseTimer, mention_id)
        assert timer is not None and timer.stopped == "answered" and timer.due_at is None


def test_a_restart_between_steps_neither_loses_nor_repeats_one(world: FakeWorld) -> None:
    mention_id = carded(world)
    _tick(world, minutes=15)
    assert len(_reminders(world, mention_id)) == 1
    world.runtime.stop()

    # A fresh app process over the same database (as after a deploy), with its workers running.
    world.runtime = world.build_runtime()
    world.runtime.start_workers(poll=False)
    _clock(world).advance(minutes=15)
    world.slack.wait_for(lambda _: len(_reminders(world, mention_id)) == 2, timeout=20)
    assert "Escalated" in _reminders(world, mention_id)[-1]["text"]
    _clock(world).advance(seconds=5)
    world.runtime.stop()
    assert len(_reminders(world, mention_id)) == 2
    assert len(world.cards(RESPONSE_REMINDER)) == 2


def _two_processes_remind_once(world: FakeWorld) -> None:
    mentions = [carded(world, f"@acme outage number {n}", author=f"fan{n}") for n in range(10)]
    other = world.build_runtime()  # a second app process over the same database
    _clock(world).advance(minutes=15)
    errors: list[BaseException] = []
    for _ in range(3):
        start = threading.Barrier(2)

        def run(runtime: Runtime, start: threading.Barrier = start) -> None:
            try:
                start.wait()
                runtime.services.timers.run_due()
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(r,)) for r in (world.runtime, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    world.deliver()
    assert [len(_reminders(world, m)) for m in mentions] == [1] * len(mentions)
    assert len(audit_entries(world, action="mention.reminded")) == len(mentions)


def test_two_processes_running_the_timers_at_once_remind_once(world: FakeWorld) -> None:
    _two_processes_remind_once(world)


@pytest.mark.postgres
def test_two_processes_running_the_timers_at_once_remind_once_on_postgres(
    config: BrandConfig, clock: FakeClock, postgres_url: str
) -> None:
    world = FakeWorld(config=config, database_url=postgres_url, clock=clock).start()
    try:
        _two_processes_remind_once(world)
    finally:
        world.stop()
