"""Drafts and four-eyes approval: nobody can post as the brand alone.

A draft needs `approvals_required` approvals of its exact current text (approvals bind to the
text's hash) from the segment's approvers who are neither its author nor an editor of that text.
Eligibility is decided here, from the database and Slack's directory, at every click — never
from what a button, form or message in the payload claims. Reaching the threshold moves the
draft to the publish queue with one conditional UPDATE, so simultaneous approvals post once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.alerts.outside_posts import recognised
from bot.core import audit, outbox
from bot.core.clock import iso
from bot.core.context import ServiceContext
from bot.core.db import insert_ignoring_conflicts, rowcount, table_of
from bot.core.errors import ActionRefused, Conflict
from bot.core.guard import Checkpoint
from bot.core.models import Draft, DraftApproval, DraftEdit, DraftState, Mention
from bot.drafts import machine as draft_machine
from bot.drafts.matching import post_match
from bot.drafts.standing import (
    approval_decision,
    approval_facts,
    editors_of,
    progress_note,
    rules_for,
)
from bot.mentions.service import reply_posted, reply_taken_down
from bot.slack.cards.mention_card import segment_label, slack_date
from bot.slack.clicks import Click, Person
from bot.x.gateway import XGateway, XNotFound, XRejected, XUnavailable
from policies import draft_reasons as reasons
from policies import permissions
from policies.approvals import (
    ApprovalRule,
    RuleProgress,
    all_met,
    approval_progress,
    is_member,
    may_post_as,
    principals_of,
)
from policies.lint import LintIssue, lint_draft, text_fingerprint
from policies.permissions import Decision
from policies.tweet_match import Match, tweet_id_of

APPROVAL_CARD = "approval_card"
AUTHOR_DM = "author_dm"  # a direct message to a draft's author (rejected, expired)
REJECTABLE = draft_machine.TRANSITIONS["reject"][0]
CHANGED = "Someone changed this draft just now; the card shows the latest."
DELETE_TIMEOUT = timedelta(minutes=2)  # a take-down X never answered may be confirmed again


class DraftInvalid(Exception):
    """The draft breaks the segment's rules; `issues` say which and where."""

    def __init__(self, issues: list[LintIssue]) -> None:
        super().__init__("; ".join(i.message for i in issues))
        self.issues = issues


@dataclass(frozen=True)
class DraftRequest:
    account: str
    segment: str
    text: str
    link: str | None = None
    schedule_at: datetime | None = None
    in_reply_to: str | None = None
    alternatives: tuple[str, ...] = ()  # up to two more candidate texts, for replies
    quote_of: str | None = None  # a mention's tweet id: a quote post of it (X's reply rule)

    def texts(self) -> list[str]:
        """Every candidate text exactly as it would be posted."""
        return [full_text(t, self.link) for t in (self.text, *self.alternatives) if t.strip()]


MAX_CANDIDATES = 3


def candidate_texts(draft: Draft) -> list[str]:
    """The texts an approver chooses between (just the draft's text when there is one)."""
    return list(json.loads(draft.candidates)) if draft.candidates else [draft.text]


def full_text(text: str, link: str | None) -> str:
    return f"{text.strip()} {link.strip()}" if link and link.strip() else text.strip()


class DraftService:
    def __init__(self, ctx: ServiceContext, *, gateway: XGateway | None = None) -> None:
        self._ctx = ctx
        self._gateway = gateway

    # -- drafting ---------------------------------------------------------------------------

    def accounts_for(self, segment: str, *, prefer: str | None = None) -> list[str]:
        """The accounts `segment` may post as; `prefer` (a reply's mentioned account) first
        when the segment may post as it."""
        handles = [a.handle for a in self._ctx.segments.config.accounts_for(segment)]
        wanted = (prefer or "").lower()
        return sorted(handles, key=lambda h: h.lower() != wanted)

    def check(self, request: DraftRequest) -> list[LintIssue]:
        """Every rule the draft breaks (empty when it may go for approval)."""
        config = self._ctx.segments.config
        if request.segment not in config.segments:
            return [LintIssue("segment", f"There is no segment called {request.segment!r}.")]
        if not may_post_as(config, segment=request.segment, account=request.account):
            guards = config.guards_of(request.account)
            why = (
                f" (@{request.account} is guarded by {', '.join(map(segment_label, guards))})"
                if guards and request.segment not in guards
                else ""
            )
            return [
                LintIssue(
                    "account",
                    f"{segment_label(request.segment)} may not post as @{request.account}{why}.",
                )
            ]
        segment = config.segments[request.segment]
        now = self._ctx.clock.now()
        issues = lint_draft(
            text=request.text,
            segment=segment,
            link=request.link,
            schedule_at=request.schedule_at,
            now=now,
        )
        alternatives = [t for t in request.alternatives if t.strip()]
        if alternatives and not request.in_reply_to:
            issues.append(
                LintIssue("alternative_2", "Alternatives are for replies: post one text.")
            )
        for number, alternative in enumerate(alternatives, start=2):
            for issue in lint_draft(text=alternative, segment=segment, link=request.link, now=now):
                if issue.field == "text":
                    issues.append(LintIssue(f"alternative_{number}", issue.message))
        if len(set(request.texts())) != len(request.texts()):
            issues.append(LintIssue("alternative_2", "Two of the candidate texts are the same."))
        return issues

    def create(self, *, author: Person, request: DraftRequest) -> Draft:
        answered = request.in_reply_to or request.quote_of  # a reply or a quote of a mention
        if answered:
            with self._ctx.transaction() as session:
                mention = session.get(Mention, answered)
            if mention is None:
                raise DraftInvalid(
                    [LintIssue("text", "That tweet isn't one of my mentions: reply from its card.")]
                )
            self._require_may_answer(author, mention, "quote" if request.quote_of else "reply")
            request = replace(request, segment=mention.segment)
        issues = self.check(request)  # the modal checked too; the server decides
        if issues:
            raise DraftInvalid(issues)
        now = self._ctx.clock.now()
        texts = request.texts()[:MAX_CANDIDATES]
        text = texts[0]
        name = self._ctx.directory.display_name(author.user_id, author.user_name)
        with self._ctx.transaction() as session:
            draft = Draft(
                account=request.account,
                segment=request.segment,
                author_id=author.user_id,
                author_name=name,
                text=text,
                text_hash=text_fingerprint(text),
                in_reply_to=request.in_reply_to,
                quote_of=request.quote_of,
                candidates=json.dumps(texts) if len(texts) > 1 else None,
                schedule_at=request.schedule_at,
                created_at=now,
                updated_at=now,
            )
            session.add(draft)
            session.flush()
            assert draft.id is not None
            for candidate in texts:  # the author may approve none of them
                session.add(
                    DraftEdit(
                        draft_id=draft.id,
                        editor_id=author.user_id,
                        editor_name=name,
                        text_hash=text_fingerprint(candidate),
                        at=now,
                    )
                )
            cards = outbox.enqueue(
                session,
                [
                    outbox.NewMessage(
                        APPROVAL_CARD, str(draft.id), self._ctx.segments.channel(request.segment)
                    )
                ],
                now=now,
            )
            draft.card_id = cards[str(draft.id)]
            session.add(draft)
            draft_machine.mark_answered_mention(session, draft, now=now)
            audit.record(
                session,
                actor=audit.Actor(author.user_id, name),
                action="draft.create",
                subject=f"draft:{draft.id}",
                at=now,
                after={
                    "text": text,
                    "candidates": texts if len(texts) > 1 else None,
                    "account": draft.account,
                    "segment": draft.segment,
                    "in_reply_to": draft.in_reply_to,
                    "quote_of": draft.quote_of,  # `audit who` follows it to the mention
                    "schedule_at": iso(draft.schedule_at),
                },
            )
        self._ctx.hooks.cards_changed()
        return draft

    def _require_may_answer(self, author: Person, mention: Mention, action: str) -> None:
        """The reply rule again when the draft is made, not only when its form opened: a form
        left open must not answer a mention someone else has claimed, or closed, since."""
        channel = self._ctx.segments.channel(mention.segment)
        check = Checkpoint(self._ctx, author, channel, "mention", f"mention:{mention.id}", action)
        try:
            check.require(
                permissions.may_reply(
                    actor=check.segment_actor(mention.segment),
                    claimed_by=mention.claimed_by,
                    state=str(mention.state),
                )
            )
        except ActionRefused as refused:  # shown on the form, what was typed kept
            raise DraftInvalid([LintIssue("text", str(refused))]) from None

    def edit_form(self, click: Click) -> Draft:
        """The draft to edit, if this person may edit it (only its author, only while pending)."""
        draft = self._locate(click, "edit")
        decision = permissions.may_edit(
            user_id=click.person.user_id, author_id=draft.author_id, state=str(draft.state)
        )
        if not decision.allowed:
            self._refuse(click, draft, "edit", decision.reason)
        return draft

    def edit(self, click: Click, *, text: str, link: str | None = None) -> None:
        """The author rewrites the draft: every approval is void, approvers must read it again."""
        draft = self.edit_form(click)
        request = DraftRequest(
            draft.account, draft.segment, text, link, draft.schedule_at, draft.in_reply_to
        )
        issues = self.check(request)
        if issues:
            raise DraftInvalid(issues)
        new_text = full_text(text, link)
        with self._moved_by(
            click,
            draft,
            "edit",
            values={
                "text": new_text,
                "text_hash": text_fingerprint(new_text),
                "candidates": None,  # an edit replaces the candidates with one text
            },
            before={"text": draft.text},
            after={"text": new_text},
        ) as (session, actor, now):
            # Editing resets every approval, even of a text the draft had before (A → B → A).
            session.execute(delete(DraftApproval).where(col(DraftApproval.draft_id) == draft.id))
            assert draft.id is not None  # a stored draft
            session.add(
                DraftEdit(
                    draft_id=draft.id,
                    editor_id=actor.id,
                    editor_name=actor.name,
                    text_hash=text_fingerprint(new_text),
                    at=now,
                )
            )

    # -- approving --------------------------------------------------------------------------

    def approve(self, click: Click) -> str:
        """Record an approval; return what happened, for the person who clicked.

        Who counts is resolved from Slack *before* anything is written, so recording the
        approval, counting every rule and queueing the draft are one transaction: a Slack
        failure refuses the click cleanly, and nothing is ever left approved but not queued.
        """
        draft = self._locate(click, "approve")
        if draft.state != DraftState.PENDING:
            self._refuse(click, draft, "approve", f"This draft is already {draft.state}.")
        seen_hash = (click.value or "").partition(":")[2]
        candidates = {text_fingerprint(t): t for t in candidate_texts(draft)}
        if seen_hash and seen_hash not in candidates:
            self._refuse(
                click,
                draft,
                "approve",
                "The text changed since you saw it: read the new version on the card and approve again.",
            )
        if len(candidates) > 1 and not seen_hash:
            self._refuse(click, draft, "approve", "Pick one of the candidate texts on the card.")
        target = seen_hash or draft.text_hash  # the exact text this approval is for
        rules = self.rules(draft)
        members = self._members(click, draft, "approve", rules)
        reason = self._ineligible(click.person.user_id, draft, rules, members, text_hash=target)
        if reason:
            self._refuse(click, draft, "approve", reason)
        now, actor = self._ctx.clock.now(), self._ctx.actor(click.person)
        with self._ctx.transaction() as session:
            current = _locked(session, draft)
            if current.state != DraftState.PENDING or current.version != draft.version:
                raise Conflict(CHANGED)
            inserted = session.execute(
                insert_ignoring_conflicts(self._ctx.engine, table_of(DraftApproval)).returning(
                    col(DraftApproval.id)
                ),
                [
                    {
                        "draft_id": draft.id,
                        "approver_id": actor.id,
                        "approver_name": actor.name,
                        "text_hash": target,
                        "at": now,
                    }
                ],
            ).first()
            if inserted is not None:
                draft_machine.record_change(
                    session,
                    draft,
                    actor=actor,
                    action="draft.approve",
                    at=now,
                    after={"text_hash": target, "text": candidates[target]},
                )
            progress = self._progress(session, current, rules, members, text_hash=target)
            queued = all_met(progress) and self._queue(session, current, now, candidates[target])
        self._ctx.hooks.cards_changed()
        if queued:
            self._ctx.hooks.approved()
            return "Approved: it goes to the publish queue now."
        so_far = progress_note(progress)
        if inserted is None:
            return f"You have already approved this text ({so_far})."
        if all_met(progress):
            return "Approved."
        return f"Approved ({so_far}); waiting for {sum(p.missing for p in progress)} more."

    def rules(self, draft: Draft) -> list[ApprovalRule]:
        """Every approval rule that applies to the draft now (see policies.approvals)."""
        with self._ctx.transaction(read_only=True) as session:
            return rules_for(session, self._ctx.segments, draft)

    def approval_standing(
        self, draft: Draft, *, text_hash: str | None = None
    ) -> tuple[list[ApprovalRule], list[RuleProgress]]:
        """The rules that apply to the draft now and how far a text of it (default: the current
        one) meets each, with who is in the approvers' groups now. The publisher asks right
        before posting. Raises DirectoryUnavailable when Slack can't say (then nothing posts)."""
        with self._ctx.transaction(
            read_only=True
        ) as session:  # one read; Slack is asked outside it
            rules = rules_for(session, self._ctx.segments, draft)
            approvals, editors = approval_facts(session, draft, text_hash)
        members = self._ctx.directory.members(principals_of(rules))
        progress = approval_progress(
            rules, approvals=approvals, author=draft.author_id, editors=editors, members=members
        )
        return rules, progress

    def eligible_approvals(self, draft_id: int, *, text_hash: str | None = None) -> int:
        """How many people's approvals of one exact text (default: the current one) count right
        now, under any rule: removed from the approvers' group since clicking means no longer."""
        with self._ctx.transaction(read_only=True) as session:
            draft = session.get(Draft, draft_id)
            assert draft is not None
        _, progress = self.approval_standing(draft, text_hash=text_hash)
        return len({a for p in progress for a in p.approved_by})

    def delete(self, click: Click) -> str:
        """Take a posted tweet down from X. Needs two people — one asks, another approver (or an
        admin) confirms — or one admin: a compromised account must not erase the record alone.
        The confirmation claims the take-down first, so X is called once however many click."""
        draft = self._locate(click, "delete")
        now = self._ctx.clock.now()
        stale = draft.state == DraftState.DELETING and draft.updated_at < now - DELETE_TIMEOUT
        if draft.state == DraftState.DELETED:
            return f"Already deleted from X by <@{draft.deleted_by}>."
        if draft.state == DraftState.DELETING and not stale:
            return f"<@{draft.deleted_by}> is deleting it from X right now."
        if draft.state not in (DraftState.POSTED, DraftState.DELETING) or not draft.tweet_id:
            self._refuse(
                click,
                draft,
                "delete",
                f"Only posted tweets can be deleted; this one is {draft.state}.",
            )
        user = click.person.user_id
        rules = self.rules(draft)
        members = self._members(click, draft, "delete", rules, with_admins=True)
        is_admin = is_member(user, self._ctx.segments.admins, members)
        is_approver = any(is_member(user, r.approvers, members) for r in rules)
        decision = permissions.may_delete(is_admin=is_admin, is_approver=is_approver)
        if not decision.allowed:
            self._refuse(click, draft, "delete", decision.reason)
        actor = self._ctx.actor(click.person)
        confirm = permissions.may_confirm_delete(
            user_id=user, requested_by=draft.delete_requested_by, is_admin=is_admin
        )
        if not confirm.allowed:
            with self._ctx.transaction() as session:
                session.execute(
                    update(Draft).where(col(Draft.id) == draft.id).values(delete_requested_by=user)
                )
                draft_machine.record_change(
                    session,
                    draft,
                    actor=actor,
                    action="draft.delete_requested",
                    at=now,
                    after={"tweet_id": draft.tweet_id},
                )
            self._ctx.hooks.cards_changed()
            return "Deletion requested: another approver (or an admin) must confirm it on the card."
        if self._gateway is None:
            raise ActionRefused("Deleting from X is not configured here.")
        return self._take_down(draft, actor, requested_by=draft.delete_requested_by or user)

    def _take_down(self, draft: Draft, actor: audit.Actor, *, requested_by: str) -> str:
        """Claim the take-down first, so X is called once however many confirm; then call X and
        record what it said."""
        assert self._gateway is not None and draft.id is not None and draft.tweet_id
        deleting = self._settle(
            draft,
            "delete_confirmed",
            actor,
            values={"deleted_by": actor.id, "delete_requested_by": requested_by},
            after={"tweet_id": draft.tweet_id, "requested_by": requested_by},
        )
        if deleting is None:
            return self._delete_outcome(draft.id)
        note = ""
        try:
            self._gateway.delete(draft.account, draft.tweet_id)
        except XNotFound:
            note = " (X no longer had it)"
        except (XRejected, XUnavailable) as exc:
            self._settle(
                deleting,
                "delete_failed",
                actor,
                values={"deleted_by": None},
                after={"tweet_id": draft.tweet_id, "error": str(exc)},
            )
            raise ActionRefused(f"X did not delete it ({exc}). Try again in a moment.") from exc
        self._settle(
            deleting,
            "delete",
            actor,
            values={"deleted_at": self._ctx.clock.now()},
            after={
                "tweet_id": draft.tweet_id,
                "requested_by": requested_by,
                "confirmed_by": actor.id,
                "already_gone": bool(note),
            },
        )
        return f"Deleted from X{note}."

    def _settle(self, draft: Draft, event: str, actor: audit.Actor, **move: Any) -> Draft | None:
        """Move the draft and redraw its card; the draft as moved, or None if it had moved
        meanwhile (the caller says what that means)."""
        with self._ctx.transaction() as session:
            now = self._ctx.clock.now()
            moved = draft_machine.move(session, draft, event, actor=actor, at=now, **move)
            current = session.get(Draft, draft.id) if moved else None
            if current is not None and event == "delete":
                reply_taken_down(session, current, now=now)
        self._ctx.hooks.cards_changed()
        return current

    def _delete_outcome(self, draft_id: int) -> str:
        """What a confirm click that lost the race to another one is told."""
        with self._ctx.transaction(read_only=True) as session:
            now = session.get(Draft, draft_id)
        if now is not None and now.state == DraftState.DELETED:
            return f"Already deleted from X by <@{now.deleted_by}>."
        if now is not None and now.state == DraftState.DELETING:
            return f"<@{now.deleted_by}> is deleting it from X right now."
        raise Conflict(CHANGED)

    def release(self, click: Click) -> str:
        """Post a held draft after all: one a freeze held, or one so late that an approver must
        confirm it is still right. Returns what the person who clicked is told."""
        draft = self._requeue(click, "release", DraftState.HELD)
        if reasons.held_as_stale(state=draft.state, held_reason=draft.held_reason):
            return "Confirmed: it goes to the publish queue now, as it is."
        return "Released: it goes to the publish queue now."

    def retry(self, click: Click) -> str:
        """Try again after X refused the post (e.g. a suspended link was fixed on X's side), or
        after a person checked the account for a post whose outcome X left unclear."""
        self._requeue(click, "retry", DraftState.FAILED, DraftState.NEEDS_CHECK)
        return "Retrying: it goes to the publish queue now; the card shows how it goes."

    def _requeue(self, click: Click, action: str, *from_states: DraftState) -> Draft:
        draft = self._locate(click, action)
        if draft.state not in from_states:
            self._refuse(click, draft, action, f"This draft is {draft.state}.")
        if action == "retry" and reasons.refused_by_reply_rule(
            state=draft.state, last_error=draft.last_error
        ):
            self._refuse(
                click,
                draft,
                action,
                f"X refuses replies to tweets that don't mention @{draft.account}, so retrying "
                "can't help: cancel it and quote the tweet from its card instead.",
            )
        rules = self.rules(draft)
        members = self._members(click, draft, action, rules)
        reason = self._ineligible(click.person.user_id, draft, rules, members)
        if reason:
            self._refuse(click, draft, action, reason)
        now = self._ctx.clock.now()
        with self._moved_by(
            click,
            draft,
            action,
            at=now,
            # An earlier attempt may have reached X: then the publisher searches first —
            # unless a person has just checked the account (needs check).
            to=DraftState.POSTING
            if draft.attempt_at and draft.state != DraftState.NEEDS_CHECK
            else DraftState.APPROVED,
            # A person decided it goes out now: lateness counts from here.
            values={"due_at": now, "held_reason": None, "last_error": None, "wanted_at": now},
        ):
            pass
        self._ctx.hooks.approved()
        return draft

    # -- no dead ends: a post that needs a person, or that is on its way -------------------

    def mark_posted(self, click: Click, *, reference: str) -> str:
        """A person found the post of a "needs a person" draft on X and pasted its URL (or id).
        X is asked for that tweet: it must be by the draft's account, not a different post
        (`policies.tweet_match`), and no other draft's; then it is recorded as posted. Refusals
        raise ActionRefused saying what to do (the modal shows them on the field)."""
        draft = self._locate(click, "mark_posted")
        if draft.state == DraftState.POSTED:  # e.g. the form submitted twice
            return (
                f"Already recorded as posted: https://x.com/{draft.account}/status/{draft.tweet_id}"
            )
        self._check_may_mark_posted(click, draft)
        tweet_id = tweet_id_of(reference)
        if tweet_id is None:
            raise ActionRefused(
                "Paste the tweet's link (https://x.com/…/status/123…) or its numeric id."
            )
        if self._gateway is None:
            raise ActionRefused("Checking tweets on X is not configured here.")
        try:
            tweet = self._gateway.get_tweet(tweet_id)
            account_id = self._gateway.user_id(draft.account)
        except XUnavailable as exc:
            raise ActionRefused(
                f"I couldn't ask X just now ({exc}); try again in a moment."
            ) from exc
        except XRejected as exc:
            raise ActionRefused(f"X refused to show that tweet ({exc}).") from exc
        if tweet is None:
            raise ActionRefused(
                f"X has no tweet {tweet_id} (deleted, or never posted): check the link."
            )
        if tweet.author_id != account_id:
            self._refuse(
                click,
                draft,
                "mark_posted",
                f"That tweet is by @{tweet.author_handle}, not @{draft.account}: paste the link of @{draft.account}'s post.",
            )
        match = post_match(draft, tweet)
        if match == Match.DIFFERENT:
            self._refuse(
                click,
                draft,
                "mark_posted",
                "That tweet is not this draft's post (its text, or the tweet it answers or quotes, differs): paste the link of the matching post, or Retry if it is not on X.",
            )
        now, actor = self._ctx.clock.now(), self._ctx.actor(click.person)
        url = f"https://x.com/{draft.account}/status/{tweet.id}"
        try:
            with self._ctx.transaction() as session:
                owner = session.scalars(
                    select(col(Draft.id)).where(col(Draft.tweet_id) == tweet.id)
                ).first()
                if owner is not None:
                    raise ActionRefused(
                        f"That tweet is already recorded as draft {owner}'s post: two drafts never share a tweet. Paste this draft's own post."
                    )
                moved = draft_machine.move(
                    session,
                    draft,
                    "mark_posted",
                    actor=actor,
                    at=now,
                    values={
                        "tweet_id": tweet.id,
                        "posted_at": tweet.created_at,
                        "last_error": None,
                        "due_at": None,
                        "lease_owner": None,
                        "lease_until": None,
                    },
                    after={
                        "tweet_id": tweet.id,
                        "url": url,
                        "account": draft.account,
                        "match": str(match),
                    },
                )
                if not moved:
                    raise Conflict(CHANGED)
                posted = session.get(Draft, draft.id, populate_existing=True)
                assert posted is not None
                reply_posted(session, posted, now=now)
                recognised(session, str(posted.tweet_id), now=now)  # an alert for it?
        except IntegrityError as exc:  # another draft recorded it meanwhile
            raise ActionRefused(
                "That tweet was just recorded for another draft: two drafts never share a tweet."
            ) from exc
        self._ctx.hooks.cards_changed()
        return f"Marked as posted: <{url}|view on X>."

    def mark_posted_form(self, click: Click) -> Draft:
        """The draft whose Mark-as-posted form opens, if this person may mark it."""
        draft = self._locate(click, "mark_posted")
        self._check_may_mark_posted(click, draft)
        return draft

    def _check_may_mark_posted(self, click: Click, draft: Draft) -> None:
        if draft.state != DraftState.NEEDS_CHECK:
            self._refuse(click, draft, "mark_posted", f"This draft is {draft.state} now.")
        user = click.person.user_id
        rules = self.rules(draft)
        members = self._members(click, draft, "mark_posted", rules, with_admins=True)
        decision = permissions.may_mark_posted(
            user_id=user,
            author_id=draft.author_id,
            is_admin=is_member(user, self._ctx.segments.admins, members),
            is_approver=any(is_member(user, r.approvers, members) for r in rules),
        )
        if not decision.allowed:
            self._refuse(click, draft, "mark_posted", decision.reason)

    def cancel(self, click: Click) -> str:
        """Drop a post that will not go out (X refused it, or a person checked and drops it)."""
        draft = self._locate(click, "cancel")
        if draft.state not in draft_machine.TRANSITIONS["cancel"][0]:
            self._refuse(click, draft, "cancel", f"This draft is {draft.state}.")
        self._require_author_or_approver(click, draft, "cancel", permissions.may_cancel)
        with self._moved_by(
            click,
            draft,
            "cancel",
            values={"due_at": None},
            after={"error": draft.last_error},
        ):
            pass
        return "Cancelled: it will not be posted."

    def check_on_x(self, click: Click) -> str:
        """A post on its way (Posting…) for a while: have the publisher search the account's
        recent tweets now. Never posts from the click: it only makes the draft due, so the
        publisher's own path (search first, exactly once) decides. Not while a worker holds it."""
        draft = self._locate(click, "check_on_x")
        if draft.state != DraftState.POSTING:
            return f"It is {draft.state} now: the card shows the latest."
        now, actor = self._ctx.clock.now(), self._ctx.actor(click.person)
        with self._ctx.transaction() as session:
            changed = session.execute(
                update(Draft)
                .where(
                    col(Draft.id) == draft.id,
                    col(Draft.state) == DraftState.POSTING,
                    or_(col(Draft.lease_until).is_(None), col(Draft.lease_until) < now),
                    # Another worker's request may still be on its way: its wait stands.
                    or_(
                        col(Draft.last_error).is_(None),
                        col(Draft.last_error) != reasons.STRAGGLER,
                    ),
                )
                .values(due_at=now)
                .execution_options(synchronize_session=False)
            )
            checked = rowcount(changed) == 1
            if checked:
                draft_machine.record_change(
                    session, draft, actor=actor, action="draft.check_requested", at=now
                )
        if not checked:
            if draft.last_error == reasons.STRAGGLER and draft.due_at:
                return f"Another attempt may still reach X: I'll search the account's tweets at {slack_date(draft.due_at)}."
            return "I'm checking X for it right now; the card will say what I find."
        self._ctx.hooks.approved()
        return f"Checking @{draft.account}'s recent tweets on X now; the card will say what I find."

    def reject(self, click: Click, *, reason: str) -> None:
        reason = reason.strip()
        if not reason:
            raise ActionRefused("Say why you reject it; the author will read it.")
        draft = self._locate(click, "reject")
        if draft.state not in REJECTABLE:
            self._refuse(click, draft, "reject", f"This draft is already {draft.state}.")
        user = click.person.user_id
        self._require_author_or_approver(click, draft, "reject", permissions.may_reject)
        with self._moved_by(
            click,
            draft,
            "reject",
            values={"rejected_by": user, "reject_reason": reason, "due_at": None},
            after={"reason": reason},
        ) as (session, _, now):
            if user != draft.author_id:
                outbox.enqueue(
                    session,
                    [outbox.NewMessage(AUTHOR_DM, str(draft.id), draft.author_id)],
                    now=now,
                )

    # -- helpers ----------------------------------------------------------------------------

    def _require_author_or_approver(
        self, click: Click, draft: Draft, action: str, policy: Callable[..., Decision]
    ) -> None:
        """Reject and Cancel: the author withdraws without asking Slack anything; anyone else
        must be one of the draft's approvers now."""
        user = click.person.user_id
        if user == draft.author_id:
            return
        rules = self.rules(draft)
        members = self._members(click, draft, action, rules)
        decision = policy(
            user_id=user,
            author_id=draft.author_id,
            is_approver=any(is_member(user, r.approvers, members) for r in rules),
        )
        if not decision.allowed:
            self._refuse(click, draft, action, decision.reason)

    @contextmanager
    def _moved_by(
        self,
        click: Click,
        draft: Draft,
        event: str,
        *,
        at: datetime | None = None,
        **move: Any,
    ) -> Iterator[tuple[Session, audit.Actor, datetime]]:
        """This person's move of the draft, in one transaction with what the caller adds to it
        (the session, who they are, when); refused if someone moved the draft first."""
        now, actor = at or self._ctx.clock.now(), self._ctx.actor(click.person)
        with self._ctx.transaction() as session:
            if not draft_machine.move(session, draft, event, actor=actor, at=now, **move):
                raise Conflict(CHANGED)
            yield session, actor, now
        self._ctx.hooks.cards_changed()

    def _members(
        self,
        click: Click,
        draft: Draft,
        action: str,
        rules: list[ApprovalRule],
        *,
        with_admins: bool = False,
    ) -> dict[str, frozenset[str]]:
        """The facts a permission needs, from Slack; if Slack can't say, refuse (fail closed)."""
        admins = set(self._ctx.segments.admins) if with_admins else set()
        return self._checkpoint(click, draft, action).members(principals_of(rules) | admins)

    def _ineligible(
        self,
        user_id: str,
        draft: Draft,
        rules: list[ApprovalRule],
        members: dict[str, frozenset[str]],
        *,
        text_hash: str | None = None,
    ) -> str | None:
        """Why this person may not approve (or release, or retry) the draft, if they may not."""
        with self._ctx.transaction(read_only=True) as session:
            editors = editors_of(session, draft, text_hash or draft.text_hash)
        decision = approval_decision(user_id, draft, rules, members, editors)
        return None if decision.allowed else decision.reason

    def _progress(
        self,
        session: Session,
        draft: Draft,
        rules: list[ApprovalRule],
        members: dict[str, frozenset[str]],
        *,
        text_hash: str | None = None,
    ) -> list[RuleProgress]:
        approvals, editors = approval_facts(session, draft, text_hash)
        return approval_progress(
            rules, approvals=approvals, author=draft.author_id, editors=editors, members=members
        )

    def _queue(self, session: Session, draft: Draft, now: datetime, text: str) -> bool:
        """The approved text becomes the draft's text; the other candidates are discarded."""
        return draft_machine.move(
            session,
            draft,
            "approved",
            actor=audit.SYSTEM,
            at=now,
            values={
                "text": text,
                "text_hash": text_fingerprint(text),
                "candidates": None,
                "due_at": draft.schedule_at or now,
                "wanted_at": draft.schedule_at or now,  # later than this + stale: confirm first
            },
            after={
                "text": text,
                "discarded": [t for t in candidate_texts(draft) if t != text],
                "due_at": iso(draft.schedule_at or now),
            },
        )

    def _locate(self, click: Click, action: str) -> Draft:
        with self._ctx.transaction(read_only=True) as session:
            card = self._ctx.card_at(session, APPROVAL_CARD, click)
            draft = session.get(Draft, int(card.subject_id)) if card else None
        if card is None or draft is None:
            self._refuse(click, None, action, "That card isn't one of my drafts.")
        assert draft is not None
        claimed_id = (click.value or "").partition(":")[0]
        if claimed_id and claimed_id != str(draft.id):
            self._refuse(
                click, draft, action, "That button doesn't match its card; nothing was changed."
            )
        return draft

    def _checkpoint(self, click: Click, draft: Draft | None, action: str) -> Checkpoint:
        subject = f"draft:{draft.id if draft else 'unknown'}"
        return Checkpoint(self._ctx, click.person, click.channel, "draft", subject, action)

    def _refuse(self, click: Click, draft: Draft | None, action: str, reason: str) -> NoReturn:
        self._checkpoint(click, draft, action).refuse(reason)


def _locked(session: Session, draft: Draft) -> Draft:
    """The draft's row, locked until commit on PostgreSQL (SQLite's writer lock already is)."""
    return session.scalars(select(Draft).where(col(Draft.id) == draft.id).with_for_update()).one()
