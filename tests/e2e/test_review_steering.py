"""Review of steering from Slack and the App Home's Edit form, over the fakes through the real
app with signed requests: each test states a promise that the change under review does not keep
(they fail until it is fixed).

Who is who (tests/support.py TEST_CONFIG, here with a second admin): U0ADMIN (ada) and U0ADMIN2
(ben) are admins; S0CARE (bob, carol) approves customer relations; S0CRISIS (U0CRISIS1-3)
approves crisis management, two approvals; U0MALLORY is in no group."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from support import TEST_CONFIG, audit_entries

from bot.core.db import transaction
from bot.core.models import ConfigOverride, HomeTab
from bot.fakes.drafting import said
from bot.fakes.slack_user import SlackUser
from bot.fakes.world import FakeWorld
from bot.slack.cards.app_home import HomeAction
from bot.slack.cards.segment_modal import BLOCKS
from policies.config import BrandConfig, parse_config

OPS = "C0OPS"
ADMIN2 = "U0ADMIN2"


@pytest.fixture
def config() -> BrandConfig:
    two_admins = TEST_CONFIG.replace('admins: ["U0ADMIN"]', f'admins: ["U0ADMIN", "{ADMIN2}"]')
    return parse_config(two_admins, filename="test.yaml")


@pytest.fixture
def ada(world: FakeWorld) -> SlackUser:
    world.slack.add_channel(OPS, "brand-ops")
    return world.user("U0ADMIN", "ada")


def brand(world: FakeWorld, user: SlackUser, text: str) -> str:
    return said(world, user, lambda: user.command("/brand", text, channel=OPS))


def overrides(world: FakeWorld) -> dict[tuple[str, str], Any]:
    with transaction(world.db) as session:
        rows = session.scalars(select(ConfigOverride)).all()
        return {(r.scope, r.key): json.loads(r.value) for r in rows}


def _publishes(world: FakeWorld, user_id: str) -> int:
    return sum(
        1 for c in world.slack.calls_to("views.publish") if c.args["user_id"] == user_id and c.ok
    )


def _open_home(world: FakeWorld, user: SlackUser) -> None:
    before = _publishes(world, user.user_id)
    assert user.open_home().status_code == 200

    def done(_: object) -> bool:
        if _publishes(world, user.user_id) <= before:
            return False
        with transaction(world.db) as session:
            row = session.get(HomeTab, user.user_id)
            return row is not None and row.lease_owner is None

    world.slack.wait_for(done)


def _edit_form(world: FakeWorld, admin: SlackUser, segment: str) -> dict[str, Any]:
    _open_home(world, admin)
    before = len(world.slack.views)
    admin.click_home(action_id=HomeAction.EDIT_SEGMENT, value=segment)
    world.slack.wait_for(lambda s: len(s.views) > before)
    return admin.last_view_for(admin.user_id)


def crisis(world: FakeWorld) -> Any:
    return world.runtime.services.segments.config.segments["crisis_management"]


# -- the Edit form and /brand together ------------------------------------------------------------


def test_an_edit_form_saved_later_does_not_undo_another_admins_change(
    world: FakeWorld, ada: SlackUser
) -> None:
    """ada opens crisis management's form (2 approvals); ben, mid-crisis, raises it to 3 with
    /brand; ada then saves the form to add a keyword. The form sends every field as it was when
    it opened, and the service saves whatever differs from *now* — so ada's save silently
    lowers the approvals back to 2 (announced as "changed … approvals", no :warning:), though
    she never touched them. The form carries no revision, so no Conflict is raised."""
    ben = world.user(ADMIN2, "ben")
    form = _edit_form(world, ada, "crisis_management")
    assert "now need 3 approval(s) (was 2)" in brand(world, ben, "approvals crisis_management 3")

    response = ada.submit_view(form["id"], {BLOCKS["follow.keywords"]: {"value": "breach, leak"}})
    assert response.status_code == 200
    assert crisis(world).approvals_required == 3, "ada's unrelated save undid ben's change"


def test_lowering_approvals_from_the_edit_form_is_announced_with_a_warning(
    world: FakeWorld, ada: SlackUser
) -> None:
    """README: "Lowering it is announced with a :warning:". `/brand approvals` does; the Edit
    form's `update_segment` announces "<@ada> changed Crisis management: approvals." — no
    warning, and not even from what to what."""
    form = _edit_form(world, ada, "crisis_management")
    response = ada.submit_view(form["id"], {BLOCKS["approvals_required"]: {"value": "1"}})
    assert response.done, response
    assert crisis(world).approvals_required == 1
    world.deliver()
    notes = [
        str(m.get("text"))
        for m in world.slack.messages.get("C0CRISIS", [])
        if "<@U0ADMIN>" in str(m.get("text"))
    ]
    assert notes, "nothing announced in the segment's channel"
    assert any(n.startswith(":warning:") and "approvals 2 → 1" in n for n in notes), notes


def test_the_form_names_a_superscript_number_on_its_field(world: FakeWorld, ada: SlackUser) -> None:
    """ "²" passes `isdigit()` and fails `int()`: the submit raises before it acks, and Slack is
    answered with no `errors` (the person sees a connection error), not "Write a whole number"."""
    form = _edit_form(world, ada, "customer_relations")
    response = ada.submit_view(form["id"], {BLOCKS["approvals_required"]: {"value": "²"}})
    assert response.status_code == 200
    assert not response.done, response
    assert BLOCKS["approvals_required"] in response.errors
    assert overrides(world) == {}


def test_a_non_admin_submitting_an_admins_form_is_told_admins_only_and_audited(
    world: FakeWorld, ada: SlackUser
) -> None:
    """mallory submits the form the app opened for ada (its view id), with a value that is not
    a number: she is answered "Write a whole number" on the field and no `config.refused` is
    written — the admin check runs only after the form's numbers are read."""
    form = _edit_form(world, ada, "crisis_management")
    mallory = world.user("U0MALLORY", "mallory")
    response = mallory.submit_view(form["id"], {BLOCKS["approvals_required"]: {"value": "one"}})
    assert response.status_code == 200
    assert "Only brandbot admins" in json.dumps(response.errors), response
    refused = audit_entries(world, action="config.refused")
    assert [e.actor_id for e in refused] == ["U0MALLORY"]
    assert overrides(world) == {}


# -- /brand -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "approvals customer_relations two",
        "channel customer_relations #care-team",
        "approvers customer_relations @mallory",
        "route add crisis_management sentiment_below very",
        "accounts customer_relations <@U0MALLORY|mallory>",
    ],
)
def test_a_non_admin_typing_a_malformed_change_is_told_admins_only_and_audited(
    world: FakeWorld, ada: SlackUser, text: str
) -> None:
    """README: "anyone else is told 'admins only' and the attempt is audited". The handler
    parses what was typed before the service checks the admin, so a non-admin's malformed
    attempt gets the usage line (which teaches them the syntax) and is never audited."""
    mallory = world.user("U0MALLORY", "mallory")
    answer = brand(world, mallory, text)
    assert answer == "Only brandbot admins can do that.", answer
    assert [e.actor_id for e in audit_entries(world, action="config.refused")] == ["U0MALLORY"]


def test_a_catastrophic_routing_regex_is_refused(world: FakeWorld, ada: SlackUser) -> None:
    """`(a+)+$` compiles, so app.yaml's check lets it through; routing then runs it with
    `re.search` on every mention's text: "@acme " + 24 a's + "!" takes 1.3 s here, each more
    letter about doubles it, so a tweet of 40 a's never finishes — inside ingest, which holds the GIL: one /brand line from an admin
    (or a hacked admin account) stalls every segment's ingest. A regex from Slack needs a bound
    (no nested quantifiers, or a matcher with a timeout)."""
    answer = brand(world, ada, "route add crisis_management regex (a+)+$")
    assert "Usage: `/brand route" in answer, answer
    assert overrides(world) == {}
