"""Where a draft stands: the approval rules that apply to it now, who approved which text, who
wrote it. Reads only, within the caller's transaction; who is in a group is the caller's to ask."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from bot.core.models import Draft, DraftApproval, DraftEdit, Mention
from bot.core.segments import SegmentCatalog
from bot.slack.cards.mention_card import segment_label
from policies import permissions
from policies.approvals import ApprovalRule, RuleProgress, approval_rules, is_member


def rules_for(session: Session, segments: SegmentCatalog, draft: Draft) -> list[ApprovalRule]:
    """The approval rules of a draft as the database stands in this transaction."""
    mention = session.get(Mention, draft.answers) if draft.answers else None
    return approval_rules(
        segments.config,
        segment=draft.segment,
        account=draft.account,
        mention_segment=mention.segment if mention is not None else None,
    )


def approval_facts(
    session: Session, draft: Draft, text_hash: str | None = None
) -> tuple[list[str], set[str]]:
    """Who approved a text of the draft (in order; default: its current text), and who wrote
    that text."""
    text_hash = text_hash or draft.text_hash
    approvals = list(
        session.scalars(
            select(col(DraftApproval.approver_id))
            .where(
                col(DraftApproval.draft_id) == draft.id,
                col(DraftApproval.text_hash) == text_hash,
            )
            .order_by(col(DraftApproval.id))
        )
    )
    return approvals, editors_of(session, draft, text_hash)


def editors_of(session: Session, draft: Draft, text_hash: str) -> set[str]:
    """Who wrote this text of the draft (its author, for the texts they drafted)."""
    rows = session.scalars(
        select(col(DraftEdit.editor_id)).where(
            col(DraftEdit.draft_id) == draft.id, col(DraftEdit.text_hash) == text_hash
        )
    )
    return set(rows)


def approval_decision(
    user_id: str,
    draft: Draft,
    rules: list[ApprovalRule],
    members: dict[str, frozenset[str]],
    editors: set[str],
) -> permissions.Decision:
    """May this person approve the text of the draft that `editors` wrote, under these rules,
    with these members of the approvers' groups? (policies.permissions.may_approve decides.)"""
    return permissions.may_approve(
        user_id=user_id,
        author_id=draft.author_id,
        editors=frozenset(editors),
        is_approver=any(is_member(user_id, rule.approvers, members) for rule in rules),
    )


def approvals_of(session: Session, draft: Draft) -> list[DraftApproval]:
    """Every approval of the draft, of whichever text (callers match text_hash)."""
    return list(
        session.scalars(
            select(DraftApproval)
            .where(col(DraftApproval.draft_id) == draft.id)
            .order_by(col(DraftApproval.id))
        )
    )


def progress_note(progress: list[RuleProgress]) -> str:
    if len(progress) == 1:
        return f"{len(progress[0].approved_by)} of {progress[0].rule.required}"
    return ", ".join(
        f"{segment_label(p.rule.segment)} {len(p.approved_by)} of {p.rule.required}"
        for p in progress
    )
