"""Filling the reply form's Text with a saved reply: the form is redrawn (`views.update`) with
the text input under a new block id, because Slack keeps what an input shows for as long as its
block id stays the same and would ignore the new initial value; every other field keeps what
was typed. The submit handler reads the renamed input as the Text field."""

from __future__ import annotations

import copy
from typing import Any

from bot.slack.cards.draft_modals import BLOCKS

TEXT = BLOCKS["text"]
_VIEW_KEYS = ("type", "callback_id", "title", "submit", "close", "private_metadata")


def is_text_block(block_id: str) -> bool:
    return block_id == TEXT or block_id.startswith(f"{TEXT}~")


def form_values(values: dict[str, Any]) -> dict[str, Any]:
    """Submitted values keyed by field: a renamed Text input ("text~2") counts as "text"."""
    return {TEXT if is_text_block(k) else k: v for k, v in values.items()}


def errors_for_view(errors: dict[str, str], values: dict[str, Any]) -> dict[str, str]:
    """Inline errors keyed by the blocks the submitted form has (Text may have been renamed)."""
    shown = next((k for k in values if is_text_block(k)), TEXT)
    return {shown if k == TEXT else k: v for k, v in errors.items()}


def refilled_view(view: dict[str, Any], text: str) -> dict[str, Any]:
    """The draft form as Slack holds it (`view`, with its state), Text replaced by `text`."""
    state: dict[str, Any] = (view.get("state") or {}).get("values") or {}
    blocks = []
    for block in copy.deepcopy(view.get("blocks") or []):
        block_id = str(block.get("block_id", ""))
        element = block.get("element")
        if block.get("type") == "input" and isinstance(element, dict):
            if is_text_block(block_id):
                number = int(block_id.partition("~")[2] or 1)
                block["block_id"] = f"{TEXT}~{number + 1}"
                element["initial_value"] = text
            else:
                typed = state.get(block_id, {}).get(str(element.get("action_id")))
                if typed:
                    _keep_typed(element, typed)
        blocks.append(block)
    return {k: view[k] for k in _VIEW_KEYS if k in view} | {"blocks": blocks}


def _keep_typed(element: dict[str, Any], typed: dict[str, Any]) -> None:
    """Show what the person had entered in an input as its initial value."""
    if typed.get("value") is not None:
        element["initial_value"] = typed["value"]
    elif typed.get("selected_option"):
        element["initial_option"] = typed["selected_option"]
    elif typed.get("selected_options"):
        element["initial_options"] = typed["selected_options"]
    elif typed.get("selected_date_time"):
        element["initial_date_time"] = typed["selected_date_time"]
