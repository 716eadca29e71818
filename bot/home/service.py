"""What a person does from their App Home: every action goes through the service and the checks
its card or command uses, never through a shortcut of its own.

A click in the Home tab comes with no channel and no message: the draft's approval card is
found in our own records from the draft id the button carries (the text hash is only passed on,
for DraftService to cross-check), and the click is then the very `Click` that card would have
sent. There is no channel to answer in either, so the outcome, or the refusal, is shown at the
top of the person's home, published at once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NoReturn

from slack_sdk import WebClient

from bot.core.context import ServiceContext
from bot.core.errors import ActionRefused, ConfigRefused
from bot.core.guard import Checkpoint
from bot.core.models import Draft, SlackMessage
from bot.drafts.service import DraftService
from bot.home.tabs import HomeTabs
from bot.slack.cards.draft_modals import DraftContext
from bot.slack.cards.mention_card import segment_label
from bot.slack.cards.segment_modal import SegmentEdit, SegmentForm, split_list
from bot.slack.clicks import Click, Person
from bot.steering.service import SteeringService

WHERE = "app_home"  # what audit entries of actions taken here name as their channel
NOT_MINE = "That button isn't one of mine; nothing was changed."


class HomeService:
    def __init__(
        self,
        ctx: ServiceContext,
        *,
        drafts: DraftService,
        steering: SteeringService,
        tabs: HomeTabs,
        client: WebClient,
    ) -> None:
        self._ctx = ctx
        self._drafts = drafts
        self._steering = steering
        self._client = client
        self.tabs = tabs

    # -- the tab itself ---------------------------------------------------------------------

    def opened(self, person: Person, *, shown: bool = True) -> None:
        """They opened their Home tab: publish it now and keep it current from now on.
        `shown`: Slack already shows them a view of ours (else it is sent even if unchanged)."""
        self.tabs.opened(person.user_id, republish=not shown)
        self.tabs.publish_now(person.user_id)

    def tell(self, person: Person, text: str) -> None:
        """Show the outcome of what they did here on top of their home, now."""
        self.tabs.notify(person.user_id, text)
        self.tabs.publish_now(person.user_id)

    # -- drafts -----------------------------------------------------------------------------

    def approve(self, person: Person, value: str | None) -> str:
        """Approve from the home: DraftService.approve on the draft's own card."""
        return self._drafts.approve(self._on_card(person, value, "approve"))

    def reject_form(self, person: Person, value: str | None) -> DraftContext:
        """Where the reject form opened from the home acts: the draft's own card, as if its
        Reject had been pressed (DraftService.reject checks everything on submit)."""
        click = self._on_card(person, value, "reject")
        return DraftContext(channel=click.channel, card_ts=click.message_ts, value=click.value)

    def _on_card(self, person: Person, value: str | None, action: str) -> Click:
        draft_id = (value or "").partition(":")[0]
        if not re.fullmatch(r"[0-9]{1,18}", draft_id):  # ASCII digits: "²".isdigit() is true
            self._refuse(person, "draft:unknown", action, NOT_MINE)
        with self._ctx.transaction(read_only=True) as session:
            draft = session.get(Draft, int(draft_id))
            card = session.get(SlackMessage, draft.card_id) if draft and draft.card_id else None
        if draft is None:
            self._refuse(person, f"draft:{draft_id}", action, "That draft no longer exists.")
        if card is None or card.ts is None:
            raise ActionRefused("Its approval card isn't in Slack yet; try again in a moment.")
        return Click(person, card.channel, card.ts, value=value, action_id=action)

    # -- segments (admins) ------------------------------------------------------------------

    def edit_form(self, person: Person, segment: str) -> SegmentForm:
        """A segment's values now (app.yaml and overrides), for an admin to edit; anyone else
        is refused, and the refusal audited."""
        self._known(segment)
        revision = self._steering.require_admin(person, "edit", where=WHERE, scope=segment)
        config = self._ctx.segments.config
        current = config.segments[segment]
        users = [p for p in current.approvers if not p.startswith("S")]
        groups = [p for p in current.approvers if p.startswith("S")]
        listed, note = self._groups()
        known = {g for g, _ in listed}
        return SegmentForm(
            segment=segment,
            channel=current.channel,
            approver_users=users,
            approver_groups=groups,
            groups=[*((g, g) for g in groups if g not in known), *listed] if listed else [],
            approvals_required=int(current.approvals_required or 1),
            first_response_minutes=current.first_response_minutes,
            accounts=list(current.accounts or []),
            all_accounts=[a.handle.lower() for a in config.accounts],
            keywords=list(current.follow.keywords),
            hashtags=list(current.follow.hashtags),
            authors=list(current.follow.authors),
            groups_note=note,
            revision=revision,
        )

    def save_segment(
        self, person: Person, segment: str, edit: SegmentEdit, *, opened_at: int | None = None
    ) -> str:
        """Save what the admin changed, through the steering service's validated path (it
        checks the admin again, validates, audits and announces). Raises ConfigRefused with
        each problem keyed by its field. `opened_at`: the revision the form showed; a save
        over someone else's later change is refused, never silently undoing it."""
        self._known(segment)
        # admins only, decided before a field of the form is read
        self._steering.require_admin(person, "edit", where=WHERE, scope=segment)
        changes = self.segment_changes(segment, edit)
        return self._steering.update_segment(
            person, segment, changes, channel=WHERE, opened_at=opened_at
        )

    def segment_changes(self, segment: str, edit: SegmentEdit) -> dict[str, Any]:
        """The form's values as the steering service takes them; numbers that aren't, refused
        by field. A list whose members did not change (in any order) is left out."""
        current = self._ctx.segments.config.segments[segment]
        problems: dict[str, str] = {}
        changes: dict[str, Any] = {}
        if edit.channel:
            changes["channel"] = edit.channel
        approvers = [*edit.approver_users, *edit.approver_groups]
        if set(approvers) != set(current.approvers):
            changes["approvers"] = list(dict.fromkeys(approvers))
        for key, raw in (
            ("approvals_required", edit.approvals_required),
            ("first_response_minutes", edit.first_response_minutes),
        ):
            text = (raw or "").strip()
            if not re.fullmatch(r"[0-9]{1,6}", text):  # ASCII digits: "²".isdigit() is true
                problems[key] = "Write a whole number, like 2."
            else:
                changes[key] = int(text)
        accounts = [a.strip().removeprefix("@").lower() for a in edit.accounts]
        if set(accounts) != set(current.accounts or []):
            changes["accounts"] = accounts
        for name, raw in (
            ("keywords", edit.keywords),
            ("hashtags", edit.hashtags),
            ("authors", edit.authors),
        ):
            changes[f"follow.{name}"] = split_list(raw)
        if problems:
            raise ConfigRefused(problems)
        return changes

    def _groups(self) -> tuple[list[tuple[str, str]], str | None]:
        """The workspace's user groups as (ID, label), or none and why."""
        try:
            response = self._client.usergroups_list(include_disabled=False)
        except Exception:
            return [], "Slack didn't list the user groups just now: type their IDs (S…)."
        groups: Sequence[dict[str, Any]] = response.get("usergroups") or []
        return [
            (str(g["id"]), f"@{g.get('handle') or g['id']} — {g.get('name') or ''}".rstrip(" —"))
            for g in groups
            if g.get("id")
        ], None

    def _known(self, segment: str) -> None:
        if segment not in self._ctx.segments.names():
            raise ActionRefused(f"There is no segment called {segment_label(segment)!r}.")

    def _refuse(self, person: Person, subject: str, action: str, reason: str) -> NoReturn:
        Checkpoint(self._ctx, person, WHERE, "draft", subject, action).refuse(reason)
