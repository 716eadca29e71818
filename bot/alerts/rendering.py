"""What a spike alert shows, rendered from the database when the outbox sends it."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlmodel import Session, col

from bot.core import outbox
from bot.core.models import Mention, SlackMessage, SpikeAlert
from bot.slack.cards.spike_alert import SpikeAlertView, build_spike_alert, fallback_text


def load_spike_alert(session: Session, spike_id: str) -> SpikeAlertView | None:
    spike = session.get(SpikeAlert, int(spike_id)) if spike_id.isdigit() else None
    if spike is None:
        return None
    ids = [str(i) for i in json.loads(spike.examples or "[]")]
    found = {m.id: m for m in session.scalars(select(Mention).where(col(Mention.id).in_(ids)))}
    return SpikeAlertView(spike=spike, examples=[found[i] for i in ids if i in found])


def render_spike_alert(session: Session, message: SlackMessage) -> outbox.Rendered:
    """A spike alert as it stands now: still going or calmed down, frozen from it or not."""
    view = load_spike_alert(session, message.subject_id)
    if view is None:
        return outbox.Rendered(text="(spike alert no longer available)", blocks=[])
    return outbox.Rendered(text=fallback_text(view), blocks=build_spike_alert(view))
