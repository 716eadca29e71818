"""What every modal form shares: a title, a submit button, Cancel, and where it came from."""

from __future__ import annotations

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
