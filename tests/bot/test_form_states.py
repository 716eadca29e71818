"""A submitted form's states: working, again with errors (what was typed kept), done."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.cards import form_states


def text_input(block_id: str, *, initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value"}
    if initial is not None:
        element["initial_value"] = initial
    label = {"type": "plain_text", "text": block_id}
    return {"type": "input", "block_id": block_id, "label": label, "element": element}


def select_input(block_id: str) -> dict[str, Any]:
    options = [{"text": {"type": "plain_text", "text": v}, "value": v} for v in ("spam", "other")]
    element = {"type": "static_select", "action_id": "choice", "options": options}
    label = {"type": "plain_text", "text": block_id}
    return {"type": "input", "block_id": block_id, "label": label, "element": element}


def submitted(state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A modal as Slack hands it back on submit: its definition, ids and the typed state."""
    return {
        "id": "V1",
        "hash": "1.abc",
        "team_id": "T1",
        "type": "modal",
        "callback_id": "draft_create",
        "private_metadata": '{"channel": "C1"}',
        "title": {"type": "plain_text", "text": "New tweet"},
        "submit": {"type": "plain_text", "text": "Submit"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [text_input("text", initial="@dana "), select_input("reason")],
        "state": {"values": state},
    } | extra


TYPED = {
    "text": {"value": {"type": "plain_text_input", "value": "@dana Sorry, fixing it"}},
    "reason": {"choice": {"type": "static_select", "selected_option": {"value": "other"}}},
}


def test_working_keeps_the_title_and_offers_no_submit() -> None:
    view = form_states.working(submitted(TYPED))
    assert view["title"]["text"] == "New tweet" and "submit" not in view
    assert form_states.is_working(view)
    assert view["private_metadata"] == '{"channel": "C1"}'


@pytest.mark.parametrize(
    ("given", "title"),
    [
        (None, "brandbot"),
        ("not a view", "brandbot"),
        ({"title": "x"}, "brandbot"),
        ({"title": {"type": "plain_text", "text": "x" * 25}}, "brandbot"),
        ({"title": {"type": "plain_text", "text": "  "}}, "brandbot"),
        ({"title": {"type": "plain_text", "text": "Dismiss"}}, "Dismiss"),
    ],
)
def test_a_forged_view_still_gets_a_valid_title(given: Any, title: str) -> None:
    assert form_states.working(given)["title"] == {"type": "plain_text", "text": title}
    assert form_states.done(given)["title"]["text"] == title


def test_again_shows_what_was_typed_and_each_error_under_its_field() -> None:
    view = form_states.again(submitted(TYPED), {"text": "Too long by 3 characters."})
    assert set(view) == set(form_states.DEFINITION_KEYS) & set(submitted(TYPED)) | {"blocks"}
    ids = [b["block_id"] for b in view["blocks"]]
    assert ids == ["text", "brandbot_error:text", "reason"]
    assert view["blocks"][0]["element"]["initial_value"] == "@dana Sorry, fixing it"
    assert view["blocks"][2]["element"]["initial_option"] == {"value": "other"}
    assert form_states.field_errors_of(view) == {"text": "Too long by 3 characters."}
    assert form_states.problem_of(view) is None


def test_an_error_for_a_field_the_form_lacks_and_a_problem_show_on_top() -> None:
    view = form_states.again(submitted(TYPED), {"gone": "Pick a segment."}, problem="X is down.")
    assert view["blocks"][0]["block_id"] == form_states.PROBLEM_BLOCK
    assert form_states.problem_of(view) == "X is down. Pick a segment."
    assert form_states.field_errors_of(view) == {}


def test_a_second_round_replaces_the_first_rounds_errors() -> None:
    first = form_states.again(submitted(TYPED), {"text": "Too long."}, problem="Try again.")
    second = form_states.again(first | {"state": {"values": TYPED}}, {"reason": "Say why."})
    assert form_states.field_errors_of(second) == {"reason": "Say why."}
    assert form_states.problem_of(second) is None


def test_a_cleared_field_shows_cleared() -> None:
    cleared = {"text": {"value": {"type": "plain_text_input", "value": None}}}
    view = form_states.again(submitted(cleared), {"text": "Write the tweet."})
    assert "initial_value" not in view["blocks"][0]["element"]


def test_done_says_the_note_or_done() -> None:
    assert "waiting for approval" in str(form_states.done(submitted(TYPED), "waiting for approval"))
    view = form_states.done(submitted(TYPED))
    assert "Done." in str(view["blocks"]) and "submit" not in view
