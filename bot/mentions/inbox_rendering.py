"""What the shared inbox's messages show, from the database (the outbox renders at send time):
the DM telling someone a mention was assigned to them, and an internal note in a card's thread."""

from __future__ import annotations

from sqlmodel import Session

from bot.core.models import Mention, MentionNote, SlackMessage
from bot.core.outbox import Rendered, Renderer
from bot.core.segments import SegmentCatalog
from bot.slack.cards.mention_card import quoted

NOTE_MARKER = ":memo: Internal note by <@{author}> — never sent to X"


def assignment_dm_renderer(segments: SegmentCatalog) -> Renderer:
    def render(session: Session, message: SlackMessage) -> Rendered:
        mention = session.get(Mention, message.subject_id)
        if mention is None:
            return Rendered(text="(mention no longer available)", blocks=[])
        if mention.assigned_to != message.channel:  # reassigned before this DM went out
            return Rendered(
                text=f"A mention from @{mention.author_handle} was assigned to you, then to "
                "someone else; its card shows who has it now.",
                blocks=[],
            )
        channel = segments.channel(mention.segment) if mention.segment in segments.names() else ""
        where = f" in <#{channel}>" if channel else ""
        text = (
            f"<@{mention.assigned_by}> assigned you a mention from @{mention.author_handle}{where}:\n"
            f"{quoted(mention.text, 2500)}\n<{mention.url}|Open on X> · claim it on its card to work it."
        )
        return Rendered(text=text[:3000], blocks=[])

    return render


def note_renderer(session: Session, message: SlackMessage) -> Rendered:
    note = session.get(MentionNote, int(message.subject_id))
    if note is None:
        return Rendered(text="(note no longer available)", blocks=[])
    text = NOTE_MARKER.format(author=note.author_id) + "\n" + quoted(note.text, 3500)
    return Rendered(text=text[:3900], blocks=[])
