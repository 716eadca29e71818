"""The shared-inbox part of a mention card: who it is assigned to, its tags, and the controls
(Assign to…, Note, Tags, the bulk overflow). Built here and appended by `build_mention_card`."""

from __future__ import annotations

import json
from enum import StrEnum

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InteractiveElement,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    StaticMultiSelectElement,
    UserSelectElement,
)

from bot.core.models import Mention, MentionState
from bot.core.segments import SegmentView

WORKABLE = frozenset({MentionState.OPEN, MentionState.CLAIMED, MentionState.REPLIED})


class InboxAction(StrEnum):
    ASSIGN = "inbox_assign"
    UNASSIGN = "inbox_unassign"
    NOTE = "inbox_note"
    TAGS = "inbox_tags"
    BULK = "inbox_bulk"  # the overflow menu: its option says which bulk action


class BulkChoice(StrEnum):
    DISMISS_AUTHOR = "dismiss_author"
    RESOLVE_SELECTED = "resolve_selected"


def block_id(mention: Mention) -> str:
    """Selects carry no value: the service cross-checks the mention by this block's suffix."""
    return f"inbox:{mention.id}"


def mention_tags(mention: Mention) -> list[str]:
    """The tags stored on a mention (a JSON list; anything else reads as none)."""
    try:
        tags = json.loads(mention.tags or "[]")
    except ValueError:
        return []
    return [str(t) for t in tags] if isinstance(tags, list) else []


def inbox_line(mention: Mention) -> str | None:
    """ "Assigned to @x by @y · Tags: billing, outage", or None when there is neither."""
    parts = []
    if mention.assigned_to:
        parts.append(
            f":bust_in_silhouette: Assigned to <@{mention.assigned_to}> by <@{mention.assigned_by}>"
        )
    tags = mention_tags(mention)
    if tags:
        parts.append(":label: Tags: " + ", ".join(f"`{t}`" for t in tags))
    return " · ".join(parts) or None


def inbox_blocks(mention: Mention, segment: SegmentView) -> list[Block]:
    """What the live card adds: the line above, then the inbox controls."""
    blocks: list[Block] = []
    line = inbox_line(mention)
    if line:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=line)]))
    elements: list[InteractiveElement] = []
    if mention.state in WORKABLE:
        elements.append(
            UserSelectElement(
                placeholder="Assign to…",
                action_id=InboxAction.ASSIGN,
                initial_user=mention.assigned_to or None,
            )
        )
        if mention.assigned_to:
            elements.append(
                ButtonElement(text="Unassign", action_id=InboxAction.UNASSIGN, value=mention.id)
            )
    elements.append(ButtonElement(text="Note", action_id=InboxAction.NOTE, value=mention.id))
    if mention.state in WORKABLE and segment.tags:
        options = [Option(value=t, text=t) for t in segment.tags]
        chosen = [o for o in options if o.value in mention_tags(mention)]
        elements.append(
            StaticMultiSelectElement(
                placeholder="Tags",
                action_id=InboxAction.TAGS,
                options=options,
                initial_options=chosen or None,
            )
        )
    if mention.state in WORKABLE:
        elements.append(
            OverflowMenuElement(
                action_id=InboxAction.BULK,
                options=[
                    Option(
                        value=BulkChoice.DISMISS_AUTHOR,
                        text=f"Dismiss all from @{mention.author_handle}"[:75],
                    ),
                    Option(value=BulkChoice.RESOLVE_SELECTED, text="Resolve selected…"),
                ],
            )
        )
    blocks.append(ActionsBlock(block_id=block_id(mention), elements=elements))
    return blocks
