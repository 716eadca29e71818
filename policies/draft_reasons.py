"""Why a draft waits or stopped, where a card or a click must tell the cases apart.

The text is what people read on the approval card (`Draft.last_error`, `Draft.held_reason`);
these prefixes are how the code recognises it, without a column per reason.
"""

from __future__ import annotations

REPLY_RULE = "X refuses replies to tweets that don't mention"
STALE = "Late:"  # held_reason of a post held because it would go out too long after it was wanted
STRAGGLER = (
    "An earlier attempt by another worker may still reach X: I'll look for it again before posting."
)


def reply_rule_refusal(account: str) -> str:
    """A FAILED draft's explanation when X's 2026 reply rule refused it."""
    return (
        f"{REPLY_RULE} @{account} — quote it instead (retrying can't help: cancel this one and "
        "quote the tweet from its card)."
    )


def refused_by_reply_rule(*, state: str, last_error: str | None) -> bool:
    return state == "failed" and (last_error or "").startswith(REPLY_RULE)


def held_as_stale(*, state: str, held_reason: str | None) -> bool:
    return state == "held" and (held_reason or "").startswith(STALE)
