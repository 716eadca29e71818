"""Outbox renderers: turn a SlackMessage row into what Slack should show now."""

from __future__ import annotations

from sqlmodel import Session

from bot.cards.mention_card import build_mention_card, fallback_text
from bot.models import Mention, SlackMessage
from bot.outbox import Rendered, Renderer
from bot.segments import SegmentCatalog


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
