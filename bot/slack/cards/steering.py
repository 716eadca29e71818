"""What `/brand` shows: the help, the segments table, the routing rules and the reset-all
confirmation (ephemeral messages, one builder per surface)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from bot.slack.cards.budget_alert import budget_line
from bot.slack.cards.mention_card import escape, principal_mention, segment_label
from policies.x_budget import MonthSpend

MAX_LISTED = 8  # follow values shown per kind; `brandbot check --effective` prints all


class SteeringAction(StrEnum):
    CONFIRM_RESET_ALL = "steer_reset_all"


# (usage, example, admins only)
SUBCOMMANDS: list[tuple[str, str, bool]] = [
    ("segments", "/brand segments", True),
    ("channel <segment> <#channel>", "/brand channel customer_relations #care-team", True),
    (
        "approvers <segment> <@person|@group …>",
        "/brand approvers crisis_management @crisis-leads @ada",
        True,
    ),
    ("approvals <segment> <n>", "/brand approvals crisis_management 2", True),
    ("sla <segment> <minutes>", "/brand sla customer_relations 15", True),
    ("accounts <segment> <@handle …>", "/brand accounts customer_relations @acme_help", True),
    (
        "follow <segment> add|remove keyword|hashtag|author <value>",
        "/brand follow customer_relations add keyword refund",
        True,
    ),
    ("route list", "/brand route list", True),
    (
        "route add <segment> keywords|hashtags|authors|regex|lang|sentiment_below <value, …>",
        "/brand route add crisis_management keywords hacked, lawsuit",
        True,
    ),
    ("route move <from> <to>", "/brand route move 3 1", True),
    ("route remove <n>", "/brand route remove 2", True),
    ("reset <segment>|routing|all", "/brand reset customer_relations", True),
    ("replies <segment>", "/brand replies customer_relations", True),
    (
        "replies <segment> add <name> | <text>",
        "/brand replies customer_relations add Outage | Sorry {author}, we're on it: acme.com/status",
        True,
    ),
    ("replies <segment> remove <name>", "/brand replies customer_relations remove Outage", True),
    ("tags <segment> [tag …|none]", "/brand tags customer_relations billing outage praise", True),
    ("freeze [account|all] <reason> [for 2h]", "/brand freeze all Outage in progress for 2h", True),
    ("unfreeze [account|all]", "/brand unfreeze all", True),
    ("who <tweet URL or id>", "/brand who https://x.com/acme/status/1790000000000000000", False),
    ("report [day|week]", "/brand report week", False),
    ("help", "/brand help", False),
]
PURPOSE = {
    "segments": "each segment's channel, approvers, approvals, response target, accounts and follow rules; _overridden_ values are marked",
    "channel": "move a segment's new cards to another channel (I join a public one; invite me to a private one)",
    "approvers": "who approves the segment's drafts (people and user groups)",
    "approvals": "how many approvals a draft needs (at least 1)",
    "sla": "the first-response target, in minutes",
    "accounts": "which X accounts the segment may post as",
    "follow": "what the segment follows on X",
    "route list": "the routing rules, in order (first match wins)",
    "route add": "add a routing rule at the end",
    "route move": "reorder the routing rules",
    "route remove": "drop a routing rule",
    "reset": "drop overrides made in Slack, back to app.yaml (`all` asks first)",
    "replies": "a segment's saved replies, offered in its reply form",
    "replies add": "add (or replace) a saved reply; placeholders {author}, {author_name}, {account}, {brand}",
    "replies remove": "drop a saved reply",
    "tags": "the tags a segment's mention cards offer (none clears them)",
    "freeze": "stop all publishing at once",
    "unfreeze": "lift it; held posts wait for an approver to release them",
    "who": "who drafted, edited, approved and posted a tweet",
    "report": "yesterday's (or last week's) response times, volume and sentiment, just for you (in a segment's or the digest's channel)",
    "help": "this list",
}


def usage(name: str) -> str:
    """The usage line of one subcommand (`name` as typed: "channel", "route add", …)."""
    for command, example, _admin in SUBCOMMANDS:
        if name in (command, command.split(" <")[0].split(" [")[0], _literal_words(command)):
            return f"Usage: `/brand {command}`, e.g. `{example}`"
    return "See `/brand help`."


def _literal_words(command: str) -> str:
    """A usage line's words without its <placeholders>: "replies <segment> add <name> | <text>"
    → "replies add"."""
    return " ".join(w for w in command.split() if not w.startswith(("<", "[")) and w != "|")


def help_text(*, is_admin: bool) -> str:
    lines = [
        "*/brand* commands"
        + ("" if is_admin else " (those marked _admins_ are for brandbot admins):")
    ]
    for command, example, admin_only in SUBCOMMANDS:
        key = command.split(" <")[0].split(" [")[0]
        key = _literal_words(command) if _literal_words(command) in PURPOSE else key
        key = key if key in PURPOSE else key.split(" ")[0]
        mark = " _(admins)_" if admin_only and not is_admin else ""
        lines.append(f"• `/brand {command}` — {PURPOSE.get(key, '')}{mark}\n    e.g. `{example}`")
    if not is_admin:
        lines.append("You can use `/brand who`, `/brand report` and `/brand help`.")
    return "\n".join(lines)


def saved_replies_text(segment: str, replies: Sequence[Any]) -> str:
    """`/brand replies <segment>`: each saved reply's name and text, as typed."""
    title = segment_label(segment)
    if not replies:
        return (
            f"{title} has no saved replies. Add one: "
            f"`/brand replies {segment} add <name> | <text>`."
        )
    lines = [f"*{title}* saved replies (offered in the reply form; still linted and approved):"]
    lines += [f"• *{escape(r.name)}* — {escape(r.text)}" for r in replies]
    return "\n".join(lines)


def segments_table(rows: Sequence[Any], *, x_month: MonthSpend | None = None) -> str:
    """`/brand segments`: one block of lines per segment; values set from Slack are marked; and
    what reading X has cost this month."""
    out = [
        "*Segments* (values marked _overridden_ were set from Slack and win over app.yaml; `/brand reset <segment>` drops them)"
    ]
    if x_month is not None:
        out.append(f"*X reads in {x_month.month}*: {budget_line(x_month)}")
    for row in rows:

        def mark(key: str, overridden: dict[str, str] = row.overridden) -> str:
            who = overridden.get(key)
            return f" _(overridden, {escape(who)})_" if who else ""

        follow = []
        if row.follows_mentions:
            follow.append("mentions")
        for kind in ("keywords", "hashtags", "authors"):
            values = row.follow[kind]
            if values:
                shown = ", ".join(escape(v) for v in values[:MAX_LISTED])
                more = f" +{len(values) - MAX_LISTED} more" if len(values) > MAX_LISTED else ""
                follow.append(f"{kind} {shown}{more}{mark('follow.' + kind)}")
        approvers = ", ".join(principal_mention(p) for p in row.approvers) or "nobody named"
        accounts = ", ".join(f"@{a}" for a in row.accounts) or "none"
        out.append(
            f"*{segment_label(row.name)}* (`{row.name}`) — <#{row.channel}>{mark('channel')}\n"
            f"    approvers: {approvers}{mark('approvers')} · needs {row.approvals_required} "
            f"approval(s){mark('approvals_required')}\n"
            f"    respond within {row.first_response_minutes} min{mark('first_response_minutes')}"
            f" · posts as {accounts}{mark('accounts')}\n"
            f"    follows: {'; '.join(follow) or 'nothing'}\n"
            f"    {row.open} open, {row.claimed} claimed"
        )
    return "\n".join(out)


def routes_text(rules: Sequence[Mapping[str, Any]], default: str, *, overridden: bool) -> str:
    where = " _(overridden from Slack)_" if overridden else ""
    if not rules:
        return f"No routing rules{where}: every mention goes to {segment_label(default)}."
    lines = [f"*Routing rules*{where}, first match wins:"]
    for i, rule in enumerate(rules, 1):
        lines.append(f"{i}. {escape(describe_rule(rule))}")
    lines.append(f"Anything else → {segment_label(default)}.")
    return "\n".join(lines)


def describe_rule(rule: Mapping[str, Any]) -> str:
    """A routing rule as one line: `keywords hacked, lawsuit · sentiment below -0.6 → Crisis`."""
    parts = []
    for key, value in rule.items():
        if key == "segment" or value in (None, []):
            continue
        if key == "sentiment_below":
            parts.append(f"sentiment below {value}")
        elif isinstance(value, list):
            parts.append(f"{key} {', '.join(str(v) for v in value)}")
        else:
            parts.append(f"{key} {value}")
    return " · ".join(parts) + f" → {segment_label(str(rule.get('segment')))}"


def reset_all_confirmation(overrides: int) -> list[dict[str, Any]]:
    text = (
        f":warning: This drops all {overrides} value(s) set from Slack, for every segment and "
        "the routing rules, back to app.yaml. Each segment's channel is told."
    )
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "actions",
            "block_id": "reset_all",
            "elements": [
                {
                    "type": "button",
                    "action_id": SteeringAction.CONFIRM_RESET_ALL,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Reset everything to app.yaml"},
                    "value": "all",
                }
            ],
        },
    ]
