"""Slack is answered before any database work: a click, a command and an event are acknowledged
while another connection holds the lock every write needs, and their work is done once it is
released. (Before, the front door's replay record and the listener's own transaction came first,
and the ack waited for the lock: Slack's 3-second deadline was missed under load.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from slack_sdk.socket_mode.builtin import SocketModeClient
from sqlalchemy import text
from support import carded, posted_card

from bot.core.clock import FakeClock
from bot.core.db import is_postgres, transaction
from bot.core.models import MentionState
from bot.fakes.slack_api import SlackCall
from bot.fakes.slack_user import Reply, SlackUser
from bot.fakes.world import FakeWorld
from bot.slack.cards import form_states
from bot.slack.cards.mention_card import MentionAction
from policies.config import BrandConfig

APP_TOKEN = "xapp-1-A0BRANDBOT-ack-first-5e1c"
ACK_WITHIN = 2.0  # seconds; far above a free server's ack, far below the 30 s lock timeout


@contextmanager
def writes_locked(world: FakeWorld) -> Iterator[None]:
    """Hold what a request's first write needs, on another connection, until the block ends."""
    release = threading.Event()
    locked = threading.Event()

    def hold() -> None:
        # SQLite: our transactions begin IMMEDIATE, taking the one write lock. PostgreSQL: the
        # seen-request table is where every request's work writes first.
        with transaction(world.db) as session:
            if is_postgres(world.db):
                session.execute(text("LOCK TABLE seen_request IN EXCLUSIVE MODE"))
            else:
                session.execute(text("SELECT 1"))
            locked.set()
            release.wait(timeout=60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert locked.wait(timeout=10), "could not take the lock"
    try:
        yield
    finally:
        release.set()
        holder.join(timeout=10)


def _answered_while_locked(
    world: FakeWorld, send: Callable[[], Reply], done: Callable[[], bool]
) -> None:
    with ThreadPoolExecutor(1) as pool:
        with writes_locked(world):
            answer: Future[Reply] = pool.submit(send)
            response = answer.result(timeout=ACK_WITHIN)  # raises if the ack waits for the lock
            assert response.status_code == 200
        world.slack.wait_for(lambda _: done())  # the work, once the lock is free


def test_a_click_is_acknowledged_while_writes_are_locked_and_done_after(world: FakeWorld) -> None:
    mention_id = carded(world)
    card = posted_card(world, mention_id)
    alice = world.user("U0ALICE", "alice")
    _answered_while_locked(
        world,
        lambda: alice.click(channel=card.channel, ts=card.ts, action_id=MentionAction.CLAIM),
        lambda: world.mention(mention_id).claimed_by == "U0ALICE",
    )


def test_a_command_is_acknowledged_while_writes_are_locked_and_done_after(
    world: FakeWorld,
) -> None:
    admin = world.user("U0ADMIN", "admin")
    _answered_while_locked(
        world,
        lambda: admin.command("/brand", "freeze all Outage", channel="C0OPS"),
        lambda: world.runtime.services.freeze.is_frozen("acme") is not None,
    )


def test_opening_the_home_is_acknowledged_while_writes_are_locked_and_published_after(
    world: FakeWorld,
) -> None:
    admin = world.user("U0ADMIN", "admin")
    _answered_while_locked(
        world, lambda: admin.open_home(), lambda: "U0ADMIN" in world.slack.home_views
    )


def test_a_submitted_draft_is_answered_before_the_note_saying_where_it_waits(
    world: FakeWorld,
) -> None:
    """The ephemeral note after a submitted form is a Slack call: it never holds the answer."""
    alice = world.user("U0ALICE", "alice")
    alice.command("/tweet", "", channel="C0CUSTOMER")
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    view = alice.last_view_for("U0ALICE")
    held = threading.Event()

    def hold_notes(call: SlackCall) -> None:
        if call.method == "chat.postEphemeral":
            held.wait(timeout=30)

    world.slack.on_call = hold_notes
    text = {"text": {"value": {"type": "plain_text_input", "value": "We are back up."}}}
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(alice.submit_view, view["id"], text)
        try:
            assert answer.result(timeout=ACK_WITHIN).status_code == 200
        finally:
            held.set()
    world.slack.wait_for(
        lambda s: any("waiting for approval" in str(e.get("text")) for e in s.ephemerals)
    )


SPAM = {"reason": {"reason_choice": {"selected_option": {"value": "spam"}}}}  # a reason to dismiss


def _dismiss_form(world: FakeWorld, alice: SlackUser) -> tuple[str, dict[str, Any]]:
    """A carded mention, and the dismissal form `alice` opened on its card."""
    mention_id = carded(world, "@acme outage in Leeds")
    card = world.card(mention_id)
    alice.click(channel=card.channel, ts=str(card.ts), action_id=MentionAction.DISMISS)
    world.slack.wait_for(lambda s: s.views_for(alice.user_id))
    return mention_id, alice.last_view_for(alice.user_id)


def test_a_submitted_form_is_answered_working_while_writes_are_locked_and_decided_after(
    world: FakeWorld,
) -> None:
    """A submission whose outcome the database decides (here a dismissal: who may, and the
    mention's state) is answered with the form's "working" state, without waiting for the lock;
    the form then shows the outcome, and the mention is dismissed."""
    alice = world.user("U0ALICE", "alice")
    mention_id, view = _dismiss_form(world, alice)
    with ThreadPoolExecutor(1) as pool, writes_locked(world):
        sent = pool.submit(alice.submit_view, view["id"], SPAM, settle=False)
        submission = sent.result(timeout=ACK_WITHIN)
        answer = submission.reply.json()
        assert answer["response_action"] == "update", answer
        assert submission.view is not None and form_states.is_working(submission.view)
        assert "submit" not in answer["view"]  # it can't be submitted twice meanwhile
    world.slack.wait_for(lambda s: not form_states.is_working(s.view(view["id"])))
    shown = world.slack.view(view["id"])
    assert form_states.field_errors_of(shown) == {} and form_states.problem_of(shown) is None
    assert world.mention(mention_id).state == MentionState.DISMISSED


def test_a_refusal_for_a_form_closed_while_working_is_told_where_the_person_acted(
    world: FakeWorld,
) -> None:
    """The person closes the form before the server has decided: the form can't show the
    refusal any more (Slack answers views.update not_found), so it is told as an ephemeral."""
    alice = world.user("U0ALICE", "alice")
    alice.command("/tweet", "", channel="C0CUSTOMER")
    world.slack.wait_for(lambda s: s.views_for("U0ALICE"))
    view = alice.last_view_for("U0ALICE")
    too_long = {"text": {"value": {"type": "plain_text_input", "value": "x" * 300}}}
    told = len(world.slack.ephemerals)
    with writes_locked(world):
        alice.submit_view(view["id"], too_long, settle=False)
        world.slack.close_view(view["id"])
    world.slack.wait_for(lambda s: len(s.ephemerals) > told)
    said = str(world.slack.ephemerals[-1].get("text"))
    assert "280" in said, said
    assert world.slack.view(view["id"]).get("closed") and form_states.is_working(
        world.slack.view(view["id"])
    )


def test_a_form_done_while_slack_refused_to_show_it_is_told_where_the_person_acted(
    world: FakeWorld,
) -> None:
    """The server decided (the mention is dismissed), but views.update failed: the form stays
    at "Working on it…", so the person must hear the outcome another way, as a refusal is."""
    alice = world.user("U0ALICE", "alice")
    mention_id, view = _dismiss_form(world, alice)
    told = len(world.slack.ephemerals)
    world.slack.fail_next("views.update", status=500, retry_after=None)
    alice.submit_view(view["id"], SPAM, settle=False)
    world.slack.wait_for(lambda _: world.mention(mention_id).state == MentionState.DISMISSED)
    world.slack.wait_for(lambda s: len(s.ephemerals) > told)
    assert form_states.is_working(world.slack.view(view["id"]))  # Slack never showed it done
    said = world.slack.ephemerals[-1]
    assert said.get("user") == "U0ALICE" and "done" in str(said.get("text")).lower(), said


def test_a_form_submitted_over_socket_mode_shows_its_outcome_though_the_ack_is_slow(
    config: BrandConfig, database_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over Socket Mode the "working" answer is an ack sent on the socket: the form's outcome
    (views.update) must wait for it as it waits for an HTTP answer, or a slow ack lands after
    the outcome and the form shows "Working on it…" for good."""
    world = FakeWorld(config=config, database_url=database_url, clock=clock, app_token=APP_TOKEN)
    world.start()
    socket_mode = world.slack.socket
    assert socket_mode is not None
    handler = world.runtime.socket_mode(APP_TOKEN)
    try:
        handler.connect()
        socket_mode.wait_connected(timeout=10)
        world.slack.add_user("U0ALICE", "alice")
        alice = SlackUser(slack=world.slack, user_id="U0ALICE", name="alice", socket=socket_mode)
        mention_id, view = _dismiss_form(world, alice)
        send = SocketModeClient.send_socket_mode_response

        def slow_ack(client: SocketModeClient, response: Any) -> None:
            time.sleep(0.5)  # a busy socket, or a slow network to Slack
            send(client, response)

        monkeypatch.setattr(SocketModeClient, "send_socket_mode_response", slow_ack)
        alice.submit_view(view["id"], SPAM, settle=False)
        world.slack.wait_for(lambda _: world.mention(mention_id).state == MentionState.DISMISSED)
        world.slack.wait_for(lambda s: not form_states.is_working(s.view(view["id"])), timeout=3)
    finally:
        handler.close()
        world.stop()


def test_every_background_worker_waits_for_slacks_answers_before_a_pass(world: FakeWorld) -> None:
    """A pass started in a gap of a burst of clicks would take the interpreter from the answers
    still to come (bench/click_ack.py): each worker asks the same AnswersFirst first."""
    runtime = world.runtime
    workers = (runtime.outbox, runtime.publisher, runtime.homes, runtime.digests, runtime.ingestor)
    for worker in workers:
        assert worker.yield_to_answers == runtime.answers.wait_until_calm, type(worker).__name__
