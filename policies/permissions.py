"""Who may do what. Pure: the caller resolves group membership and passes plain facts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """What the server knows about the person clicking, from its own records and Slack's."""

    user_id: str
    is_admin: bool
    is_responder: bool  # in the segment's responders (or the segment names none)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


ALLOW = Decision(True)


def may_act_on_mention(action: str, *, actor: Actor, claimed_by: str | None) -> Decision:
    """Rules for the buttons on a mention card.

    - claim: a responder of the segment (any channel member when the segment names none).
    - release: the person who claimed it, or an admin.
    - resolve, dismiss, reroute: a responder, and if someone else has claimed it, only that
      person or an admin — a claim means "I'm on it", nobody else closes it under them.
    - reopen: a responder or an admin.
    """
    if actor.is_admin:
        return ALLOW
    claimed_by_other = claimed_by is not None and claimed_by != actor.user_id
    match action:
        case "claim" | "reopen":
            if not actor.is_responder:
                return Decision(False, "Only this segment's responders can do that.")
            return ALLOW
        case "release":
            if claimed_by is None:
                return Decision(False, "Nobody has claimed this.")
            if claimed_by != actor.user_id:
                return Decision(False, f"Only <@{claimed_by}> or an admin can release this.")
            return ALLOW
        case "resolve" | "dismiss" | "reroute":
            if not actor.is_responder:
                return Decision(False, "Only this segment's responders can do that.")
            if claimed_by_other:
                return Decision(False, f"<@{claimed_by}> has claimed this; ask them or an admin.")
            return ALLOW
    return Decision(False, f"Unknown action {action!r}.")


def may_reply(*, actor: Actor, claimed_by: str | None, state: str) -> Decision:
    """Replying (or quoting) needs the claim: a responder (or an admin) replies to a mention
    nobody has claimed (replying claims it) or that they claimed themselves. Someone else's
    claim stops everyone, admins too — two people answering one customer is what claims
    prevent; an admin releases it first. A closed mention is reopened first."""
    if state in ("resolved", "dismissed"):
        return Decision(False, f"It is {state}; reopen it before replying.")
    if not (actor.is_admin or actor.is_responder):
        return Decision(False, "Only this segment's responders can reply.")
    if claimed_by is not None and claimed_by != actor.user_id:
        return Decision(
            False, f"<@{claimed_by}> has claimed this; ask them (or an admin to release it)."
        )
    return ALLOW


INBOX_ACTIONS = frozenset({"assign", "unassign", "note", "tag"})


def may_work_on_mention(action: str, *, actor: Actor) -> Decision:
    """The shared-inbox controls on a mention card (assign, unassign, note, tag): a responder of
    the segment or an admin. A claim does not lock them: assigning asks someone to take it, a
    note or a tag changes nothing the claimer is working on."""
    if action not in INBOX_ACTIONS:
        return Decision(False, f"Unknown action {action!r}.")
    if actor.is_admin or actor.is_responder:
        return ALLOW
    return Decision(False, "Only this segment's responders can do that.")


def may_acknowledge(*, actor: Actor, is_approver: bool) -> Decision:
    """Acknowledge a response-target reminder (it stops the nagging, not the clock): a responder
    of the segment, one of its approvers (an escalation names them), or an admin."""
    if actor.is_admin or actor.is_responder or is_approver:
        return ALLOW
    return Decision(False, "Only this segment's responders, its approvers or an admin can do that.")


def may_be_assigned(*, assignee: str, is_responder: bool, who_can: str) -> Decision:
    """Who a mention may be assigned to: someone who could work it (`who_can` says who that is,
    e.g. "members of #care" or "@care-team"), so an assignment is never a dead end."""
    if is_responder:
        return ALLOW
    return Decision(False, f"<@{assignee}> can't be assigned this: only {who_can} can.")


def may_administer(*, is_admin: bool) -> Decision:
    return ALLOW if is_admin else Decision(False, "Only brandbot admins can do that.")


# -- drafts ------------------------------------------------------------------------------------
# The caller resolves the facts (is this person an approver of any rule that applies to the
# draft, an admin) from its own records and Slack's directory; these rules only decide.


def may_approve(
    *, user_id: str, author_id: str, editors: frozenset[str], is_approver: bool
) -> Decision:
    """Approve a text (also: release a held post, retry a failed one — approval decisions): an
    approver of the draft who neither wrote it nor edited that text. Admins are not approvers by
    being admins: nobody bypasses four eyes."""
    if user_id == author_id:
        return Decision(False, "You wrote this draft: someone else has to approve it.")
    if user_id in editors:
        return Decision(False, "You edited this text: someone else has to approve it.")
    if not is_approver:
        return Decision(False, "You are not an approver for this segment.")
    return ALLOW


def may_release_held(
    *, user_id: str, author_id: str, editors: frozenset[str], is_approver: bool
) -> Decision:
    """Release a post a freeze held (or retry one X refused): it goes to X on this click, so the
    same rule as approving it."""
    return may_approve(
        user_id=user_id, author_id=author_id, editors=editors, is_approver=is_approver
    )


def may_reject(*, user_id: str, author_id: str, is_approver: bool) -> Decision:
    """Reject: an approver, or the author withdrawing their own draft."""
    if user_id == author_id or is_approver:
        return ALLOW
    return Decision(
        False, "Only this segment's approvers (or the author, to withdraw it) can reject a draft."
    )


def may_edit(*, user_id: str, author_id: str, state: str) -> Decision:
    """Edit: only the author, only while it waits for approval (an edit resets approvals)."""
    if user_id != author_id:
        return Decision(False, "Only the author can edit a draft; suggest changes in the thread.")
    if state != "pending":
        return Decision(False, f"This draft is {state}; it can no longer be edited.")
    return ALLOW


def may_delete(*, is_admin: bool, is_approver: bool) -> Decision:
    """Ask for (or confirm) a take-down from X: an approver of the draft, or an admin."""
    if is_admin or is_approver:
        return ALLOW
    return Decision(False, "Only this segment's approvers or an admin can delete a tweet.")


def may_confirm_delete(*, user_id: str, requested_by: str | None, is_admin: bool) -> Decision:
    """Two people take a tweet down: one asks, another confirms — or one admin does it alone (a
    compromised account must not erase the record alone). Refused means: record the request."""
    if is_admin or (requested_by is not None and requested_by != user_id):
        return ALLOW
    return Decision(False, "another approver (or an admin) must confirm it")


def may_mark_posted(*, user_id: str, author_id: str, is_admin: bool, is_approver: bool) -> Decision:
    """Record a tweet a person found on X as this draft's post (a "needs a person" draft): an
    approver of the draft or an admin, never its author alone — the author could otherwise pass
    off a tweet posted by hand, unapproved, as the approved one in the record of who tweeted what."""
    if user_id == author_id:
        return Decision(
            False, "You wrote this draft: an approver or an admin must confirm it is on X."
        )
    if is_admin or is_approver:
        return ALLOW
    return Decision(False, "Only this segment's approvers or an admin can mark a draft as posted.")


def may_cancel(*, user_id: str, author_id: str, is_approver: bool) -> Decision:
    """Cancel a post that will not go out (X refused it, or a person must check it): the author
    (withdrawing it) or an approver of the draft — the same people who may reject it."""
    if user_id == author_id or is_approver:
        return ALLOW
    return Decision(False, "Only this segment's approvers (or the author) can cancel this post.")


def may_freeze(*, is_admin: bool) -> Decision:
    """Freeze or unfreeze publishing: admins only."""
    return (
        ALLOW
        if is_admin
        else Decision(False, "Only brandbot admins can freeze or unfreeze publishing.")
    )


# -- reports -----------------------------------------------------------------------------------


def may_see_report(*, is_admin: bool, in_team_channel: bool) -> Decision:
    """`/brand report`: asked in a segment's channel or the digest's (its members see the cards
    and the digest there already), or by an admin anywhere. The answer is ephemeral."""
    if is_admin or in_team_channel:
        return ALLOW
    return Decision(
        False,
        "Reports are for the team: ask in a segment's channel or the digest's channel "
        "(or ask a brandbot admin).",
    )


# -- tweets posted around brandbot -------------------------------------------------------------
# An alert for a tweet a brand account posted outside brandbot. The caller resolves whether the
# person is an admin, and an approver of the segment whose channel the alert is in (crisis
# management by default).


def may_mark_expected(*, is_admin: bool) -> Decision:
    """Expected (recording why a tweet posted outside brandbot is fine): admins only — it closes
    the alert on what may be a hacked account, so it needs the people who run brandbot."""
    if is_admin:
        return ALLOW
    return Decision(
        False, "Only brandbot admins can mark a tweet posted outside brandbot as expected."
    )


def may_delete_outside_post(*, is_admin: bool, is_approver: bool) -> Decision:
    """Ask for (or confirm) taking down a tweet posted outside brandbot: an admin or an approver
    of the alert's segment."""
    if is_admin or is_approver:
        return ALLOW
    return Decision(
        False, "Only brandbot admins and this channel's approvers can delete a tweet from X."
    )


def may_confirm_outside_delete(*, user_id: str, requested_by: str | None) -> Decision:
    """Two people take it down: one asks, a different one confirms — admins too. Nobody alone
    erases a tweet from the brand's account (the one asking could be the one who posted it).
    Refused means: record the request."""
    if requested_by is not None and requested_by != user_id:
        return ALLOW
    if requested_by == user_id:
        return Decision(False, "You asked for this deletion: a different person must confirm it.")
    return Decision(False, "a second person must confirm it")


def may_show_surge_cards(*, actor: Actor) -> Decision:
    """Show next 10 on a surge summary posts mention cards in its thread: a responder of a
    segment the channel serves (anyone there when it names none), or an admin — who may claim
    them may ask to see them."""
    if actor.is_admin or actor.is_responder:
        return ALLOW
    return Decision(False, "Only this channel's responders can show its mentions.")
