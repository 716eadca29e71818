"""The admin's Edit form for one segment, opened from the App Home. What it shows first is the
effective configuration (app.yaml and overrides); on submit only what changed is saved, through
the same validated path as `/brand` (its problems are shown on the field they name)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    StaticMultiSelectElement,
    UserMultiSelectElement,
)

from bot.slack.cards.forms import form, metadata_of, text_in
from bot.slack.cards.mention_card import segment_label

SEGMENT_CALLBACK = "segment_edit_modal"
ACTION = "value"
MAX_OPTIONS = 100  # Slack's limit for a static menu
# The steering service's field keys → the block showing that field (its errors go there).
BLOCKS = {
    "channel": "channel",
    "approvers": "approver_users",
    "approver_groups": "approver_groups",
    "approvals_required": "approvals_required",
    "first_response_minutes": "first_response_minutes",
    "accounts": "accounts",
    "follow.keywords": "follow_keywords",
    "follow.hashtags": "follow_hashtags",
    "follow.authors": "follow_authors",
}
SEPARATORS = ",\n"


@dataclass(frozen=True)
class SegmentForm:
    """A segment's current values, as the form shows them."""

    segment: str
    channel: str
    approver_users: list[str]
    approver_groups: list[str]
    groups: list[tuple[str, str]]  # (group ID, label) the approvers may be picked from
    approvals_required: int
    first_response_minutes: int
    accounts: list[str]  # handles it lists under `accounts:` (empty: it lists none)
    all_accounts: list[str]
    keywords: list[str]
    hashtags: list[str]
    authors: list[str]
    groups_note: str | None = None  # e.g. Slack did not list the groups just now
    revision: int = 0  # the configuration's revision it shows: a save from an older one is refused


def segment_metadata(segment: str, revision: int) -> str:
    return json.dumps({"segment": segment, "revision": revision})


def segment_of(metadata: str) -> tuple[str, int]:
    """The segment a submitted form was opened for, and the configuration revision it showed
    (ValueError: not our form)."""
    data = metadata_of(metadata)
    revision = data.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool):  # int(1e309) would raise
        raise ValueError("private_metadata revision is not a whole number")
    return text_in(data, "segment"), revision


def listed(values: list[str]) -> str:
    return ", ".join(values)


def split_list(text: str | None) -> list[str]:
    """Comma- or newline-separated values, trimmed, empties dropped."""
    parts = (text or "").replace("\n", ",").split(",")
    return [p.strip() for p in parts if p.strip()]


def build_segment_modal(current: SegmentForm) -> dict[str, object]:
    # The segment's own groups first: past Slack's 100 options one would drop out of the menu,
    # and so out of the approvers on any save.
    ordered = sorted(current.groups, key=lambda g: g[0] not in current.approver_groups)
    group_options = [Option(value=g, text=label[:75]) for g, label in ordered][:MAX_OPTIONS]
    account_options = [Option(value=h, text=f"@{h}") for h in current.all_accounts][:MAX_OPTIONS]
    chosen_accounts = [o for o in account_options if o.value in current.accounts]
    blocks: list[Block] = [
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"*{segment_label(current.segment)}* — changes are checked like app.yaml, "
                    "audited, and announced in the segment's channel."
                )
            ]
        ),
        InputBlock(
            block_id=BLOCKS["channel"],
            label="Channel (its cards and drafts go there)",
            element=ConversationSelectElement(
                action_id=ACTION,
                initial_conversation=current.channel,
                filter=ConversationFilter(
                    include=["public", "private"], exclude_external_shared_channels=True
                ),
            ),
        ),
        InputBlock(
            block_id=BLOCKS["approvers"],
            label="Approvers: people",
            optional=True,
            element=UserMultiSelectElement(
                action_id=ACTION, initial_users=current.approver_users or None
            ),
        ),
        _groups_input(current, group_options),
        InputBlock(
            block_id=BLOCKS["approvals_required"],
            label="Approvals each draft needs",
            element=NumberInputElement(
                action_id=ACTION,
                is_decimal_allowed=False,
                initial_value=str(current.approvals_required),
                min_value="1",
            ),
        ),
        InputBlock(
            block_id=BLOCKS["first_response_minutes"],
            label="First-response target (minutes)",
            element=NumberInputElement(
                action_id=ACTION,
                is_decimal_allowed=False,
                initial_value=str(current.first_response_minutes),
                min_value="1",
                max_value="10080",
            ),
        ),
        InputBlock(
            block_id=BLOCKS["accounts"],
            label="Posts as",
            optional=True,
            element=StaticMultiSelectElement(
                action_id=ACTION,
                options=account_options,
                initial_options=chosen_accounts or None,
            ),
            hint="Listing an account guards it. None listed: every account no segment guards.",
        ),
        *[
            InputBlock(
                block_id=BLOCKS[f"follow.{name}"],
                label=f"Follow {name}",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ACTION,
                    multiline=True,
                    initial_value=listed(values) or None,
                    max_length=2000,
                ),
                hint="Separate them with commas or new lines.",
            )
            for name, values in (
                ("keywords", current.keywords),
                ("hashtags", current.hashtags),
                ("authors", current.authors),
            )
        ],
    ]
    return form(
        callback_id=SEGMENT_CALLBACK,
        title="Edit segment",
        submit="Save",
        metadata=segment_metadata(current.segment, current.revision),
        blocks=blocks,
    )


def _groups_input(current: SegmentForm, options: list[Option]) -> InputBlock:
    """A menu of the workspace's user groups; group IDs typed in when there is none to offer."""
    if not options:
        return InputBlock(
            block_id=BLOCKS["approver_groups"],
            label="Approvers: user-group IDs",
            optional=True,
            element=PlainTextInputElement(
                action_id=ACTION, initial_value=listed(current.approver_groups) or None
            ),
            hint=current.groups_note or "Like S0123ABCD, separated by commas.",
        )
    return InputBlock(
        block_id=BLOCKS["approver_groups"],
        label="Approvers: user groups",
        optional=True,
        element=StaticMultiSelectElement(
            action_id=ACTION,
            options=options,
            initial_options=[o for o in options if o.value in current.approver_groups] or None,
        ),
        hint=current.groups_note,
    )


@dataclass(frozen=True)
class SegmentEdit:
    """What the admin submitted, as typed or picked (the service reads and checks it)."""

    channel: str | None
    approver_users: list[str]
    approver_groups: list[str]
    approvals_required: str | None
    first_response_minutes: str | None
    accounts: list[str]
    keywords: str | None
    hashtags: str | None
    authors: str | None


def edit_from(values: dict[str, Any]) -> SegmentEdit:
    """The submitted form (`view.state.values`), whatever the element of each input."""

    def element(block: str) -> dict[str, Any]:
        found = values.get(BLOCKS[block], {}).get(ACTION)
        return found if isinstance(found, dict) else {}

    def picked(block: str) -> list[str]:
        item = element(block)
        if "selected_options" in item:
            return [str(o.get("value")) for o in item["selected_options"] or [] if o.get("value")]
        if "selected_users" in item:
            return [str(u) for u in item["selected_users"] or []]
        return split_list(item.get("value"))  # typed in, comma separated

    return SegmentEdit(
        channel=element("channel").get("selected_conversation"),
        approver_users=picked("approvers"),
        approver_groups=picked("approver_groups"),
        approvals_required=element("approvals_required").get("value"),
        first_response_minutes=element("first_response_minutes").get("value"),
        accounts=picked("accounts"),
        keywords=element("follow.keywords").get("value"),
        hashtags=element("follow.hashtags").get("value"),
        authors=element("follow.authors").get("value"),
    )


def form_errors(problems: dict[str, str]) -> dict[str, str]:
    """The steering service's problems by field → Slack's `errors` by block (a problem of no
    field on the form is shown with the approvals, as the service files whole-segment ones)."""
    errors: dict[str, str] = {}
    for key, message in problems.items():
        block = BLOCKS.get(key, BLOCKS["approvals_required"])
        errors[block] = f"{errors[block]} {message}" if block in errors else message
    return errors
