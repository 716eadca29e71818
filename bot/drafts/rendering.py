"""What an approval card and an author's DM show now, from the database (the outbox renders at
send time, so a card never shows a state older than the row)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.core.clock import Clock
from bot.core.models import Draft, DraftState, Mention, SlackMessage
from bot.core.outbox import Rendered, Renderer
from bot.core.segments import SegmentCatalog
from bot.drafts.machine import mark_answered_mention
from bot.drafts.service import candidate_texts
from bot.drafts.standing import approvals_of, rules_for
from bot.freeze.gate import active_freeze
from bot.mentions.conversation import conversation_context
from bot.slack.cards.approval_card import ApprovalView, build_approval_card
from bot.slack.cards.approval_card import fallback_text as approval_fallback
from bot.slack.cards.mention_card import escape
from policies.lint import text_fingerprint


def approval_card_renderer(segments: SegmentCatalog, clock: Clock) -> Renderer:
    def render(session: Session, message: SlackMessage) -> Rendered:
        draft = session.get(Draft, int(message.subject_id))
        if draft is None:
            return Rendered(text="(draft no longer available)", blocks=[])
        rules = rules_for(session, segments, draft)
        mention = session.get(Mention, draft.answers) if draft.answers else None
        approvals = approvals_of(session, draft)
        view = ApprovalView(
            draft=draft,
            approvers=[a.approver_id for a in approvals if a.text_hash == draft.text_hash],
            candidates=[
                (text, digest, [a.approver_id for a in approvals if a.text_hash == digest])
                for text in candidate_texts(draft)
                for digest in [text_fingerprint(text)]
            ],
            required=rules[0].required if rules else 1,
            rules=rules,
            freeze=active_freeze(session, draft.account, clock.now()),
            context=conversation_context(session, mention) if mention else None,
        )
        return Rendered(text=approval_fallback(draft), blocks=build_approval_card(view))

    return render


def approval_card_posted(session: Session, draft_id: str, now: datetime) -> None:
    """An approval card is in Slack: the mention card of the reply it carries can link to it."""
    draft = session.get(Draft, int(draft_id))
    if draft is not None:
        mark_answered_mention(session, draft, now=now)


def author_dm_renderer(session: Session, message: SlackMessage) -> Rendered:
    draft = session.get(Draft, int(message.subject_id))
    if draft is None:
        return Rendered(text="(draft no longer available)", blocks=[])
    if draft.state == DraftState.EXPIRED:
        what = "expired: it was not approved by its scheduled time, so it was not posted"
    else:
        what = f"was rejected by <@{draft.rejected_by}>: {escape(draft.reject_reason or '')}"
    text = f"Your draft for @{draft.account} {what}\n>{escape(draft.text)}"
    return Rendered(text=text[:3000], blocks=[])
