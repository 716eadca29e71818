"""A Report as one screen of text (terminal or Slack mrkdwn), as JSON with stable keys
(docs/report-keys.md), and as CSV (one row per segment, then the total)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.reports.figures import Report, SegmentFigures, Spread
from bot.slack.cards.budget_alert import budget_line
from bot.slack.cards.mention_card import escape
from policies.x_budget import MonthSpend

SCHEMA = 1  # bumped only if a key changes meaning or goes away; new keys may be added


# --- JSON ----------------------------------------------------------------------------------


def _spread(spread: Spread) -> dict[str, Any]:
    return {"count": spread.count, "p50": spread.p50, "p90": spread.p90}


def segment_json(f: SegmentFigures) -> dict[str, Any]:
    share = f.within_target_share
    s = f.sentiment
    return {
        "mentions": f.mentions,
        "claimed": f.claimed,
        "replied": f.replied,
        "replied_on_x": f.replied_on_x,
        "resolved": f.resolved,
        "resolved_without_reply": f.resolved_without_reply,
        "dismissed": f.dismissed,
        "dismissed_by_reason": f.dismissed_by_reason,
        "open": f.open,
        "tags": f.tags,
        "first_response_seconds": _spread(f.first_response)
        | {
            "target": f.target_seconds,
            "within_target": f.within_target,
            "missed": f.missed,
            "pending": f.pending,
            "within_target_share": None if share is None else round(share, 4),
        },
        "resolve_seconds": _spread(f.resolve),
        "sentiment": {
            "incoming_mean": s.incoming_mean,
            "negative": s.negative,
            "neutral": s.neutral,
            "positive": s.positive,
            "after_reply": {
                "conversations": s.after_reply.conversations,
                "before_mean": s.after_reply.before_mean,
                "after_mean": s.after_reply.after_mean,
                "improved": s.after_reply.improved,
            },
        },
        "posts_published": f.posts_published,
        "drafts_rejected": f.drafts_rejected,
        "drafts_rejected_by_reason": f.drafts_rejected_by_reason,
    }


def report_json(report: Report) -> dict[str, Any]:
    win = report.window
    return {
        "schema": SCHEMA,
        "brand": report.brand,
        "period": {
            "kind": win.period,
            "start": win.start.isoformat(),
            "end": win.end.isoformat(),
            "time_zone": win.time_zone,
            "complete": win.complete,
        },
        "segments": {name: segment_json(f) for name, f in report.segments.items()},
        "total": segment_json(report.total),
        "posts": {
            "published": report.posts_published,
            "by_account": report.posts_by_account,
            "by_author": report.posts_by_author,
            "around_brandbot": report.around_brandbot,
            "around_brandbot_by_account": report.around_brandbot_by_account,
        },
        "x_reads": {
            "days": list(report.reads_days),
            "requests": sum(r.requests for r in report.reads.values()),
            "resources": sum(r.resources for r in report.reads.values()),
            "estimated_cost_usd": report.read_cost_usd,
            "by_endpoint": {
                endpoint: {
                    "requests": r.requests,
                    "resources": r.resources,
                    "price_kind": r.price_kind,
                    "estimated_cost_usd": r.estimated_cost_usd,
                }
                for endpoint, r in report.reads.items()
            },
        },
        "x_budget": budget_json(report.x_month),
        "volume": {
            "edges": [e.isoformat() for e in report.volume_edges],
            "by_segment": report.volume,
        },
    }


def budget_json(month: MonthSpend) -> dict[str, Any]:
    return {
        "month": month.month,
        "reads": month.used.reads,
        "estimated_cost_usd": month.used.usd,
        "reads_by_kind": dict(month.used.reads_by_kind),
        "estimated_cost_usd_by_kind": dict(month.used.usd_by_kind),
        "monthly_reads": month.monthly_reads,
        "monthly_usd": month.monthly_usd,
        "used_percent": None if month.percent is None else round(month.percent, 1),
        "searches_paused": not month.searches_allowed,
    }


def to_json(report: Report) -> str:
    return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"


# --- CSV -----------------------------------------------------------------------------------

CSV_COLUMNS = [
    "segment",
    "mentions",
    "claimed",
    "replied",
    "replied_on_x",
    "resolved",
    "resolved_without_reply",
    "dismissed",
    "open",
    "first_response_p50_seconds",
    "first_response_p90_seconds",
    "target_seconds",
    "within_target",
    "missed",
    "within_target_share",
    "resolve_p50_seconds",
    "resolve_p90_seconds",
    "sentiment_incoming_mean",
    "sentiment_before_reply_mean",
    "sentiment_after_reply_mean",
    "posts_published",
    "drafts_rejected",
]


def _csv_row(name: str, f: SegmentFigures) -> list[Any]:
    share = f.within_target_share
    s = f.sentiment
    values = [
        name,
        f.mentions,
        f.claimed,
        f.replied,
        f.replied_on_x,
        f.resolved,
        f.resolved_without_reply,
        f.dismissed,
        f.open,
        f.first_response.p50,
        f.first_response.p90,
        f.target_seconds,
        f.within_target,
        f.missed,
        None if share is None else round(share, 4),
        f.resolve.p50,
        f.resolve.p90,
        s.incoming_mean,
        s.after_reply.before_mean,
        s.after_reply.after_mean,
        f.posts_published,
        f.drafts_rejected,
    ]
    return ["" if v is None else v for v in values]


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, figures in report.segments.items():
        writer.writerow(_csv_row(name, figures))
    writer.writerow(_csv_row("total", report.total))
    return out.getvalue()


# --- text ----------------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _share(f: SegmentFigures) -> str:
    share = f.within_target_share
    return "-" if share is None else f"{share:.0%}"


def _counts(counts: dict[str, int], limit: int = 5, prefix: str = "") -> str:
    items = list(counts.items())
    shown = ", ".join(f"{prefix}{k} {v}" for k, v in items[:limit])
    return shown + (f", … {len(items) - limit} more" if len(items) > limit else "")


def _mood(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def heading(report: Report) -> str:
    win = report.window
    start, end = win.local(win.start), win.local(win.end)
    if win.complete and win.period == "day":
        what = f"{start:%a %d %b %Y}"
    elif win.complete and win.period == "week":
        what = f"week of {start:%a %d %b %Y}"
    else:
        what = f"{start:%d %b %H:%M} to {end:%d %b %H:%M}"
    return f"{report.brand} report: {what} ({win.time_zone})"


def table(report: Report) -> str:
    """The per-segment table, fixed width (a code block in Slack)."""
    rows = [("segment", "in", "claim", "reply", "resolv", "dism", "open", "p50", "p90", "met")]
    for name, f in [*report.segments.items(), ("total", report.total)]:
        rows.append(
            (
                name[:22],
                str(f.mentions),
                str(f.claimed),
                str(f.replied),
                str(f.resolved),
                str(f.dismissed),
                str(f.open),
                duration(f.first_response.p50),
                duration(f.first_response.p90),
                _share(f),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0 or n == len(rows) - 2:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def details(report: Report, *, slack: bool = False) -> list[str]:
    t = report.total
    s = t.sentiment
    b = "*" if slack else ""
    lines = []
    targets = ", ".join(
        f"{name} {duration(f.target_seconds)}"
        for name, f in report.segments.items()
        if f.target_seconds is not None and f.mentions
    )
    lines.append(
        f"{b}Response target{b}: {t.within_target} met, {t.missed} missed, {t.pending} pending "
        f"({_share(t)} met)" + (f"; targets {targets}" if targets else "")
    )
    if t.replied:
        lines.append(
            f"{b}Replies{b}: {t.replied} ({t.replied_on_x} posted directly on X); "
            f"time to resolve p50 {duration(t.resolve.p50)}, p90 {duration(t.resolve.p90)}; "
            f"{t.resolved_without_reply} resolved without a reply"
        )
    lines.append(
        f"{b}Sentiment{b}: incoming {_mood(s.incoming_mean)} ({s.negative} negative, "
        f"{s.neutral} neutral, {s.positive} positive)"
        + (
            f"; after our reply {s.after_reply.conversations} wrote again: "
            f"{_mood(s.after_reply.before_mean)} → {_mood(s.after_reply.after_mean)} "
            f"({s.after_reply.improved} better)"
            if s.after_reply.conversations
            else ""
        )
    )
    if t.dismissed_by_reason:
        lines.append(f"{b}Dismissed{b}: {_counts(t.dismissed_by_reason)}")
    if t.tags:
        lines.append(f"{b}Tags{b}: {_counts(t.tags)}")
    posts = f"{b}Posts{b}: {report.posts_published} published"
    if report.posts_by_account:
        posts += f" ({_counts(report.posts_by_account, prefix='@')}); by author: "
        posts += _counts(report.posts_by_author)
    around = report.around_brandbot
    posts += f"; {around} posted around brandbot" + (
        f" ({_counts(report.around_brandbot_by_account, prefix='@')})" if around else ""
    )
    lines.append(posts)
    if t.drafts_rejected:
        lines.append(
            f"{b}Drafts rejected{b}: {t.drafts_rejected} ({_counts(t.drafts_rejected_by_reason)})"
        )
    requests = sum(r.requests for r in report.reads.values())
    resources = sum(r.resources for r in report.reads.values())
    first, last = report.reads_days
    days = first if first == last else f"{first} to {last}"
    lines.append(
        f"{b}X reads{b} (UTC {days}): {requests:,} requests, {resources:,} resources, "
        f"at most ${report.read_cost_usd:,.2f} (X bills a resource once per UTC day)"
    )
    lines.append(f"{b}X reads in {report.x_month.month}{b}: {budget_line(report.x_month)}")
    return lines


def to_text(report: Report) -> str:
    """For a terminal: heading, the table, the details."""
    return "\n".join([heading(report), "", table(report), "", *details(report)]) + "\n"


def to_mrkdwn(report: Report) -> str:
    """For Slack: the same, with the table in a code block."""
    body = [
        f"*{escape(heading(report))}*",
        f"```\n{escape(table(report))}\n```",
        *(escape(line) for line in details(report, slack=True)),
    ]
    return "\n".join(body)
