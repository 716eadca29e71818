"""The App Home over the real app: opened by a person (a signed app_home_opened event), kept
current when its data changes, and acted on (Approve, Reject, Edit) through the same services
and checks as the cards and /brand.

Who is who (tests/support.py TEST_CONFIG): alice drafts; S0CARE (bob, carol) approves customer
relations; S0CRISIS (U0CRISIS1-3) approves crisis management, two approvals; U0ADMIN is the
admin."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from support import audit_entries, carded, posted_card

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.models import ConfigOverride, DraftState, HomeTab
from bot.fakes.drafting import draft_via_slack, get_draft, publish, said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.home.tabs import Debounce
from bot.slack.cards.app_home import HomeAction
from bot.slack.cards.mention_card import MentionAction
from bot.slack.cards.segment_modal import BLOCKS

CRISIS_CHANNEL = "C0CRISIS"


# -- helpers ----------------------------------------------------------------------------------


def _publishes(world: FakeWorld, user_id: str) -> int:
    """How many Home tab views Slack accepted for this person."""
    return sum(
        1 for c in world.slack.calls_to("views.publish") if c.args["user_id"] == user_id and c.ok
    )


def _home(world: FakeWorld, user_id: str) -> str:
    return str(world.slack.home_view(user_id)["blocks"])


def _buttons(world: FakeWorld, user_id: str) -> list[tuple[str, str]]:
    view = world.slack.home_view(user_id)
    found = []
    for block in view["blocks"]:
        elements = block.get("elements", []) if block["type"] == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements = [block["accessory"]]
        found += [(e["action_id"], e.get("value", "")) for e in elements if "action_id" in e]
    return found


def _republished(world: FakeWorld, user_id: str, before: int) -> Callable[[object], bool]:
    """Has Slack been sent a new view for them, and has the app recorded it (so the next
    action does not find that publish still in flight)?"""

    def done(_: object) -> bool:
        if _publishes(world, user_id) <= before:
            return False
        with transaction(world.db) as session:
            row = session.get(HomeTab, user_id)
            return row is not None and row.lease_owner is None

    return done


def _open(world: FakeWorld, user: SlackUser) -> None:
    """Open the Home tab; return once Slack shows the view it was sent."""
    before = _publishes(world, user.user_id)
    response = user.open_home()
    assert response.status_code == 200, response.text
    world.slack.wait_for(_republished(world, user.user_id, before))


def _at_home(world: FakeWorld, user: SlackUser, act: Callable[[], Any]) -> str:
    """Do `act` in the Home tab; the notice it leaves on top of the person's home."""
    before = _publishes(world, user.user_id)
    response = act()
    assert getattr(response, "status_code", 200) == 200
    world.slack.wait_for(_republished(world, user.user_id, before))
    first = world.slack.home_view(user.user_id)["blocks"][1]
    assert first["type"] == "section", first
    return str(first["text"]["text"])


def _tab(world: FakeWorld, user_id: str) -> HomeTab:
    with transaction(world.db) as session:
        row = session.get(HomeTab, user_id)
        assert row is not None, f"{user_id} never opened their home"
        return row


def _handled_opening(world: FakeWorld, user_id: str) -> bool:
    """Was their opening of the home just now recorded, and the home found current?"""
    row, now = _tab(world, user_id), world.clock.now()
    return row.opened_at == now and row.due_at > now and row.lease_owner is None


def _refresher(world: FakeWorld) -> None:
    """Run the homes' worker (only it), with a short debounce so the test waits less."""
    world.runtime.homes.debounce = Debounce(quiet=0.2, longest=1.0)
    world.runtime.start_workers(poll=False, deliver=False, publish=False, homes=True)


def _advance(world: FakeWorld, **delta: float) -> None:
    assert isinstance(world.clock, FakeClock)
    world.clock.advance(**delta)


# -- contents ---------------------------------------------------------------------------------


def test_an_approver_sees_the_draft_waiting_for_them_with_approve_and_reject(
    world: FakeWorld,
) -> None:
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    mallory = world.user("U0MALLORY", "mallory")
    draft = draft_via_slack(world, alice, "Back online: thanks for bearing with us")
    for person in (alice, bob, mallory):
        _open(world, person)

    value = f"{draft.id}:{draft.text_hash}"
    assert (HomeAction.APPROVE, value) in _buttons(world, "U0BOB")
    assert (HomeAction.REJECT, value) in _buttons(world, "U0BOB")
    assert "Back online: thanks for bearing with us" in _home(world, "U0BOB")
    assert "Waiting for your approval (1)" in _home(world, "U0BOB")
    # The author's home lists it as hers, waiting; nobody outside the approvers sees buttons.
    assert _buttons(world, "U0ALICE") == [] and _buttons(world, "U0MALLORY") == []
    assert "Waiting for your approval (0)" in _home(world, "U0ALICE")
    assert f"#{draft.id}* @acme" in _home(world, "U0ALICE")
    assert "waiting for approval" in _home(world, "U0ALICE")
    assert world.slack.home_view("U0BOB")["type"] == "home"


def test_approving_from_home_counts_like_the_card_and_the_author_is_refused_visibly(
    world: FakeWorld,
) -> None:
    alice = world.user("U0ALICE", "alice")
    first, second = world.user("U0CRISIS1", "crisis1"), world.user("U0CRISIS2", "crisis2")
    draft = draft_via_slack(world, alice, "We are looking into the reports", channel=CRISIS_CHANNEL)
    value = f"{draft.id}:{draft.text_hash}"
    for person in (alice, first, second):
        _open(world, person)

    # Her home shows her no Approve; a forged one is refused as on the card, and she reads why.
    notice = _at_home(
        world, alice, partial(alice.forge_home, action_id=HomeAction.APPROVE, value=value)
    )
    assert "You wrote this draft" in notice
    refused = audit_entries(world, action="draft.refused", subject=f"draft:{draft.id}")
    assert [e.actor_id for e in refused] == ["U0ALICE"]
    assert get_draft(world, draft.id).state == DraftState.PENDING

    notice = _at_home(
        world, first, partial(first.click_home, action_id=HomeAction.APPROVE, value=value)
    )
    assert "waiting for 1 more" in notice
    assert publish(world) == 0 and world.x.posted_by("acme") == []
    notice = _at_home(
        world, second, partial(second.click_home, action_id=HomeAction.APPROVE, value=value)
    )
    assert "publish queue" in notice
    assert publish(world) == 1
    assert [t["text"] for t in world.x.posted_by("acme")] == [draft.text]
    approvals = audit_entries(world, action="draft.approve", subject=f"draft:{draft.id}")
    assert [e.actor_id for e in approvals] == ["U0CRISIS1", "U0CRISIS2"]


def test_a_stale_text_hash_from_home_is_refused_and_nothing_is_approved(world: FakeWorld) -> None:
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    draft = draft_via_slack(world, alice, "Our status page has the details")
    _open(world, bob)
    stale = f"{draft.id}:{'0' * 64}"
    notice = _at_home(
        world, bob, partial(bob.forge_home, action_id=HomeAction.APPROVE, value=stale)
    )
    assert "The text changed since you saw it" in notice
    assert audit_entries(world, action="draft.approve") == []
    nonsense = _at_home(
        world, bob, partial(bob.forge_home, action_id=HomeAction.APPROVE, value="x:1")
    )
    assert "isn't one of mine" in nonsense


def test_reject_from_home_opens_the_cards_reject_form_and_rejects_on_its_card(
    world: FakeWorld,
) -> None:
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    draft = draft_via_slack(world, alice, "Promo code inside, today only")
    _open(world, bob)
    before = len(world.slack.views)
    bob.click_home(action_id=HomeAction.REJECT, value=f"{draft.id}:{draft.text_hash}")
    world.slack.wait_for(lambda s: len(s.views) > before)
    form = bob.last_view_for("U0BOB")
    response = bob.submit_view(form["id"], {"reason": {"value": "Not during the outage"}})
    assert response.done
    rejected = get_draft(world, draft.id)
    assert rejected.state == DraftState.REJECTED and rejected.rejected_by == "U0BOB"
    world.deliver()
    assert any("Not during the outage" in m["text"] for m in world.slack.messages["U0ALICE"])


def test_a_responder_sees_their_claimed_mention_with_its_age_against_the_target(
    world: FakeWorld,
) -> None:
    mention_id = carded(world, "@acme my refund never arrived")
    card = posted_card(world, mention_id)
    alice = world.user("U0ALICE", "alice")
    alice.click(channel=card.channel, ts=card.ts, action_id=MentionAction.CLAIM)
    world.slack.wait_for(lambda _: world.mention(mention_id).claimed_by == "U0ALICE")

    _advance(world, minutes=12)
    _open(world, alice)
    home = _home(world, "U0ALICE")
    assert "Mentions you claimed (1)" in home and "my refund never arrived" in home
    assert "12 min old" in home and "3 min left of the 15 min target" in home
    assert ":large_yellow_circle:" in home

    # Nobody reopens it: the periodic refresh keeps the age true.
    _advance(world, minutes=8)
    assert world.runtime.homes.publish_due() == 1
    home = _home(world, "U0ALICE")
    assert "20 min old" in home and "5 min over* the 15 min target" in home
    assert ":red_circle:" in home


def test_an_admin_sees_every_segment_with_edit_and_the_freeze_as_it_is_ordered(
    world: FakeWorld,
) -> None:
    admin, bob = world.user("U0ADMIN", "admin"), world.user("U0BOB", "bob")
    _open(world, admin)
    _open(world, bob)
    edits = [v for a, v in _buttons(world, "U0ADMIN") if a == HomeAction.EDIT_SEGMENT]
    assert edits == list(world.config.segments)
    assert "Publishing is on" in _home(world, "U0ADMIN")
    assert [a for a, _ in _buttons(world, "U0BOB")] == []  # not an admin: no segments
    assert "Segments" not in _home(world, "U0BOB")

    _refresher(world)
    said(
        world,
        admin,
        partial(admin.command, "/brand", "freeze all outage in Leeds for 2h", channel="C0OPS"),
    )
    # Both homes are refreshed without being reopened.
    world.slack.wait_for(
        lambda _: all("Publishing is frozen" in _home(world, u) for u in ("U0ADMIN", "U0BOB"))
    )
    home = _home(world, "U0ADMIN")
    assert "for every account by <@U0ADMIN>" in home and "outage in Leeds" in home
    assert "until <!date^" in home


def test_a_messages_tab_opened_publishes_nothing(world: FakeWorld) -> None:
    bob = world.user("U0BOB", "bob")
    assert bob.open_home(tab="messages").status_code == 200
    _open(world, bob)  # the home tab, after: published (so the event was handled by now)
    assert _publishes(world, "U0BOB") == 1


# -- refresh ----------------------------------------------------------------------------------


def test_a_new_draft_refreshes_the_approvers_home_without_reopening_it(world: FakeWorld) -> None:
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    _open(world, bob)
    assert "No draft is waiting for you" in _home(world, "U0BOB")
    _refresher(world)
    draft = draft_via_slack(world, alice, "Fixed: the app works again")
    world.slack.wait_for(lambda _: "Fixed: the app works again" in _home(world, "U0BOB"))
    assert (HomeAction.APPROVE, f"{draft.id}:{draft.text_hash}") in _buttons(world, "U0BOB")


def test_an_unchanged_home_is_not_published_again(world: FakeWorld) -> None:
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    _open(world, bob)
    _open(world, alice)
    homes = world.runtime.homes
    # A change that is nothing of bob's: alice's draft in crisis management.
    draft_via_slack(world, alice, "Statement at noon", channel=CRISIS_CHANNEL)
    assert homes.mark_stale() == 2
    assert homes.publish_due() == 2  # both rendered, both current now
    assert _publishes(world, "U0BOB") == 1  # bob's was as before: not sent again
    assert _publishes(world, "U0ALICE") == 2  # hers lists the new draft
    _advance(world, seconds=1)
    bob.open_home()  # reopened: the same view as Slack shows, so it is not sent again
    world.slack.wait_for(lambda _: _handled_opening(world, "U0BOB"))
    assert _publishes(world, "U0BOB") == 1


def test_a_429_on_views_publish_delays_the_refresh_and_loses_nothing(world: FakeWorld) -> None:
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    _open(world, bob)
    homes = world.runtime.homes
    world.slack.fail_next("views.publish", status=429, retry_after=30)
    draft_via_slack(world, alice, "Outage over, thank you all")
    homes.mark_stale()
    assert homes.publish_due() == 0
    attempts = len(world.slack.calls_to("views.publish"))
    assert "Outage over" not in _home(world, "U0BOB")
    row = _tab(world, "U0BOB")
    assert row.attempts == 1 and "429" in (row.last_error or "")

    _advance(world, seconds=20)  # Slack said 30
    assert homes.publish_due() == 0 and len(world.slack.calls_to("views.publish")) == attempts
    _advance(world, seconds=11)
    assert homes.publish_due() == 1
    assert "Outage over" in _home(world, "U0BOB")
    world.slack.fail_next("views.publish", status=503)
    draft_via_slack(world, alice, "And a second thank you")
    homes.mark_stale()
    assert homes.publish_due() == 0  # a 5xx: backs off too
    assert "second thank you" not in _home(world, "U0BOB")
    _advance(world, seconds=3)
    assert homes.publish_due() == 1
    assert "second thank you" in _home(world, "U0BOB")


# -- the admin's Edit form --------------------------------------------------------------------


def _edit_form(world: FakeWorld, admin: SlackUser, segment: str) -> dict[str, Any]:
    before = len(world.slack.views)
    admin.click_home(action_id=HomeAction.EDIT_SEGMENT, value=segment)
    world.slack.wait_for(lambda s: len(s.views) > before)
    return admin.last_view_for(admin.user_id)


def _overrides(world: FakeWorld) -> list[ConfigOverride]:
    with transaction(world.db) as session:
        return list(session.scalars(select(ConfigOverride).order_by(col(ConfigOverride.id))))


def test_the_edit_form_shows_an_invalid_channel_inline_and_saves_nothing(world: FakeWorld) -> None:
    admin = world.user("U0ADMIN", "admin")
    world.slack.add_channel("G0SECRET", "secret", bot_member=False)  # private, bot not in it
    _open(world, admin)
    form = _edit_form(world, admin, "customer_relations")
    blocks = {b.get("block_id"): b for b in form["blocks"]}
    assert blocks[BLOCKS["channel"]]["element"]["initial_conversation"] == "C0CUSTOMER"
    assert blocks[BLOCKS["first_response_minutes"]]["element"]["initial_value"] == "15"

    response = admin.submit_view(
        form["id"],
        {
            BLOCKS["channel"]: {"value": {"selected_conversation": "G0SECRET"}},
            BLOCKS["first_response_minutes"]: {"value": "30"},
        },
    )
    assert response.status_code == 200 and not response.done
    assert set(response.errors) == {BLOCKS["channel"]}
    assert "invite me" in response.errors[BLOCKS["channel"]]
    assert _overrides(world) == []  # nothing saved, the target neither
    assert audit_entries(world, action="config.changed") == []
    assert world.runtime.ctx.segments.config.segments["customer_relations"].channel == "C0CUSTOMER"


def test_the_edit_form_saves_a_valid_change_and_the_home_says_so(world: FakeWorld) -> None:
    admin = world.user("U0ADMIN", "admin")
    _open(world, admin)
    form = _edit_form(world, admin, "customer_relations")
    before = _publishes(world, "U0ADMIN")
    response = admin.submit_view(
        form["id"],
        {
            BLOCKS["first_response_minutes"]: {"value": "30"},
            BLOCKS["follow.keywords"]: {"value": "outage, refund\nbroken"},
        },
    )
    assert response.done, response
    world.slack.wait_for(_republished(world, "U0ADMIN", before))
    segment = world.runtime.ctx.segments.config.segments["customer_relations"]
    assert segment.first_response_minutes == 30
    assert segment.follow.keywords == ["outage", "refund", "broken"]
    assert {(o.key, o.value) for o in _overrides(world)} == {
        ("first_response_minutes", "30"),
        ("follow.keywords", '["outage", "refund", "broken"]'),
    }
    changed = audit_entries(world, action="config.changed")
    assert len(changed) == 1 and changed[0].actor_id == "U0ADMIN"
    home = _home(world, "U0ADMIN")
    assert "Saved Customer relations" in home and "within 30 min" in home


def test_the_edit_form_refuses_a_number_that_is_not_one(world: FakeWorld) -> None:
    admin = world.user("U0ADMIN", "admin")
    _open(world, admin)
    form = _edit_form(world, admin, "crisis_management")
    response = admin.submit_view(form["id"], {BLOCKS["approvals_required"]: {"value": "9"}})
    assert not response.done
    assert "could never be given" in response.errors[BLOCKS["approvals_required"]]
    assert _overrides(world) == []


def test_only_an_admin_opens_the_edit_form_and_a_refusal_shows_at_home(world: FakeWorld) -> None:
    bob = world.user("U0BOB", "bob")
    _open(world, bob)
    views = len(world.slack.views)
    notice = _at_home(
        world,
        bob,
        partial(bob.forge_home, action_id=HomeAction.EDIT_SEGMENT, value="crisis_management"),
    )
    assert "Only brandbot admins" in notice
    assert len(world.slack.views) == views  # no form opened
    refused = audit_entries(world, action="config.refused")
    assert [(e.actor_id, e.subject) for e in refused] == [("U0BOB", "segment:crisis_management")]


def test_a_home_kept_current_survives_a_restart(world: FakeWorld) -> None:
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    _open(world, bob)
    world.runtime.stop()
    world.runtime = world.build_runtime()  # a new process over the same database
    draft_via_slack(world, alice, "Maintenance tonight at 10")
    _advance(world, seconds=61)  # due again anyway, after its refresh period
    assert world.runtime.homes.publish_due() >= 1
    assert "Maintenance tonight at 10" in _home(world, "U0BOB")
