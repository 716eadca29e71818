"""What a mention card shows now, from the database (the outbox renders at send time)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from bot.core.models import (
    Draft,
    DraftApproval,
    Mention,
    OutsidePost,
    OutsidePostState,
    ResponseTimer,
    SlackMessage,
)
from bot.core.outbox import Rendered, Renderer
from bot.core.segments import SegmentCatalog
from bot.mentions.conversation import ON_X, conversation_owner
from bot.slack.cards.mention_card import (
    CardFacts,
    ReplyFacts,
    TimerFacts,
    build_mention_card,
    fallback_text,
)
from bot.slack.team import TeamUrl


def mention_card_renderer(segments: SegmentCatalog, team: TeamUrl | None = None) -> Renderer:
    def render(session: Session, message: SlackMessage) -> Rendered:
        mention = session.get(Mention, message.subject_id)
        if mention is None:
            return Rendered(text="(mention no longer available)", blocks=[])
        facts = card_facts(session, mention, team)
        blocks = build_mention_card(
            mention,
            segment=segments.view(mention.segment),
            segments=segments.views(),
            is_live=mention.card_id == message.id,
            facts=facts,
        )
        text = fallback_text(mention)
        if facts.owner:  # the notification comes from the text: the owner is told it re-opened
            text = f"<@{facts.owner}> the customer wrote again. {text}"[:3000]
        return Rendered(text=text, blocks=blocks)

    return render


def card_facts(session: Session, mention: Mention, team: TeamUrl | None) -> CardFacts:
    """The newest reply drafted for it, a follow-up that came after it, who owns a follow-up."""
    answers = Draft.answering(mention.id)
    draft = session.scalars(
        select(Draft).where(answers).order_by(col(Draft.id).desc()).limit(1)
    ).first()
    reply = _reply_facts(session, mention, draft, team) if draft is not None else None
    # A later try (pending, rejected, cancelled…) must not hide the answer already on X.
    on_x = None
    if draft is not None and draft.state not in ON_X:
        on_x = session.scalars(
            select(Draft)
            .where(answers, col(Draft.state).in_(ON_X))
            .order_by(col(Draft.id).desc())
            .limit(1)
        ).first()
    posted = _reply_facts(session, mention, on_x, team) if on_x is not None else None
    wrote_again = session.execute(
        select(col(Mention.tweeted_at), col(Mention.author_handle))
        .where(col(Mention.follow_up_of) == mention.id)
        .order_by(col(Mention.tweeted_at).desc())
        .limit(1)
    ).first()
    owner = None
    if mention.follow_up_of:
        original = session.get(Mention, mention.follow_up_of)
        owner = conversation_owner(session, original) if original else None
    timer = session.get(ResponseTimer, mention.id)
    native = (
        session.get(OutsidePost, mention.reply_tweet_id)
        if mention.replied_via == "x" and mention.reply_tweet_id
        else None
    )
    return CardFacts(
        timer=TimerFacts(timer.last_step, timer.acknowledged_by) if timer else None,
        native_reply_by=native.account if native else None,
        native_reply_deleted=native is not None
        and native.state in (OutsidePostState.DELETED, OutsidePostState.GONE),
        reply=reply,
        posted=posted,
        wrote_again_at=wrote_again[0] if wrote_again else None,
        wrote_again_by=wrote_again[1] if wrote_again else None,
        owner=owner,
    )


def _reply_facts(
    session: Session, mention: Mention, draft: Draft, team: TeamUrl | None
) -> ReplyFacts:
    approvers = session.scalars(
        select(col(DraftApproval.approver_id))
        .where(
            col(DraftApproval.draft_id) == draft.id,
            col(DraftApproval.text_hash) == draft.text_hash,
        )
        .order_by(col(DraftApproval.id))
    )
    card = session.get(SlackMessage, draft.card_id) if draft.card_id else None
    return ReplyFacts(
        state=str(draft.state),
        author_id=draft.author_id,
        approver_ids=list(approvers),
        approval_link=team.permalink(card.channel, card.ts) if team and card else None,
        tweet_url=f"https://x.com/{draft.account}/status/{draft.tweet_id}"
        if draft.tweet_id
        else None,
        rejected_by=draft.rejected_by,
        reason=draft.reject_reason,
        is_quote=draft.quote_of == mention.id,
    )
