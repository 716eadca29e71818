"""Review of steering and the App Home, on the services: each test states a promise of README /
docs/decisions.md that the change under review does not keep (they fail until it is fixed).

Who is who (tests/support.py TEST_CONFIG, tests/services/conftest.py): U0ADMIN is the admin;
S0CARE (U0BOB, U0CAROL, U0DANA) approves customer relations; S0CRISIS (U0CRISIS1-3) approves
crisis management, two approvals; U0ALICE drafts; U0MALLORY is in no group."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from support import TEST_CONFIG

from bot.core.db import transaction
from bot.core.errors import ActionRefused, ConfigRefused, Conflict
from bot.core.models import ConfigOverride, DraftState
from bot.fakes.services import ServiceKit
from bot.slack.cards.segment_modal import SegmentEdit, build_segment_modal, edit_from

OPS = "C0OPS"


def _overrides(kit: ServiceKit) -> dict[tuple[str, str], object]:
    with transaction(kit.engine) as session:
        rows = session.scalars(select(ConfigOverride)).all()
        return {(r.scope, r.key): json.loads(r.value) for r in rows}


def _as_submitted(modal: dict[str, Any], **typed: str) -> dict[str, Any]:
    """`view.state.values` of the modal submitted as shown (what Slack sends for inputs left
    alone), with the text inputs named in `typed` (block id → text) changed."""
    state: dict[str, Any] = {}
    for block in modal["blocks"]:
        if block.get("type") != "input":
            continue
        element = block["element"]
        kind = element["type"]
        if kind == "multi_static_select":
            value: dict[str, Any] = {"selected_options": element.get("initial_options") or []}
        elif kind == "multi_users_select":
            value = {"selected_users": element.get("initial_users") or []}
        elif kind == "conversations_select":
            value = {"selected_conversation": element.get("initial_conversation")}
        else:
            value = {"value": typed.get(block["block_id"], element.get("initial_value"))}
        state[block["block_id"]] = {element["action_id"]: {"type": kind, **value}}
    return state


def _edit(**changes: Any) -> SegmentEdit:
    base: dict[str, Any] = {
        "channel": "C0CUSTOMER",
        "approver_users": [],
        "approver_groups": ["S0CARE"],
        "approvals_required": "1",
        "first_response_minutes": "15",
        "accounts": [],
        "keywords": "outage, refund",
        "hashtags": "",
        "authors": "",
    }
    return SegmentEdit(**(base | changes))


# -- the Edit form --------------------------------------------------------------------------------


def test_saving_the_edit_form_keeps_an_approver_group_listed_past_the_hundredth(
    kit: ServiceKit,
) -> None:
    """A workspace with more than 100 user groups: the form offers the first 100 (Slack's limit
    for a menu), and a segment approved by a group past them loses it when the admin saves an
    unrelated change — the group is not among the menu's initial options, so the submission
    carries no group and `segment_changes` sees the approvers as changed: the group is silently
    dropped (or, if it was the only approver, the unrelated save is refused with "it has no
    approvers")."""
    admin = kit.person("U0ADMIN")
    for i in range(120):
        kit.slack.set_usergroup(f"S0G{i:03d}", [f"U0G{i:03d}A", f"U0G{i:03d}B"])
    kit.steering.set_approvers(admin, "customer_relations", ["U0BOB", "S0G110"], where=OPS)

    modal = build_segment_modal(kit.homes.edit_form(admin, "customer_relations"))
    state = _as_submitted(modal, first_response_minutes="30")  # only the target is changed
    kit.homes.save_segment(admin, "customer_relations", edit_from(state))

    segment = kit.ctx.segments.config.segments["customer_relations"]
    assert segment.first_response_minutes == 30
    assert segment.approvers == ["U0BOB", "S0G110"], "saving the response target dropped a group"


def test_a_number_the_form_cannot_read_is_refused_on_its_field_not_a_crash(
    kit: ServiceKit,
) -> None:
    """`str.isdigit()` is true for "²" and "①", which `int()` cannot read: the form's submit
    raises ValueError (the listener never acks, Slack shows a connection error) instead of
    "Write a whole number"."""
    with pytest.raises(ConfigRefused) as refused:
        kit.homes.segment_changes("customer_relations", _edit(approvals_required="²"))
    assert "approvals_required" in refused.value.problems


def test_a_home_button_with_a_superscript_draft_id_is_not_one_of_mine(kit: ServiceKit) -> None:
    """The same `isdigit()`/`int()` mismatch in `HomeService._on_card`: a forged value "²:…"
    is an unhandled ValueError ("Something went wrong", logged with a traceback) rather than
    the audited "isn't one of mine" refusal."""
    bob = kit.person("U0BOB")
    with pytest.raises(ActionRefused, match="isn't one of mine"):
        kit.homes.approve(bob, "²:" + "0" * 64)
    assert [e.actor_id for e in kit.audit("draft.refused")] == ["U0BOB"]


def test_a_non_admin_submitting_the_edit_form_is_refused_and_audited_whatever_it_holds(
    kit: ServiceKit,
) -> None:
    """The admin check comes after the form's numbers are read: a non-admin submitting a
    (forged) Edit form with a bad number is answered "Write a whole number" and nothing is
    audited, though `config.refused` is promised for every non-admin attempt."""
    mallory = kit.person("U0MALLORY")
    with pytest.raises(ActionRefused, match="Only brandbot admins"):
        kit.homes.save_segment(mallory, "crisis_management", _edit(approvals_required="zero"))
    refusals = kit.audit("config.refused")
    assert [(e.actor_id, e.subject) for e in refusals] == [
        ("U0MALLORY", "segment:crisis_management")
    ]


def test_the_edit_form_warns_that_listing_an_account_guards_it(kit: ServiceKit) -> None:
    """`/brand accounts customer_relations @acme` warns that the segments listing none lose
    @acme (`_accounts_lost`); the Edit form's `update_segment` saves the same change with no
    warning, and five segments silently can no longer post at all."""
    admin = kit.person("U0ADMIN")
    edit = _edit(accounts=["acme"])
    summary = kit.homes.save_segment(admin, "customer_relations", edit)
    assert kit.ctx.segments.config.segments["customer_relations"].accounts == ["acme"]
    assert "Listing an account guards it" in summary, summary


# -- two admins at once ---------------------------------------------------------------------------


def test_approvals_checked_against_approvers_another_admin_has_just_replaced_are_not_saved(
    kit: ServiceKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two admins on one replica: A raises crisis approvals to 3 (S0CRISIS has 3 people) while
    B replaces the approvers with a group of 2. A's reachability is checked against the old
    approvers; B's change lands (and refreshes the shared catalog) while A waits for Slack; A's
    `_change` then reads the *new* revision as the one it validated against, so no Conflict —
    and crisis management ends needing 3 approvals from 2 people: never met."""
    admin = kit.person("U0ADMIN")
    kit.slack.set_usergroup("S0DUO", ["U0CRISIS1", "U0CRISIS2"])
    directory = kit.ctx.directory
    real = directory.members
    raced: list[str] = []

    def members(principals: Any) -> dict[str, frozenset[str]]:
        found = real(principals)
        if not raced:  # the other admin's change lands while this Slack call is in flight
            raced.append("B")
            kit.steering.set_approvers(admin, "crisis_management", ["S0DUO"], where=OPS)
        return found

    monkeypatch.setattr(directory, "members", members)
    with contextlib.suppress(Conflict, ConfigRefused):  # refusing it is the right answer
        kit.steering.set_approvals(admin, "crisis_management", 3, where=OPS)
    monkeypatch.setattr(directory, "members", real)

    crisis = kit.ctx.segments.config.segments["crisis_management"]
    people = set().union(*real(crisis.approvers).values())
    assert (crisis.approvals_required or 1) <= len(people), (
        f"{crisis.approvals_required} approvals from {len(people)} approvers: never met"
    )


# -- approvals that can never be met --------------------------------------------------------------


def test_approvers_that_cannot_meet_the_accounts_floor_are_refused(
    make_kit: Callable[..., ServiceKit],
) -> None:
    """@acme needs 2 approvals on every draft (`min_approvals: 2`), so customer relations'
    rule is 2 whatever its own `approvals_required` says. Naming one approver is accepted (with
    the "every one of its 1 approver" warning meant for 1 of 1): every draft of the segment is
    then stuck for good."""
    floor = TEST_CONFIG.replace(
        "{handle: acme, credentials_env: ACME}",
        "{handle: acme, credentials_env: ACME, min_approvals: 2}",
    )
    kit = make_kit(floor)
    admin = kit.person("U0ADMIN")
    refused = None
    try:
        kit.steering.set_approvers(admin, "customer_relations", ["U0BOB"], where=OPS)
    except ConfigRefused as exc:
        refused = exc
    if refused is None:  # show what it leads to: a draft nobody can ever get approved
        draft = kit.add_draft(author="U0ALICE")
        kit.drafts.approve(kit.on_draft("U0BOB", draft))
        assert kit.draft(draft.id).state == DraftState.PENDING
    assert refused is not None, "one approver accepted where every draft needs two"
    assert "could never be given" in str(refused.problems)


# -- overrides and app.yaml -----------------------------------------------------------------------


def test_an_override_left_out_can_be_reset_and_does_not_come_back(
    make_kit: Callable[..., ServiceKit],
) -> None:
    """app.yaml dropped @acme_help, so customer relations' accounts override is left out (and
    `check --effective` lists it). `/brand reset customer_relations` answers "nothing to reset"
    and keeps the row; when app.yaml lists @acme_help again, the forgotten override is back in
    force — unannounced — and guards @acme_help from every other segment."""
    two = TEST_CONFIG.replace(
        "  - {handle: acme, credentials_env: ACME}\n",
        "  - {handle: acme, credentials_env: ACME}\n  - {handle: acme_help, credentials_env: HELP}\n",
    )
    first = make_kit(two)
    admin = first.person("U0ADMIN")
    first.steering.set_accounts(admin, "customer_relations", ["acme_help"], where=OPS)

    dropped = make_kit(TEST_CONFIG)  # app.yaml without @acme_help
    assert [o.key for o, _ in dropped.ctx.segments.ignored()] == ["accounts"]
    with contextlib.suppress(ActionRefused):
        dropped.steering.reset(admin, "customer_relations", where=OPS)
    assert _overrides(dropped) == {}, "the override reset could not drop is still stored"

    again = make_kit(two)  # @acme_help back in app.yaml
    assert again.ctx.segments.config.segments["customer_relations"].accounts is None


def test_a_segment_named_routing_can_be_steered(make_kit: Callable[..., ServiceKit]) -> None:
    """`routing` is a valid segment name (lower_snake_case), but it is also the routing rules'
    override scope: `/brand sla routing 30` is laid over `routing:` instead of the segment and
    refused with "Extra inputs are not permitted" (and `reset routing` can only mean the
    rules)."""
    kit = make_kit(TEST_CONFIG.replace("event_coverage", "routing"))
    admin = kit.person("U0ADMIN")
    kit.steering.set_response_target(admin, "routing", 30, where=OPS)
    assert kit.ctx.segments.config.segments["routing"].first_response_minutes == 30


def test_following_a_keyword_again_in_other_case_is_refused(kit: ServiceKit) -> None:
    """Keywords match case-insensitively, so "Refund" is the "refund" customer relations
    follows already; it is added a second time (and the search query names it twice)."""
    admin = kit.person("U0ADMIN")
    with pytest.raises(ConfigRefused, match="already follows"):
        kit.steering.follow(
            admin, "customer_relations", add=True, kind="keywords", value="Refund", where=OPS
        )
    assert _overrides(kit) == {}
