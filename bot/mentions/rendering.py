"""What a mention card shows now, from the database (the outbox renders at send time)."""

from __future__ import annotations

from sqlmodel import Session

from bot.core.models import Mention, SlackMessage
from bot.core.outbox import Rendered, Renderer
from bot.core.segments import SegmentCatalog
from bot.slack.cards.mention_card import build_mention_card, fallback_text


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
