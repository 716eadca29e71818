"""Why a mention may be dismissed without a reply: the reasons offered, and what a dismissal
must say. Pure: the modal shows the problems inline, the service refuses on them."""

from __future__ import annotations

REASONS = {
    "spam": "Spam or bot",
    "no_action": "No response needed",
    "duplicate": "Duplicate of another mention",
    "off_topic": "Not about us",
    "other": "Other (explain below)",
}


def dismissal_problems(reason: str, note: str) -> dict[str, str]:
    """What is wrong with a dismissal, by field ("reason" or "note"); empty when it may go."""
    if reason not in REASONS:
        return {"reason": "Pick a reason."}
    if reason == "other" and not note:
        return {"note": "Say why, since you picked “Other”."}
    return {}


def dismissal_text(reason: str, note: str) -> str:
    """What the card and the audit log say about a dismissal."""
    return REASONS[reason] + (f" — {note}" if note else "")
