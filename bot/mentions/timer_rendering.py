"""What a response-target reminder shows, from the database (the outbox renders at send time):
whom it named and, by now, whether someone acknowledged it or the mention was answered."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session

from bot.core.models import Mention, MentionReminder, ResponseTimer, SlackMessage
from bot.core.outbox import Rendered
from bot.mentions.timers import stop_reason
from bot.slack.cards.response_reminder import ReminderView, build_reminder


def reminder_renderer(session: Session, message: SlackMessage) -> Rendered:
    reminder = session.get(MentionReminder, int(message.subject_id))
    mention = session.get(Mention, reminder.mention_id) if reminder else None
    timer = session.get(ResponseTimer, mention.id) if mention else None
    if reminder is None or mention is None or timer is None:
        return Rendered(text="(reminder no longer available)", blocks=[])
    ended = stop_reason(mention, timer)
    view = ReminderView(
        reminder_id=int(message.subject_id),
        mention_id=mention.id,
        step=reminder.step,
        notified=tuple(json.loads(reminder.notified)),
        author_handle=mention.author_handle,
        mention_url=mention.url,
        target_minutes=reminder.target_minutes,
        due_at=mention.tweeted_at + timedelta(minutes=reminder.target_minutes),
        waited_minutes=int((reminder.created_at - mention.tweeted_at).total_seconds() // 60),
        acknowledged_by=timer.acknowledged_by,
        acknowledged_at=timer.acknowledged_at,
        ended=ended if ended in ("answered", "closed") else None,
    )
    text, blocks = build_reminder(view)
    return Rendered(text=text[:3000], blocks=blocks)
