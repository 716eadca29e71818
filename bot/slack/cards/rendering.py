"""Outbox renderers: turn a SlackMessage row into what Slack should show now."""

from __future__ import annotations

from sqlmodel import Session

from bot.core.clock import Clock
from bot.core.models import Draft, DraftState, Mention, SlackMessage
from bot.core.outbox import Rendered, Renderer
from bot.core.segments import SegmentCatalog
from bot.drafts.publisher import active_freeze
from bot.drafts.service import approvals_of, candidate_texts
from bot.freeze.service import load_held_queue
from bot.slack.cards.approval_card import ApprovalView, build_approval_card
from bot.slack.cards.approval_card import fallback_text as approval_fallback
from bot.slack.cards.held_queue import build_held_queue
from bot.slack.cards.held_queue import fallback_text as held_queue_fallback
from bot.slack.cards.mention_card import build_mention_card, escape, fallback_text
from policies.approvals import approval_rules
from policies.lint import text_fingerprint


def mention_card_renderer(segments: SegmentCatalog) -> Renderer:
    def render(session: Session, message: SlackMessage) -> Rendered:
        mention = session.get(Mention, message.subject_id)
        if mention is None:
            return Rendered(text="(mention no longer available)", blocks=[])
        blocks = build_mention_card(
            mention,
            segment=segments.view(mention.segment),
            segments=segments.views(),
            is_live=mention.card_id == message.id,
        )
        return Rendered(text=fallback_text(mention), blocks=blocks)

    return render


def approval_card_renderer(segments: SegmentCatalog, clock: Clock) -> Renderer:
    def render(session: Session, message: SlackMessage) -> Rendered:
        draft = session.get(Draft, int(message.subject_id))
        if draft is None:
            return Rendered(text="(draft no longer available)", blocks=[])
        mention = session.get(Mention, draft.in_reply_to) if draft.in_reply_to else None
        rules = approval_rules(
            segments.config,
            segment=draft.segment,
            account=draft.account,
            mention_segment=mention.segment if mention else None,
        )
        approvals = approvals_of(session, draft)
        view = ApprovalView(
            draft=draft,
            approvers=[a.approver_name for a in approvals if a.text_hash == draft.text_hash],
            candidates=[
                (text, digest, [a.approver_name for a in approvals if a.text_hash == digest])
                for text in candidate_texts(draft)
                for digest in [text_fingerprint(text)]
            ],
            required=rules[0].required if rules else 1,
            rules=rules,
            freeze=active_freeze(session, draft.account, clock.now()),
        )
        return Rendered(text=approval_fallback(draft), blocks=build_approval_card(view))

    return render


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


def held_queue_renderer(session: Session, message: SlackMessage) -> Rendered:
    """The one message an unfreeze posts: its held posts as they stand now."""
    view = load_held_queue(session, message.subject_id)
    if view is None:
        return Rendered(text="(held queue no longer available)", blocks=[])
    return Rendered(text=held_queue_fallback(view), blocks=build_held_queue(view))
