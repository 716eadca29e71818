"""What a surge summary shows now, from the database (the outbox renders it at send time)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot.core.models import Mention, MentionState, SlackMessage, Surge, SurgeMention, XAuthor
from bot.core.outbox import Rendered, Renderer
from bot.core.segments import SegmentCatalog
from bot.slack.cards.surge_summary import (
    Example,
    Standing,
    SurgeSummaryView,
    build_surge_summary,
    fallback_text,
)
from policies.spike_terms import top_terms
from policies.surge import Candidate, examples, sentiment_split

TERMS = 5
TERM_TEXTS = 2000  # the newest this many texts say what the surge is about now
DONE = (MentionState.REPLIED, MentionState.RESOLVED, MentionState.DISMISSED)


def surge_summary_renderer(segments: SegmentCatalog) -> Renderer:
    def render(session: Session, message: SlackMessage) -> Rendered:
        view = load_summary(session, message.subject_id, segments=segments)
        if view is None:
            return Rendered(text="(surge summary no longer available)", blocks=[])
        return Rendered(text=fallback_text(view), blocks=build_surge_summary(view))

    return render


def load_summary(
    session: Session, surge_id: str, *, segments: SegmentCatalog
) -> SurgeSummaryView | None:
    surge = session.get(Surge, int(surge_id)) if surge_id.isdecimal() else None
    if surge is None:
        return None
    config = segments.config
    member = col(SurgeMention.surge_id) == surge.id
    joined = select(Mention).join(SurgeMention, col(SurgeMention.mention_id) == col(Mention.id))
    rows = session.execute(
        select(
            col(Mention.id),
            col(Mention.sentiment),
            col(Mention.tweeted_at),
            col(Mention.state),
            col(Mention.claimed_by),
            col(SurgeMention.shown_at),
            col(XAuthor.followers),
        )
        .join(SurgeMention, col(SurgeMention.mention_id) == col(Mention.id))
        .outerjoin(XAuthor, col(XAuthor.author_id) == col(Mention.author_id))
        .where(member)
    ).all()
    texts = session.scalars(
        select(col(Mention.text))
        .join(SurgeMention, col(SurgeMention.mention_id) == col(Mention.id))
        .where(member)
        .order_by(col(Mention.tweeted_at).desc())
        .limit(TERM_TEXTS)
    )
    own = [config.brand, *(a.handle for a in config.accounts)]
    chosen = examples(
        (Candidate(r.id, r.followers, r.tweeted_at) for r in rows), count=config.surge.examples
    )
    found = {m.id: m for m in session.scalars(joined.where(col(Mention.id).in_(chosen)))}
    followers = {r.id: r.followers for r in rows}
    times = session.execute(
        select(func.min(col(Mention.tweeted_at)), func.max(col(Mention.tweeted_at)))
        .join(SurgeMention, col(SurgeMention.mention_id) == col(Mention.id))
        .where(member)
    ).one()
    return SurgeSummaryView(
        surge=surge,
        first_at=times[0],
        last_at=times[1],
        split=sentiment_split(r.sentiment for r in rows),
        terms=top_terms(texts, own_names=own, limit=TERMS),
        examples=[Example(found[i], followers.get(i)) for i in chosen if i in found],
        standing=Standing(
            shown=sum(1 for r in rows if r.shown_at is not None),
            waiting=sum(1 for r in rows if r.state == MentionState.OPEN and r.claimed_by is None),
            claimed=sum(1 for r in rows if r.state == MentionState.CLAIMED),
            done=sum(1 for r in rows if r.state in DONE),
        ),
    )
