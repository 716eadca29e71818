"""Working mentions as a shared inbox: assign, internal notes, tags, saved replies and the bulk
actions (dismiss all from an author, resolve selected).

Each change is one transaction like the mention state machine's: a conditional UPDATE on the
mention's version, the audit entry, and the card marked for re-rendering. Who may act is decided
here from the database and Slack's directory (policies/permissions.py, bot.core.guard), never
from the click. The bulk actions move each mention through `MentionService.transition_one`, the
very check and update a click on that mention's own card goes through."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlmodel import col

from bot.core import audit, outbox
from bot.core.context import ServiceContext
from bot.core.db import rowcount
from bot.core.errors import ActionRefused, Conflict
from bot.core.guard import Checkpoint
from bot.core.models import Mention, MentionNote, MentionState
from bot.mentions.service import Located, MentionService
from bot.slack.cards.inbox_controls import WORKABLE, mention_tags
from bot.slack.cards.inbox_modals import MAX_LISTED, MAX_NOTE, InboxContext
from bot.slack.cards.mention_card import escape, principal_mention, segment_label
from bot.slack.clicks import Click
from bot.slack.directory import SLACK_UNAVAILABLE, DirectoryUnavailable
from policies import permissions
from policies.config import fill_placeholders
from policies.dismissal import dismissal_problems, dismissal_text

ASSIGNMENT_DM = "assignment_dm"  # the outbox kind of the DM telling someone they were assigned
MENTION_NOTE = "mention_note"  # the outbox kind of an internal note in a card's thread
DISMISSABLE_IN_BULK = (MentionState.OPEN, MentionState.CLAIMED)
RESOLVABLE_IN_BULK = (MentionState.OPEN, MentionState.CLAIMED, MentionState.REPLIED)


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk action did: the mentions it moved, and those it skipped with why."""

    verb: str  # "Dismissed", "Resolved"
    done: list[Mention] = field(default_factory=list)
    skipped: list[tuple[Mention, str]] = field(default_factory=list)

    def summary(self) -> str:
        count = len(self.done)
        lines = [f"{self.verb} {count} mention{'' if count == 1 else 's'}."]
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)}:")
            lines += [
                f"• <{m.url}|@{m.author_handle}: {_snippet(m.text)}> — {why}"
                for m, why in self.skipped[:20]
            ]
        return "\n".join(lines)


class InboxService:
    def __init__(self, ctx: ServiceContext, *, mentions: MentionService) -> None:
        self._ctx = ctx
        self._mentions = mentions

    # -- assign -----------------------------------------------------------------------------

    def assign(self, click: Click, assignee: str) -> str:
        """Ask `assignee` to work the mention: they get a DM, the card shows them. The claim is
        untouched: assigning is a request, claiming is who works it. The note for the clicker."""
        located, check = self._allowed(click, "assign")
        mention = located.mention
        if mention.state not in WORKABLE:  # a stale screen: its card has nothing to claim
            check.refuse(f"It is {mention.state}; reopen it before assigning it.")
        if mention.assigned_to == assignee:
            raise ActionRefused(f"It is already assigned to <@{assignee}>.")
        check.require(self._assignable(check, mention.segment, assignee))
        name = self._ctx.directory.display_name(assignee)
        values = {
            "assigned_to": assignee,
            "assigned_to_name": name,
            "assigned_by": click.user_id,
            "assigned_at": self._ctx.clock.now(),
        }
        notify = [] if assignee == click.user_id else [assignee]
        self._update(located, click, "assign", values, dm_to=notify)
        told = " and told them by DM" if notify else ""
        return f"Assigned to <@{assignee}>{told}."

    def unassign(self, click: Click) -> str:
        located, _check = self._allowed(click, "unassign")
        was = located.mention.assigned_to
        if was is None:
            raise ActionRefused("Nobody is assigned this.")
        values = {"assigned_to": None, "assigned_to_name": None, "assigned_by": None}
        self._update(located, click, "unassign", values | {"assigned_at": None})
        return f"<@{was}> is no longer assigned this."

    def _assignable(self, check: Checkpoint, segment: str, assignee: str) -> permissions.Decision:
        """A responder of the segment; when it names none, anyone in its channel (asked of
        Slack; when Slack can't say, refused: an assignment nobody can act on is a dead end)."""
        responders = self._ctx.segments.responders(segment)
        if responders:
            members = check.members(responders)
            eligible = any(assignee in people for people in members.values())
            who = f"{segment_label(segment)}'s responders ({', '.join(map(principal_mention, responders))})"
        else:
            channel = self._ctx.segments.channel(segment)
            try:
                eligible = assignee in self._ctx.directory.channel_members(channel)
            except DirectoryUnavailable:
                check.refuse(SLACK_UNAVAILABLE)
            who = f"members of <#{channel}>"
        return permissions.may_be_assigned(assignee=assignee, is_responder=eligible, who_can=who)

    # -- tags -------------------------------------------------------------------------------

    def set_tags(self, click: Click, tags: list[str]) -> None:
        """The mention's tags become exactly `tags`, each one the segment configures."""
        located, check = self._allowed(click, "tag")
        segment = located.mention.segment
        settings = self._ctx.segments.config.segments.get(segment)  # None: app.yaml dropped it
        configured = list(settings.tags) if settings is not None else []
        unknown = [t for t in tags if t not in configured]
        if unknown:
            listed = ", ".join(f"`{t}`" for t in configured) or "none"
            check.refuse(
                f"`{unknown[0]}` is not a tag of {segment_label(segment)}; its tags: {listed}."
            )
        chosen = [t for t in configured if t in tags]  # the configured order, each once
        if chosen == mention_tags(located.mention):
            return
        self._update(located, click, "tag", {"tags": json.dumps(chosen) if chosen else None})

    # -- notes ------------------------------------------------------------------------------

    def note_form(self, click: Click) -> tuple[InboxContext, Mention]:
        """What the note modal needs (a read only: the trigger lives 3 seconds)."""
        located = self._mentions.locate(click, "note")
        return InboxContext(located.mention.id, click.channel, click.message_ts), located.mention

    def add_note(self, click: Click, text: str) -> None:
        """Store an internal note and post it in the card's thread. It is never sent to X."""
        text = text.strip()
        if not text:
            raise ActionRefused("Write the note first.")
        if len(text) > MAX_NOTE:
            raise ActionRefused(f"Keep a note under {MAX_NOTE} characters.")
        located, _check = self._allowed(click, "note")
        mention, card = located.mention, located.card
        actor, now = self._ctx.actor(click.person), self._ctx.clock.now()
        with self._ctx.transaction() as session:
            note = MentionNote(
                mention_id=mention.id,
                author_id=actor.id,
                author_name=actor.name,
                text=text,
                created_at=now,
            )
            session.add(note)
            session.flush()
            # Slack threads are one level deep: a card that is itself a reply threads its note
            # under the conversation's first card.
            root = card.thread_root_id or card.id
            message = outbox.NewMessage(MENTION_NOTE, str(note.id), card.channel, root)
            outbox.enqueue(session, [message], now=now)
            audit.record(
                session,
                actor=actor,
                action="mention.note",
                subject=f"mention:{mention.id}",
                at=now,
                after={"note": note.id, "text": text},
            )
        self._ctx.hooks.cards_changed()

    # -- saved replies ----------------------------------------------------------------------

    def saved_reply_names(self, segment: str) -> list[str]:
        segments = self._ctx.segments.config.segments
        return [r.name for r in segments[segment].saved_replies] if segment in segments else []

    def saved_reply_text(self, mention_id: str | None, name: str) -> str:
        """A saved reply of the mention's segment, its placeholders filled from the mention. Only
        text for the form: the draft made from it is linted and approved like any other."""
        with self._ctx.transaction(read_only=True) as session:
            mention = session.get(Mention, mention_id) if mention_id else None
        if mention is None:
            raise ActionRefused("Saved replies are for replies to a mention: use its card's Reply.")
        config = self._ctx.segments.config
        settings = config.segments.get(mention.segment)  # None: app.yaml dropped the segment
        saved = settings.saved_replies if settings is not None else []
        reply = next((r for r in saved if r.name == name), None)
        if reply is None:
            raise ActionRefused(
                f"{segment_label(mention.segment)} has no saved reply called {name!r} any more."
            )
        values = {
            "author": f"@{mention.author_handle}",
            "author_name": mention.author_name or mention.author_handle,
            "account": f"@{mention.account}",
            "brand": config.brand,
        }
        return fill_placeholders(reply.text, values)

    # -- bulk -------------------------------------------------------------------------------

    def dismiss_author_form(self, click: Click) -> tuple[InboxContext, Mention]:
        """The author's open and claimed mentions in this card's segment, newest first (the
        modal confirms how many; exactly those are dismissed on submit)."""
        located = self._mentions.locate(click, "dismiss")
        mention = located.mention
        with self._ctx.transaction(read_only=True) as session:
            ids = list(
                session.scalars(
                    select(col(Mention.id))
                    .where(
                        col(Mention.author_id) == mention.author_id,
                        col(Mention.segment) == mention.segment,
                        col(Mention.state).in_(DISMISSABLE_IN_BULK),
                    )
                    .order_by(col(Mention.tweeted_at).desc())
                    .limit(MAX_LISTED)
                )
            )
        if not ids:
            raise ActionRefused(
                f"@{mention.author_handle} has no open or claimed mentions in "
                f"{segment_label(mention.segment)}."
            )
        return InboxContext(mention.id, click.channel, click.message_ts, ids), mention

    def dismiss_author(
        self, click: Click, context: InboxContext, *, reason: str, note: str
    ) -> BulkOutcome:
        problems = dismissal_problems(reason, note)
        if problems:
            raise ActionRefused(" ".join(problems.values()))
        origin = self._mentions.locate(click, "dismiss").mention
        why = dismissal_text(reason, note)

        def belongs(m: Mention) -> bool:
            return m.author_id == origin.author_id and m.segment == origin.segment

        return self._bulk(
            click, context.mention_ids, "dismiss", "Dismissed", belongs, dismiss_reason=why
        )

    def resolve_selected_form(
        self, click: Click
    ) -> tuple[InboxContext, Mention, list[Mention], int]:
        """The clicked mention, its segment's open, claimed and replied mentions, newest first (at most MAX_LISTED),
        and how many more there are."""
        located = self._mentions.locate(click, "resolve")
        segment = located.mention.segment
        workable = and_(col(Mention.segment) == segment, col(Mention.state).in_(RESOLVABLE_IN_BULK))
        with self._ctx.transaction(read_only=True) as session:
            listed = list(
                session.scalars(
                    select(Mention)
                    .where(workable)
                    .order_by(col(Mention.tweeted_at).desc())
                    .limit(MAX_LISTED)
                )
            )
            total = session.scalar(select(func.count()).select_from(Mention).where(workable)) or 0
        clicked = located.mention
        if clicked.state in RESOLVABLE_IN_BULK and clicked.id not in {m.id for m in listed}:
            # An older card in a surge: its own mention is offered (and preselected) all the same.
            listed = [clicked, *listed[: MAX_LISTED - 1]]
        context = InboxContext(located.mention.id, click.channel, click.message_ts)
        return context, located.mention, listed, max(0, int(total) - len(listed))

    def resolve_selected(self, click: Click, mention_ids: list[str]) -> BulkOutcome:
        if not mention_ids:
            raise ActionRefused("Pick at least one mention to resolve.")
        origin = self._mentions.locate(click, "resolve").mention

        def belongs(m: Mention) -> bool:
            return m.segment == origin.segment

        return self._bulk(click, mention_ids[:MAX_LISTED], "resolve", "Resolved", belongs)

    def _bulk(
        self,
        click: Click,
        mention_ids: list[str],
        action: str,
        verb: str,
        belongs: Callable[[Mention], bool],
        **changes: Any,
    ) -> BulkOutcome:
        """Each mention as if clicked on its own card; a refusal skips it and is reported."""
        outcome = BulkOutcome(verb)
        with self._ctx.transaction() as session:
            found = {
                m.id: m
                for m in session.scalars(select(Mention).where(col(Mention.id).in_(mention_ids)))
            }
        for mention_id in dict.fromkeys(mention_ids):
            mention = found.get(mention_id)
            if mention is None:
                continue
            if not belongs(mention):
                outcome.skipped.append((mention, "not one of the mentions this was for"))
                continue
            try:
                self._mentions.transition_one(click, mention_id, action, **changes)
            except ActionRefused as refused:
                outcome.skipped.append((mention, str(refused)))
            else:
                outcome.done.append(mention)
        return outcome

    # -- the one path of this module's changes ------------------------------------------------

    def _allowed(self, click: Click, action: str) -> tuple[Located, Checkpoint]:
        located = self._mentions.locate(click, action)
        check = Checkpoint(
            self._ctx,
            click.person,
            click.channel,
            "mention",
            f"mention:{located.mention.id}",
            action,
        )
        actor = check.segment_actor(located.mention.segment)
        check.require(permissions.may_work_on_mention(action, actor=actor))
        return located, check

    def _update(
        self,
        located: Located,
        click: Click,
        action: str,
        values: dict[str, Any],
        *,
        dm_to: list[str] | None = None,
    ) -> None:
        mention = located.mention
        actor, now = self._ctx.actor(click.person), self._ctx.clock.now()
        with self._ctx.transaction() as session:
            result = session.execute(
                update(Mention)
                .where(col(Mention.id) == mention.id, col(Mention.version) == mention.version)
                .values(**values, version=col(Mention.version) + 1)
            )
            if rowcount(result) != 1:
                raise Conflict("Someone changed this mention just now; the card shows the latest.")
            current = session.get(Mention, mention.id)
            assert current is not None
            session.refresh(current)
            outbox.mark_changed(session, located.card.id, now=now)
            outbox.enqueue(
                session,
                [outbox.NewMessage(ASSIGNMENT_DM, mention.id, u) for u in dm_to or []],
                now=now,
            )
            audit.record(
                session,
                actor=actor,
                action=f"mention.{action}",
                subject=f"mention:{mention.id}",
                at=now,
                before=_inbox_view(mention),
                after=_inbox_view(current),
            )
        self._ctx.hooks.cards_changed()


def _inbox_view(mention: Mention) -> dict[str, Any]:
    return {
        "state": str(mention.state),
        "assigned_to": mention.assigned_to,
        "assigned_by": mention.assigned_by,
        "tags": mention_tags(mention),
    }


def _snippet(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return escape(flat).replace("|", "/")  # a link's label ends at "|"
