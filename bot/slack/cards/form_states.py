"""What a submitted form shows while the server decides, and after.

A submission is answered at once with `working` (Slack's `response_action: update`): the form
can't be submitted twice, and the answer waits for no database. The work then shows, with
`views.update`, either `again` — the same form, what was typed filled back in, each refusal under
its field (views.update has no field errors of its own, so they are context blocks) — or `done`.
`field_errors_of` and `problem_of` read them back: what a person would see (the fake user reads
them so).
"""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]
WORKING_BLOCK = "brandbot_working"
PROBLEM_BLOCK = "brandbot_problem"
ERROR_PREFIX = "brandbot_error:"
DEFAULT_TITLE = "brandbot"
TITLE_LIMIT = 24  # Slack's limit on a modal's title
# What a form definition may hold (views.update refuses the rest: id, state, hash...).
DEFINITION_KEYS = (
    "type",
    "title",
    "submit",
    "close",
    "callback_id",
    "private_metadata",
    "clear_on_close",
    "notify_on_close",
    "submit_disabled",
)
# An input element's state (as submitted) → the initial field that shows it again.
INITIAL_FROM_STATE = {
    "value": "initial_value",
    "selected_option": "initial_option",
    "selected_options": "initial_options",
    "selected_user": "initial_user",
    "selected_users": "initial_users",
    "selected_conversation": "initial_conversation",
    "selected_conversations": "initial_conversations",
    "selected_channel": "initial_channel",
    "selected_channels": "initial_channels",
    "selected_date": "initial_date",
    "selected_time": "initial_time",
    "selected_date_time": "initial_date_time",
    "rich_text_value": "initial_value",
}


def working(submitted: Any) -> JSON:
    """The form while the server decides: its title, no submit button."""
    return _modal(submitted, [_text(WORKING_BLOCK, ":hourglass_flowing_sand: Working on it…")])


def done(submitted: Any, note: str | None = None) -> JSON:
    return _modal(submitted, [_text("brandbot_done", f":white_check_mark: {note or 'Done.'}")])


def done_told(submitted: Any) -> str:
    """Said where the person acted when `done` can't be shown and no note says more."""
    view: JSON = submitted if isinstance(submitted, dict) else {}
    return f"{_title(view)['text']}: done."


def again(submitted: Any, errors: dict[str, str], *, problem: str | None = None) -> JSON:
    """The submitted form once more, as typed, with each error under its field (an error for
    a field the form lacks, and `problem`, show on top)."""
    view: JSON = submitted if isinstance(submitted, dict) else {}
    shown = {key: copy.deepcopy(view[key]) for key in DEFINITION_KEYS if key in view}
    shown["type"] = "modal"
    shown["title"] = _title(view)
    state = ((view.get("state") or {}).get("values") or {}) if isinstance(view, dict) else {}
    blocks: list[JSON] = []
    placed: set[str] = set()
    for block in view.get("blocks") or []:
        if not isinstance(block, dict):
            continue
        block_id = str(block.get("block_id") or "")
        if block_id in (WORKING_BLOCK, PROBLEM_BLOCK) or block_id.startswith(ERROR_PREFIX):
            continue  # from an earlier round
        block = copy.deepcopy(block)
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            _fill_in(block["element"], (state.get(block_id) or {}))
        blocks.append(block)
        if block_id in errors:
            placed.add(block_id)
            blocks.append(_context(f"{ERROR_PREFIX}{block_id}", f":warning: {errors[block_id]}"))
    on_top = [problem] if problem else []
    on_top += [message for block_id, message in errors.items() if block_id not in placed]
    if on_top:
        blocks.insert(0, _context(PROBLEM_BLOCK, ":warning: " + " ".join(on_top)))
    shown["blocks"] = blocks
    return shown


def field_errors_of(view: JSON) -> dict[str, str]:
    """{input block_id: error} as `again` shows them."""
    errors = {}
    for block in view.get("blocks") or []:
        block_id = str(block.get("block_id") or "")
        if block_id.startswith(ERROR_PREFIX):
            errors[block_id.removeprefix(ERROR_PREFIX)] = _said(block)
    return errors


def problem_of(view: JSON) -> str | None:
    found = [_said(b) for b in view.get("blocks") or [] if b.get("block_id") == PROBLEM_BLOCK]
    return found[0] if found else None


def is_working(view: JSON) -> bool:
    return any(b.get("block_id") == WORKING_BLOCK for b in view.get("blocks") or [])


def _fill_in(element: JSON, typed: Any) -> None:
    """Show what was submitted as the element's initial value (one action per input)."""
    if not isinstance(typed, dict) or len(typed) != 1:
        return
    (entry,) = typed.values()
    if not isinstance(entry, dict):
        return
    for state_key, initial_key in INITIAL_FROM_STATE.items():
        value = entry.get(state_key)
        if state_key not in entry:
            continue
        if value in (None, "", []):
            element.pop(initial_key, None)  # cleared by the person: show it cleared
        else:
            element[initial_key] = copy.deepcopy(value)
        return


def _modal(submitted: Any, blocks: list[JSON]) -> JSON:
    view: JSON = submitted if isinstance(submitted, dict) else {}
    modal: JSON = {"type": "modal", "title": _title(view), "blocks": blocks}
    modal["close"] = {"type": "plain_text", "text": "Close"}
    for key in ("callback_id", "private_metadata"):  # still the same form, from the same place
        if isinstance(view.get(key), str):
            modal[key] = view[key]
    return modal


def _title(view: JSON) -> JSON:
    title = view.get("title")
    text = title.get("text") if isinstance(title, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > TITLE_LIMIT:
        text = DEFAULT_TITLE
    return {"type": "plain_text", "text": text}


def _text(block_id: str, text: str) -> JSON:
    return {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": text}}


def _context(block_id: str, text: str) -> JSON:
    element = {"type": "mrkdwn", "text": text}
    return {"type": "context", "block_id": block_id, "elements": [element]}


def _said(block: JSON) -> str:
    elements = block.get("elements") or [{}]
    return str(elements[0].get("text", "")).removeprefix(":warning: ")
