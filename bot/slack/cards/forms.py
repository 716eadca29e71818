"""What every modal form shares: a title, a submit button, Cancel, and where it came from."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View


def form(
    *, callback_id: str, title: str, submit: str, metadata: str, blocks: Sequence[Block]
) -> dict[str, Any]:
    """A modal; `metadata` (private_metadata) says where it was opened, checked again on submit."""
    view = View(
        type="modal",
        callback_id=callback_id,
        title=title,
        submit=submit,
        close="Cancel",
        private_metadata=metadata,
        blocks=list(blocks),
    )
    return view.to_dict()


def metadata_of(raw: str) -> dict[str, Any]:
    """A submitted form's private_metadata, as one of ours wrote it: a JSON object. Slack hands
    it back unchanged, but a forged submission may hold anything; ValueError then, whatever was
    wrong (`null`, a list, a number in a text field), so a listener has one thing to catch."""
    data = json.loads(raw or "{}")
    if not isinstance(data, dict):
        raise ValueError("private_metadata is not a JSON object")
    return data


def text_in(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"private_metadata {key} is not a string")
    return value


def optional_text_in(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"private_metadata {key} is not a string")
    return value
