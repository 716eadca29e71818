"""Which approvals a draft needs, and whether it has them. Pure: callers resolve group members.

A draft obeys the strictest rule that applies to it (DESIGN invariant 8):
- the rule of its own segment (for a reply that is its mention's segment, decided on the
  server from the mention, never from the form);
- for a reply, also the rule of the segment its mention is in *now* (a mention rerouted to
  crisis management after the reply was drafted needs crisis approvals);
- the rule of every segment that guards the account it posts as (lists it under `accounts:`);
- the account's floor (`min_approvals`): no rule asks for fewer approvals than that.

Each rule is counted on its own: `required` approvals of the exact text by that segment's
approvers who are neither the author nor an editor of the text. The draft may be posted only
when every rule is met; one person who is an approver of two segments counts for both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from policies.config import BrandConfig, default_approvals


@dataclass(frozen=True)
class ApprovalRule:
    segment: str
    approvers: tuple[str, ...]  # Slack user IDs (U…/W…) or user-group IDs (S…)
    required: int
    reason: str  # why it applies: "its segment", "its mention is there", "guards @acme"


@dataclass(frozen=True)
class RuleProgress:
    rule: ApprovalRule
    approved_by: tuple[str, ...]  # eligible approvers of the exact text, in approval order

    @property
    def met(self) -> bool:
        return len(self.approved_by) >= self.rule.required

    @property
    def missing(self) -> int:
        return max(0, self.rule.required - len(self.approved_by))


def approval_rules(
    config: BrandConfig, *, segment: str, account: str, mention_segment: str | None = None
) -> list[ApprovalRule]:
    """Every rule that applies to a draft of `segment` posting as `account` (see module doc)."""
    reasons: dict[str, str] = {segment: "its segment"}
    if mention_segment is not None and mention_segment != segment:
        reasons.setdefault(mention_segment, "its mention is there now")
    for guard in config.guards_of(account):
        reasons.setdefault(guard, f"guards @{account.lower()}")
    floor = _floor(config, account)
    rules = []
    for name, reason in reasons.items():
        rule_segment = config.segments.get(name)
        if rule_segment is None:  # a segment removed from app.yaml: its own rule is gone
            continue
        required = int(rule_segment.approvals_required or default_approvals(name))
        if floor > required:
            required, reason = floor, f"{reason}; @{account.lower()} needs {floor}"
        rules.append(ApprovalRule(name, tuple(rule_segment.approvers), required, reason))
    return rules


def _floor(config: BrandConfig, account: str) -> int:
    """The account's `min_approvals` (1 for an account no longer in the config)."""
    try:
        return config.account(account).min_approvals
    except KeyError:
        return 1


def principals_of(rules: Iterable[ApprovalRule]) -> set[str]:
    """Every user or group the rules name (the caller resolves each group's members)."""
    return {p for rule in rules for p in rule.approvers}


def is_member(
    user_id: str, principals: Sequence[str], members: Mapping[str, frozenset[str]]
) -> bool:
    """Whether the user is one of the principals, given each group's resolved members."""
    return any(p == user_id or user_id in members.get(p, frozenset()) for p in principals)


def approval_progress(
    rules: Sequence[ApprovalRule],
    *,
    approvals: Sequence[str],
    author: str,
    editors: Iterable[str],
    members: Mapping[str, frozenset[str]],
) -> list[RuleProgress]:
    """How far each rule is, from the approver IDs of the exact text (in approval order)."""
    excluded = {author, *editors}
    unique = list(dict.fromkeys(approvals))
    return [
        RuleProgress(
            rule,
            tuple(a for a in unique if a not in excluded and is_member(a, rule.approvers, members)),
        )
        for rule in rules
    ]


def all_met(progress: Sequence[RuleProgress]) -> bool:
    return bool(progress) and all(p.met for p in progress)


def may_post_as(config: BrandConfig, *, segment: str, account: str) -> bool:
    """A segment posts as the accounts it lists, or, listing none, as the unguarded ones."""
    return account.lower() in {a.handle.lower() for a in config.accounts_for(segment)}


@dataclass(frozen=True)
class Reachable:
    """Can `required` approvals come from these approvers: `refusal` if never, else a
    `warning` worth reading (empty if none)."""

    refusal: str = ""
    warning: str = ""


def approvals_reachable(*, required: int, approvers: int) -> Reachable:
    """Nobody approves their own draft: with exactly as many approvers as approvals, a draft
    written by one of them can never be approved."""
    people = f"{approvers} approver" + ("" if approvers == 1 else "s")
    if approvers == 0:
        return Reachable(refusal="it has no approvers who could approve anything")
    if required > approvers:
        return Reachable(
            refusal=f"it has {people}, so {required} approvals could never be given; "
            "name more approvers first"
        )
    if required == approvers:
        return Reachable(
            warning=f"that is every one of its {people}: a draft written by one of them can "
            "then never be approved (nobody approves their own draft)"
        )
    return Reachable()


def awaits(
    user_id: str, progress: Sequence[RuleProgress], members: Mapping[str, frozenset[str]]
) -> bool:
    """Whether a draft is waiting for this person: a rule not yet met that their approval would
    count toward (that they may approve at all is `permissions.may_approve`'s to say)."""
    return any(
        not p.met and user_id not in p.approved_by and is_member(user_id, p.rule.approvers, members)
        for p in progress
    )
