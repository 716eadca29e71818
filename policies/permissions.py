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


def may_administer(*, is_admin: bool) -> Decision:
    return ALLOW if is_admin else Decision(False, "Only brandbot admins can do that.")
