"""What the outbox posts for an announcement: its text, as stored."""

from __future__ import annotations

from sqlmodel import Session

from bot.core.models import Announcement, SlackMessage
from bot.core.outbox import Rendered


def render_announcement(session: Session, message: SlackMessage) -> Rendered:
    note = session.get(Announcement, int(message.subject_id))
    text = note.text if note is not None else "(announcement no longer available)"
    return Rendered(text=text[:3000], blocks=[])
