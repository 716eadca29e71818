"""Admins change segments from Slack: each change is checked by the admin rule, validated by
app.yaml's own checks on the whole configuration it would make, stored as an override (winning
over app.yaml until reset), audited with before and after, and announced in the segment's
channel — in one transaction, guarded by the configuration's revision so that two admins
changing things at once cannot combine into a configuration nobody validated.

The Slack layer parses what was typed (policies/slack_text.py) and renders the outcome; every
decision is made here, from the server's own records."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from slack_sdk import WebClient
from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from bot.core import audit, outbox
from bot.core.context import OnContext, ServiceContext
from bot.core.db import rowcount, transaction
from bot.core.errors import ActionRefused, ConfigRefused, Conflict
from bot.core.guard import Checkpoint
from bot.core.models import Announcement, ConfigOverride, ConfigRevision, Mention, MentionState
from bot.slack.cards.mention_card import escape, principal_mention, segment_label
from bot.slack.cards.steering import describe_rule
from bot.slack.clicks import Person
from bot.slack.directory import ChannelUnusable, DirectoryUnavailable, ready_to_post
from bot.x.budget import month_spend
from policies.approvals import approvals_reachable
from policies.config import BrandConfig, SavedReply
from policies.config.checks import unknown_segment
from policies.config.overrides import (
    ROUTING_SCOPE,
    ConfigRejected,
    Override,
    apply,
    validate,
)
from policies.config.schema import follow_value
from policies.permissions import may_administer
from policies.x_budget import MonthSpend

ANNOUNCEMENT = "announcement"  # the outbox kind of a note posted once in a channel
RESET_ALL = "all"
WHOLE_CONFIG = "_config"  # what a refusal names when the attempt named no one segment


@dataclass(frozen=True)
class SegmentRow:
    """One line of `/brand segments`: the effective values, and which come from an override."""

    name: str
    channel: str
    approvers: list[str]
    approvals_required: int
    first_response_minutes: int
    accounts: list[str]
    follow: dict[str, list[str]]
    follows_mentions: bool
    open: int
    claimed: int
    overridden: dict[str, str]  # key -> "set by <name> at <when>"


@dataclass(frozen=True)
class Changed:
    """What a change did, for the person who made it."""

    summary: str
    warning: str = ""

    def __str__(self) -> str:
        return self.summary + (f"\n:warning: {self.warning}" if self.warning else "")


class SteeringService(OnContext):
    def __init__(self, ctx: ServiceContext, *, client: WebClient) -> None:
        self.ctx = ctx
        self._client = client
        self._segments = ctx.segments

    # -- reading --------------------------------------------------------------------------

    def is_admin(self, person: Person) -> bool:
        """For showing admin controls only; every change checks again."""
        return self._checkpoint(person, "view", "-", WHOLE_CONFIG).is_admin()

    def segment_rows(self, person: Person, *, where: str) -> list[SegmentRow]:
        self.require_admin(person, "segments", where=where, scope=WHOLE_CONFIG)
        config = self._segments.config
        counts = self._mention_counts()
        rows = []
        for name, segment in config.segments.items():
            overridden = {
                s.override.key: f"set by {s.set_by_name} at {s.set_at}"
                for s in self._segments.overrides(name)
            }
            rows.append(
                SegmentRow(
                    name=name,
                    channel=segment.channel,
                    approvers=list(segment.approvers),
                    approvals_required=segment.approvals_required or 1,
                    first_response_minutes=segment.first_response_minutes,
                    accounts=[a.handle for a in config.accounts_for(name)],
                    follow={
                        "keywords": list(segment.follow.keywords),
                        "hashtags": list(segment.follow.hashtags),
                        "authors": list(segment.follow.authors),
                    },
                    follows_mentions=segment.follow.mentions,
                    open=counts.get((name, MentionState.OPEN), 0),
                    claimed=counts.get((name, MentionState.CLAIMED), 0),
                    overridden=overridden,
                )
            )
        return rows

    def x_reads_this_month(self, person: Person, *, where: str) -> MonthSpend:
        """This UTC month's X reads and estimated spend against `x_budget` (admins, as the
        segments table they are shown with)."""
        self.require_admin(person, "segments", where=where, scope=WHOLE_CONFIG)
        with transaction(self.engine, read_only=True) as session:
            return month_spend(session, self._segments.config, self.clock.now())

    def routing_rules(self, person: Person, *, where: str) -> tuple[list[dict[str, Any]], str]:
        """The ordered rules (as app.yaml writes them) and the default segment."""
        self.require_admin(person, "route list", where=where, scope=ROUTING_SCOPE)
        config = self._segments.config
        return _rules_of(config), config.routing.default_segment

    def segment_name(self, typed: str) -> str:
        """The segment a person meant: its name in any case, spaces or dashes for _."""
        names = self._segments.names()
        wanted = typed.strip().lower().replace(" ", "_").replace("-", "_")
        if wanted in names:
            return wanted
        raise ActionRefused(unknown_segment(typed, names).capitalize() + ".")

    # -- changing a segment -----------------------------------------------------------------

    def set_channel(self, person: Person, segment: str, channel: str, *, where: str) -> Changed:
        seen = self.require_admin(person, "channel", where=where, scope=segment)
        old = self._segments.config.segments[segment].channel
        if channel == old:
            raise ConfigRefused({"channel": f"{segment_label(segment)} already uses <#{channel}>."})
        self._ready(channel, "channel")
        who, title = f"<@{person.user_id}>", segment_label(segment)
        notes = [
            (
                channel,
                f"{who} moved {title} here from <#{old}>: its new mention cards and drafts "
                "come here from now on.",
            ),
            _moved_away(who, title, old, channel),
        ]
        return self._change(
            seen,
            person,
            where,
            segment,
            {"channel": channel},
            notes,
            summary=f"{title} now posts in <#{channel}> (was <#{old}>). The next card goes there; "
            "cards already posted stay where they are and keep working.",
        )

    def set_approvers(
        self, person: Person, segment: str, approvers: Sequence[str], *, where: str
    ) -> Changed:
        seen = self.require_admin(person, "approvers", where=where, scope=segment)
        current = self._segments.config.segments[segment]
        required = current.approvals_required or 1
        reach = self._reachable(segment, approvers, required, field="approvers")
        title, shown = segment_label(segment), _principals(approvers)
        note = (
            f"<@{person.user_id}> set who approves {title}'s drafts: {shown} "
            f"(was {_principals(current.approvers) or 'nobody'})."
        )
        return self._change(
            seen,
            person,
            where,
            segment,
            {"approvers": list(approvers)},
            [(current.channel, note)],
            summary=f"{title}'s approvers are now {shown}; approvals by anyone else no longer "
            "count, including on drafts already waiting.",
            warning=reach,
        )

    def set_approvals(self, person: Person, segment: str, required: int, *, where: str) -> Changed:
        seen = self.require_admin(person, "approvals", where=where, scope=segment)
        current = self._segments.config.segments[segment]
        old = current.approvals_required or 1
        if required < 1:
            raise ConfigRefused(
                {
                    "approvals_required": "A draft needs at least 1 approval: nobody posts as the "
                    "brand alone."
                }
            )
        reach = self._reachable(segment, current.approvers, required, field="approvals_required")
        title = segment_label(segment)
        lowered = required < old
        note = (
            (":warning: " if lowered else "")
            + f"<@{person.user_id}> {'lowered' if lowered else 'set'} the approvals {title}'s "
            f"drafts need to {required} (was {old})."
        )
        return self._change(
            seen,
            person,
            where,
            segment,
            {"approvals_required": required},
            [(current.channel, note)],
            summary=f"{title}'s drafts now need {required} approval(s) (was {old}).",
            warning=reach,
        )

    def set_response_target(
        self, person: Person, segment: str, minutes: int, *, where: str
    ) -> Changed:
        seen = self.require_admin(person, "sla", where=where, scope=segment)
        current = self._segments.config.segments[segment]
        title = segment_label(segment)
        note = (
            f"<@{person.user_id}> set {title}'s first-response target to {minutes} minutes "
            f"(was {current.first_response_minutes})."
        )
        return self._change(
            seen,
            person,
            where,
            segment,
            {"first_response_minutes": minutes},
            [(current.channel, note)],
            summary=f"{title} now aims to answer within {minutes} minutes "
            f"(was {current.first_response_minutes}); new cards show it.",
        )

    def set_accounts(
        self, person: Person, segment: str, handles: Sequence[str], *, where: str
    ) -> Changed:
        seen = self.require_admin(person, "accounts", where=where, scope=segment)
        config = self._segments.config
        was = ", ".join(f"@{a.handle}" for a in config.accounts_for(segment)) or "none"
        shown = ", ".join(f"@{h.removeprefix('@')}" for h in handles)
        title = segment_label(segment)
        note = f"<@{person.user_id}> set the accounts {title} may post as: {shown} (was {was})."
        return self._change(
            seen,
            person,
            where,
            segment,
            {"accounts": list(handles)},
            [(config.segments[segment].channel, note)],
            summary=f"{title} may now post as {shown} (was {was}).",
            knock_on=_accounts_lost,
        )

    def follow(
        self, person: Person, segment: str, *, add: bool, kind: str, value: str, where: str
    ) -> Changed:
        """Add or remove one keyword, hashtag or author a segment follows on X."""
        seen = self.require_admin(person, "follow", where=where, scope=segment)
        key = f"follow.{kind}"
        current = self._segments.config.segments[segment]
        values: list[str] = list(getattr(current.follow, kind))
        normal = follow_value(kind, value)
        folded = [v.casefold() for v in values]  # X matches keywords in any case
        title, what = segment_label(segment), f"{kind[:-1]} {value.strip()!r}"
        if add and normal.casefold() in folded:
            raise ConfigRefused({key: f"{title} already follows the {what}."})
        if not add and normal.casefold() not in folded:
            listed = ", ".join(values) or "none"
            raise ConfigRefused({key: f"{title} does not follow the {what}; its {kind}: {listed}."})
        new = (
            [*values, value.strip()]
            if add
            else [v for v in values if v.casefold() != normal.casefold()]
        )
        verb = "now follows" if add else "no longer follows"
        note = f"<@{person.user_id}>: {title} {verb} the {what} on X."
        return self._change(
            seen,
            person,
            where,
            segment,
            {key: new},
            [(current.channel, note)],
            summary=f"{title} {verb} the {what}. New matching tweets land here from the next poll.",
        )

    def saved_replies(self, person: Person, segment: str, *, where: str) -> list[SavedReply]:
        """A segment's saved replies as they are in force (admins: they are the ones to edit)."""
        self.require_admin(person, "replies", where=where, scope=segment)
        return list(self._segments.config.segments[segment].saved_replies)

    def add_saved_reply(
        self, person: Person, segment: str, name: str, text: str, *, where: str
    ) -> Changed:
        """Add a saved reply, or replace the one of that name; validated like app.yaml's."""
        seen = self.require_admin(person, "replies", where=where, scope=segment)
        current = self._segments.config.segments[segment]
        replies = [r.model_dump() for r in current.saved_replies]
        replaced = any(r["name"] == name for r in replies)
        replies = [r for r in replies if r["name"] != name] + [{"name": name, "text": text}]
        title, verb = segment_label(segment), "replaced" if replaced else "added"
        shown = escape(name)  # an admin's free text: shown as typed, never a ping
        note = f"<@{person.user_id}> {verb} the saved reply “{shown}” of {title}."
        return self._change(
            seen,
            person,
            where,
            segment,
            {"saved_replies": replies},
            [(current.channel, note)],
            summary=f"Saved reply “{shown}” {verb}: the reply form of {title} offers it now.",
        )

    def remove_saved_reply(self, person: Person, segment: str, name: str, *, where: str) -> Changed:
        seen = self.require_admin(person, "replies", where=where, scope=segment)
        current = self._segments.config.segments[segment]
        names = [r.name for r in current.saved_replies]
        title, shown = segment_label(segment), escape(name)
        if name not in names:
            listed = ", ".join(f"“{escape(n)}”" for n in names) or "none"
            raise ConfigRefused(
                {
                    "saved_replies": f"{title} has no saved reply “{shown}”; its saved replies: {listed}."
                }
            )
        replies = [r.model_dump() for r in current.saved_replies if r.name != name]
        note = f"<@{person.user_id}> removed the saved reply “{shown}” of {title}."
        return self._change(
            seen,
            person,
            where,
            segment,
            {"saved_replies": replies},
            [(current.channel, note)],
            summary=f"Saved reply “{shown}” removed from {title}.",
        )

    def set_tags(self, person: Person, segment: str, tags: Sequence[str], *, where: str) -> Changed:
        """The tags a segment's mention cards offer (tags already on mentions stay on them)."""
        seen = self.require_admin(person, "tags", where=where, scope=segment)
        current = self._segments.config.segments[segment]
        title = segment_label(segment)
        shown = ", ".join(tags) or "none"
        note = f"<@{person.user_id}> set {title}'s tags: {shown} (was {', '.join(current.tags) or 'none'})."
        return self._change(
            seen,
            person,
            where,
            segment,
            {"tags": list(tags)},
            [(current.channel, note)],
            summary=f"{title}'s mention cards now offer the tags: {shown}.",
        )

    def update_segment(
        self,
        person: Person,
        segment: str,
        changes: Mapping[str, Any],
        *,
        channel: str = "app_home",
        opened_at: int | None = None,
    ) -> str:
        """Several values of one segment at once (the App Home's Edit form): all or nothing,
        each problem named by its field for the form to show inline. `opened_at`: the revision
        the form showed; if the configuration moved since, the save is refused rather than
        silently putting back what another admin just changed."""
        seen = self.require_admin(person, "edit", where=channel, scope=segment)
        if opened_at is not None and opened_at != seen:
            raise Conflict(
                "Another admin changed the configuration since you opened this form: close it "
                "and press Edit again to see the values as they are now."
            )
        current = self._segments.config.segments[segment]
        changed = {k: v for k, v in changes.items() if _current(current, k) != _normal_value(k, v)}
        if not changed:
            return f"Nothing to change in {segment_label(segment)}."
        if "channel" in changed:
            self._ready(str(changed["channel"]), "channel")
        required = int(changed.get("approvals_required", current.approvals_required or 1))
        approvers = list(changed.get("approvers", current.approvers))
        warning = ""
        if {"approvers", "approvals_required", "accounts"} & set(changed):
            field = "approvals_required" if "approvals_required" in changed else "approvers"
            accounts = changed.get("accounts")
            warning = self._reachable(segment, approvers, required, field=field, accounts=accounts)
        title, who = segment_label(segment), f"<@{person.user_id}>"
        names = ", ".join(_FIELD_WORDS.get(k, k) for k in changed)
        lowered = required < (current.approvals_required or 1)
        values = "; ".join(
            f"{_FIELD_WORDS.get(k, k)} {_shown(k, _current(current, k))} → "
            f"{_shown(k, _normal_value(k, v))}"
            for k, v in changed.items()
        )
        mark = ":warning: " if lowered else ""  # fewer approvals: everyone should notice
        notes = [(current.channel, f"{mark}{who} changed {title}: {values}.")]
        if "channel" in changed:
            notes = [
                (
                    str(changed["channel"]),
                    f"{mark}{who} moved {title} here from <#{current.channel}>: {values}.",
                ),
                _moved_away(who, title, current.channel, str(changed["channel"])),
            ]
        result = self._change(
            seen,
            person,
            channel,
            segment,
            dict(changed),
            notes,
            summary=f"Saved {title}: {names}.",
            warning=warning,
            knock_on=_accounts_lost if "accounts" in changed else None,
        )
        return str(result)

    # -- routing rules ----------------------------------------------------------------------

    def add_route(self, person: Person, rule: Mapping[str, Any], *, where: str) -> Changed:
        """Append a rule (`move_route` puts it elsewhere)."""
        seen = self.require_admin(person, "route add", where=where, scope=ROUTING_SCOPE)
        rules = [*_rules_of(self._segments.config), dict(rule)]
        return self._change_routes(
            seen,
            person,
            where,
            rules,
            note_segment=str(rule.get("segment")),
            summary=f"Added routing rule {len(rules)}: {describe_rule(rule)}.",
        )

    def move_route(self, person: Person, frm: int, to: int, *, where: str) -> Changed:
        seen = self.require_admin(person, "route move", where=where, scope=ROUTING_SCOPE)
        rules = _rules_of(self._segments.config)
        self._check_position(frm, rules)
        self._check_position(to, rules)
        rule = rules.pop(frm - 1)
        rules.insert(to - 1, rule)
        return self._change_routes(
            seen,
            person,
            where,
            rules,
            note_segment=str(rule["segment"]),
            summary=f"Moved routing rule {frm} to {to}: {describe_rule(rule)}. First match wins.",
        )

    def remove_route(self, person: Person, number: int, *, where: str) -> Changed:
        seen = self.require_admin(person, "route remove", where=where, scope=ROUTING_SCOPE)
        rules = _rules_of(self._segments.config)
        self._check_position(number, rules)
        rule = rules.pop(number - 1)
        return self._change_routes(
            seen,
            person,
            where,
            rules,
            note_segment=str(rule["segment"]),
            summary=f"Removed routing rule {number}: {describe_rule(rule)}.",
        )

    # -- reset --------------------------------------------------------------------------------

    def reset(self, person: Person, scope: str, *, where: str) -> Changed:
        """Drop one segment's overrides (or the routing rules', or with RESET_ALL every one)."""
        seen = self.require_admin(person, "reset", where=where, scope=scope)
        # Left-out ones too: an override app.yaml no longer allows would come back unannounced
        # the day app.yaml allows it again.
        stored = self._segments.overrides(None if scope == RESET_ALL else scope, left_out_too=True)
        if not stored:
            what = "Nothing" if scope == RESET_ALL else f"{segment_label(scope)} has nothing"
            raise ActionRefused(f"{what} to reset: it follows app.yaml already.")
        keys = sorted({(s.override.scope, s.override.key) for s in stored})
        before = {f"{s.override.scope}.{s.override.key}": s.override.value for s in stored}
        config = self._segments.config
        scopes = sorted({s for s, _ in keys})
        notes = [
            (
                config.segments[s].channel,
                f"<@{person.user_id}> reset {segment_label(s)} to app.yaml: "
                + ", ".join(_FIELD_WORDS.get(k, k) for sc, k in keys if sc == s)
                + ".",
            )
            for s in scopes
            if s in config.segments
        ]
        now, actor = self.clock.now(), self.ctx.actor(person)
        with self.ctx.transaction() as session:
            revision = self._bump(session, seen=seen)
            session.execute(delete(ConfigOverride).where(col(ConfigOverride.scope).in_(scopes)))
            for s in scopes:
                audit.record(
                    session,
                    actor=actor,
                    action="config.reset",
                    subject=_subject(s),
                    at=now,
                    before={k: v for k, v in before.items() if k.startswith(f"{s}.")},
                    after={"revision": revision, "source": "app.yaml", "typed_in": where},
                )
            self._announce(session, notes, now)
        self._settled()
        label = (
            "every segment and the routing rules" if scope == RESET_ALL else segment_label(scope)
        )
        return Changed(f"Reset {label} to app.yaml ({len(keys)} value(s)).")

    # -- the one path every change takes --------------------------------------------------------

    def _change(
        self,
        seen: int,
        person: Person,
        where: str,
        scope: str,
        changes: Mapping[str, Any],
        notes: Sequence[tuple[str, str]],
        *,
        summary: str,
        warning: str = "",
        knock_on: Callable[[BrandConfig, BrandConfig], str] | None = None,
    ) -> Changed:
        base = self._segments.base.model_dump(mode="json")
        mine = {(scope, key) for key in changes}
        kept = [
            s.override
            for s in self._segments.overrides()
            if (s.override.scope, s.override.key) not in mine
        ]
        new = [Override(scope, key, value) for key, value in changes.items()]
        try:
            candidate = validate(apply(base, [*kept, *new]))
        except ConfigRejected as rejected:
            problems: dict[str, str] = {}
            for key, message in rejected.problems:
                field = _field_of(key, scope)
                problems[field] = f"{problems[field]} {message}" if field in problems else message
            raise ConfigRefused(problems) from None
        if knock_on is not None:
            warning = " ".join(
                w for w in (warning, knock_on(self._segments.config, candidate)) if w
            )
        before = {key: _current_in(self._segments.config, scope, key) for key in changes}
        after = {key: _current_in(candidate, scope, key) for key in changes}
        from_file = {key: _current_in(self._segments.base, scope, key) for key in changes}
        now, actor = self.clock.now(), self.ctx.actor(person)
        with self.ctx.transaction() as session:
            revision = self._bump(session, seen=seen)
            for key, value in after.items():
                self._store(
                    session, scope, key, value, actor, now, same_as_file=value == from_file[key]
                )
            audit.record(
                session,
                actor=actor,
                action="config.changed",
                subject=_subject(scope),
                at=now,
                before=before,
                after={**after, "revision": revision, "typed_in": where},
            )
            self._announce(session, notes, now)
        self._settled()
        return Changed(summary, warning)

    def _change_routes(
        self,
        seen: int,
        person: Person,
        where: str,
        rules: list[dict[str, Any]],
        *,
        note_segment: str,
        summary: str,
    ) -> Changed:
        config = self._segments.config
        channel = config.segments[note_segment].channel if note_segment in config.segments else None
        note = f"<@{person.user_id}>: {summary}"
        return self._change(
            seen,
            person,
            where,
            ROUTING_SCOPE,
            {"rules": rules},
            [(channel, note)] if channel else [],
            summary=summary,
        )

    def _store(
        self,
        session: Session,
        scope: str,
        key: str,
        value: Any,
        actor: audit.Actor,
        now: Any,
        *,
        same_as_file: bool,
    ) -> None:
        session.execute(
            delete(ConfigOverride).where(
                col(ConfigOverride.scope) == scope, col(ConfigOverride.key) == key
            )
        )
        if same_as_file:  # back to what app.yaml says: no override left to show
            return
        session.add(
            ConfigOverride(
                scope=scope,
                key=key,
                value=json.dumps(value),
                set_by=actor.id,
                set_by_name=actor.name,
                set_at=now,
            )
        )

    def _bump(self, session: Session, *, seen: int) -> int:
        """Move the revision on, only from the one this change was validated against."""
        current = session.scalar(
            select(col(ConfigRevision.revision))
            .where(col(ConfigRevision.id) == 1)
            .with_for_update()
        )
        if current is None:  # a database built from the models rather than the migrations
            session.add(ConfigRevision(id=1, revision=0))
            session.flush()
            current = 0
        moved = session.execute(
            update(ConfigRevision)
            .where(col(ConfigRevision.id) == 1, col(ConfigRevision.revision) == current)
            .values(revision=current + 1)
        )
        if current != seen or rowcount(moved) == 0:
            raise Conflict(
                "Another admin changed the configuration just now: look again and retry."
            )
        return current + 1

    def _announce(self, session: Session, notes: Sequence[tuple[str, str]], now: Any) -> None:
        messages = []
        for channel, text in notes:
            row = Announcement(text=text, created_at=now)
            session.add(row)
            session.flush()
            messages.append(outbox.NewMessage(ANNOUNCEMENT, str(row.id), channel))
        outbox.enqueue(session, messages, now=now)

    def _settled(self) -> None:
        self._segments.refresh(force=True)
        self.ctx.hooks.cards_changed()

    # -- checks -------------------------------------------------------------------------------

    def _checkpoint(self, person: Person, attempted: str, where: str, scope: str) -> Checkpoint:
        return Checkpoint(self.ctx, person, where, "config", _subject(scope), attempted)

    def require_admin(self, person: Person, attempted: str, *, where: str, scope: str) -> int:
        """Refuse (and audit) anyone but an admin — before reading what they typed, too.
        `scope` is the segment it is about, ROUTING_SCOPE, or WHOLE_CONFIG. Returns the
        revision every check that follows decides on (a change is written only if the
        configuration is still at it)."""
        checkpoint = self._checkpoint(person, attempted, where, scope)
        checkpoint.require(may_administer(is_admin=checkpoint.is_admin()))
        self._segments.refresh()  # decide on the configuration as it is in the database now
        return self._segments.revision

    def _ready(self, channel: str, field: str) -> None:
        try:
            ready_to_post(self._client, channel)
        except ChannelUnusable as unusable:
            raise ConfigRefused({field: str(unusable)}) from None

    def _reachable(
        self,
        segment: str,
        approvers: Sequence[str],
        required: int,
        *,
        field: str,
        accounts: Sequence[str] | None = None,
    ) -> str:
        """Refuse approvals that could never be given; the warning for exactly enough. What a
        draft needs is the segment's number or, if higher, the floor (`min_approvals`) of an
        account it may post as (`accounts`: the segment's new list, if it changes)."""
        config = self._segments.config
        may_post_as = (
            [config.account(h) for h in accounts if _has_account(config, h)]
            if accounts
            else config.accounts_for(segment)
        )
        floor = max((a.min_approvals for a in may_post_as), default=1)
        if floor > required:
            required = floor
        try:
            members = self.ctx.directory.members(approvers)
        except DirectoryUnavailable as exc:
            raise ConfigRefused(
                {
                    "approvers": f"I could not ask Slack who is in those groups ({exc}); "
                    "nothing changed."
                }
            ) from None
        people: set[str] = set().union(*members.values())
        reach = approvals_reachable(required=required, approvers=len(people))
        if reach.refusal:
            raise ConfigRefused(
                {
                    field: f"{segment_label(segment)} cannot need {required} approval(s): "
                    f"{reach.refusal}."
                }
            )
        return reach.warning

    @staticmethod
    def _check_position(number: int, rules: Sequence[object]) -> None:
        if not 1 <= number <= len(rules):
            if not rules:
                raise ConfigRefused(
                    {
                        "rules": "There are no routing rules: every mention goes to the default segment."
                    }
                )
            raise ConfigRefused(
                {
                    "rules": f"There are {len(rules)} routing rules: pick a number from 1 to "
                    f"{len(rules)} (see `/brand route list`)."
                }
            )

    def _mention_counts(self) -> dict[tuple[str, str], int]:
        with self.ctx.transaction() as session:
            rows = session.execute(
                select(col(Mention.segment), col(Mention.state), func.count())
                .where(col(Mention.state).in_([MentionState.OPEN, MentionState.CLAIMED]))
                .group_by(col(Mention.segment), col(Mention.state))
            ).all()
        return {(segment, state): int(n) for segment, state, n in rows}


_FIELD_WORDS = {
    "channel": "channel",
    "approvers": "approvers",
    "approvals_required": "approvals",
    "first_response_minutes": "response target",
    "accounts": "posting accounts",
    "follow.keywords": "keywords",
    "follow.hashtags": "hashtags",
    "follow.authors": "authors",
    "tags": "tags",
    "saved_replies": "saved replies",
    "rules": "routing rules",
}


def _moved_away(who: str, title: str, old: str, new: str) -> tuple[str, str]:
    """The announcement in the channel a segment leaves."""
    return (
        old,
        f"{who} moved {title} to <#{new}>: its new cards go there; the cards already here "
        "stay and keep working.",
    )


def _has_account(config: BrandConfig, handle: str) -> bool:
    try:
        config.account(handle)
    except KeyError:
        return False  # the validation names it
    return True


def _shown(key: str, value: Any) -> str:
    """A setting's value in an announcement, as Slack should render it."""
    if key == "approvers":
        return _principals(value) or "nobody"
    if key == "channel":
        return f"<#{value}>"
    if key == "accounts":
        return (
            "every account no segment guards"
            if value is None
            else (", ".join(f"@{str(h).removeprefix('@')}" for h in value) or "none")
        )
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _accounts_lost(before: BrandConfig, after: BrandConfig) -> str:
    """Listing an account guards it: the segments that list none lose it. Say which."""
    lost = []
    for name in after.segments:
        gone = {a.handle for a in before.accounts_for(name)} - {
            a.handle for a in after.accounts_for(name)
        }
        if gone and after.segments[name].accounts is None:
            lost.append(f"{segment_label(name)} ({', '.join('@' + h for h in sorted(gone))})")
    if not lost:
        return ""
    return (
        "Listing an account guards it, so segments that list none can no longer post as it: "
        + "; ".join(lost)
        + "."
    )


def _subject(scope: str) -> str:
    if scope == WHOLE_CONFIG:
        return "config"
    return "config:routing" if scope == ROUTING_SCOPE else f"segment:{scope}"


def _field_of(key: str, scope: str) -> str:
    """`segments.care.follow.keywords[2]` → `follow.keywords`; routing problems → `rules`."""
    if key.startswith("routing."):
        return "rules"
    prefix = f"segments.{scope}"
    rest = key.removeprefix(prefix).lstrip(".")
    rest = rest.split("[", 1)[0]
    return rest or "approvals_required"  # a whole-segment problem is the approvals check


def _current_in(config: BrandConfig, scope: str, key: str) -> Any:
    if scope == ROUTING_SCOPE:
        return _rules_of(config)
    return _current(config.segments[scope], key)


def _rules_of(config: BrandConfig) -> list[dict[str, Any]]:
    """The routing rules as app.yaml writes them (what an override of them stores)."""
    return [r.model_dump(mode="json", exclude_defaults=True) for r in config.routing.rules]


def _current(segment: Any, key: str) -> Any:
    value = segment
    for part in key.split("."):
        value = getattr(value, part)
    if isinstance(value, list | tuple):  # saved replies are models: stored as app.yaml has them
        return [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
    return value


def _normal_value(key: str, value: Any) -> Any:
    if key.startswith("follow.") and isinstance(value, list):
        return [follow_value(key.removeprefix("follow."), str(v)) for v in value]
    if key == "accounts" and isinstance(value, list):
        return [str(v).strip().removeprefix("@").lower() for v in value]
    return value


def _principals(ids: Sequence[str]) -> str:
    return ", ".join(map(principal_mention, ids))
