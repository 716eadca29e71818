"""An author's history, one click from their mention's card: what brandbot has seen of them
(a database read, within Slack's 3 seconds) and what X says of the account (fetched once per
author and kept in `x_author`: a user read costs money and a profile barely changes)."""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import func, select
from sqlmodel import col

from bot.core.context import ServiceContext
from bot.core.db import insert_ignoring_conflicts, table_of
from bot.core.guard import Checkpoint
from bot.core.models import Mention, XAuthor
from bot.mentions.service import MENTION_CARD
from bot.slack.cards.author_history import SHOWN, AuthorView, PastMention
from bot.slack.clicks import Click
from bot.x.gateway import XGateway, XRejected, XUnavailable

log = logging.getLogger(__name__)


class AuthorHistory:
    def __init__(self, ctx: ServiceContext, *, gateway: XGateway) -> None:
        self._ctx = ctx
        self._gateway = gateway

    def view(self, click: Click) -> AuthorView:
        """What the database knows; only reads, so the modal opens within Slack's 3 seconds."""
        found = self._read(click)
        if found is None:  # refused outside the transaction: refusing writes the audit log
            subject = f"mention:{click.value or 'unknown'}"
            checkpoint = Checkpoint(
                self._ctx, click.person, click.channel, "mention", subject, "history"
            )
            checkpoint.refuse("That card isn't one of mine.")
        return found

    def _read(self, click: Click) -> AuthorView | None:
        with self._ctx.transaction(read_only=True) as session:
            card = self._ctx.card_at(session, MENTION_CARD, click)
            mention = session.get(Mention, card.subject_id) if card else None
            if mention is None:
                return None
            earlier = (
                col(Mention.author_id) == mention.author_id,
                col(Mention.id) != mention.id,
                col(Mention.tweeted_at) <= mention.tweeted_at,
            )
            count = session.scalar(select(func.count()).select_from(Mention).where(*earlier))
            recent = [
                PastMention(
                    url=m.url,
                    text=m.text,
                    state=str(m.state),
                    sentiment=m.sentiment,
                    tweeted_at=m.tweeted_at,
                    dismiss_reason=m.dismiss_reason,
                )
                for m in session.scalars(
                    select(Mention)
                    .where(*earlier)
                    .order_by(col(Mention.tweeted_at).desc())
                    .limit(SHOWN)
                )
            ]
            profile = session.get(XAuthor, mention.author_id)
            return AuthorView(
                author_id=mention.author_id,
                handle=mention.author_handle,
                name=mention.author_name,
                earlier_count=int(count or 0),
                recent=recent,
                profile=profile,
            )

    def with_profile(self, view: AuthorView) -> AuthorView:
        """`view` with X's profile of the author: asks X only when none is cached (call it
        after the modal is open; never inside a transaction)."""
        if view.profile is not None:
            return view
        try:
            found = self._gateway.profile(view.author_id)
        except (XUnavailable, XRejected) as exc:
            log.warning("X profile of %s: %s", view.author_id, exc)
            return replace(view, x_error="X didn't answer; try again.")
        row = {
            "author_id": view.author_id,
            "handle": found.handle or view.handle,
            "name": found.name,
            "followers": found.followers,
            "verified": found.verified,
            "created_at": found.created_at,
            "fetched_at": self._ctx.clock.now(),
            "error": None,
        }
        with self._ctx.transaction() as session:
            # Two people opening it at once: one row; the second fetch was the only waste.
            session.execute(insert_ignoring_conflicts(self._ctx.engine, table_of(XAuthor)), [row])
            profile = session.get(XAuthor, view.author_id)
        return replace(view, profile=profile)
