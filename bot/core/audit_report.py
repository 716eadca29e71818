"""Reading the audit log: who tweeted what (`brandbot audit who`) and exports (`audit export`).

Conventions this module relies on (written by bot.drafts.service, bot.drafts.publisher, bot.mentions.service, bot.mentions.ingest):
a draft's entries have subject `draft:<id>`; its `draft.post` entry's `after` holds
`tweet_id`, `url` and `account`; its `draft.create` entry's `after` holds `in_reply_to` (the
mention's tweet id, or null); a mention's entries have subject `mention:<tweet id>`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from bot.core.db import transaction
from bot.core.models import AuditEntry

ExportFormat = Literal["jsonl", "csv"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")
EXPORT_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "subject",
    "before",
    "after",
    "prev_hash",
    "hash",
    "scheme",  # 1: plain SHA-256 (before keys), 2: HMAC-SHA256 — what recomputing a hash needs
)

_TWEET_ID = re.compile(r"\d{1,20}")
_TWEET_HOSTS = frozenset(
    {
        "x.com",
        "www.x.com",
        "mobile.x.com",
        "twitter.com",
        "www.twitter.com",
        "mobile.twitter.com",
        "m.twitter.com",
    }
)
_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


# --- parsing user input ----------------------------------------------------------------------


IRREGULAR = {
    "tag": "tagged",
    "replied": "replied",
    "unreplied": "reopened (its reply was taken down from X)",
}  # mention.<verb> → "Mention … <participle> by"


def parse_tweet_ref(ref: str) -> str:
    """The tweet id in `ref`: a numeric id, or an x.com / twitter.com status URL.

    URLs may lack the scheme and carry query strings, fragments, trailing slashes or a
    `/photo/1`-style tail; `/i/web/status/<id>` and the legacy `/statuses/<id>` are accepted too.
    """
    value = ref.strip()
    if _TWEET_ID.fullmatch(value):
        return value
    expected = "expected a tweet id like 1790000000000000000 or a URL like https://x.com/<handle>/status/<id>"
    if not value:
        raise ValueError(f"empty tweet reference ({expected})")

    def bad(reason: str = "") -> ValueError:
        return ValueError(f"not a tweet id or X status URL: {ref!r}{reason} ({expected})")

    has_scheme = bool(_SCHEME.match(value))
    if not has_scheme and "/" not in value:
        raise bad()
    parts = urlsplit(value if has_scheme else f"https://{value}")
    if parts.scheme.lower() not in ("http", "https"):
        raise bad(f" — {parts.scheme}: is not a web address")
    host = (parts.hostname or "").lower()
    if host not in _TWEET_HOSTS:
        raise bad(f" — host {host!r} is not x.com or twitter.com")
    tweet_id = _status_id([s for s in parts.path.split("/") if s])
    if tweet_id is None:
        raise bad(" — no /status/<id> in the path")
    return tweet_id


def _status_id(segments: list[str]) -> str | None:
    if len(segments) >= 3 and [s.lower() for s in segments[:3]] == ["i", "web", "status"]:
        candidate = segments[3] if len(segments) > 3 else ""
    elif len(segments) >= 3 and segments[1].lower() in ("status", "statuses"):
        if not _HANDLE.fullmatch(segments[0]) and segments[0].lower() != "i":
            return None
        candidate = segments[2]
    else:
        return None
    return candidate if _TWEET_ID.fullmatch(candidate) else None


_RELATIVE = re.compile(r"([0-9]+)\s*([mhdw])", re.IGNORECASE)  # ASCII: \d takes other digits
MAX_DIGITS = 9  # int() refuses over 4,300 digits with a message about Python, not --since
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime) -> datetime:
    """An aware UTC datetime from `7d`, `24h`, `30m`, `2w` (before `now`) or an ISO date/datetime.

    `m` is minutes. A date means its midnight UTC; a datetime without an offset is UTC.
    """
    text = value.strip()
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    relative = _RELATIVE.fullmatch(text)
    if relative:
        if len(relative.group(1)) > MAX_DIGITS:
            raise ValueError(f"--since takes a number of at most {MAX_DIGITS} digits")
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        try:
            return (now - timedelta(**{_UNITS[unit]: amount})).astimezone(UTC)
        except OverflowError:
            raise ValueError(f"--since {value!r} reaches back before year 1") from None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            parsed = datetime.combine(datetime.fromisoformat(text).date(), time(), tzinfo=UTC)
        elif re.match(r"\d{4}-\d{2}-\d{2}[T ]\d", text):
            parsed = datetime.fromisoformat(text)
        else:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"invalid --since {value!r}: use a duration like 30m, 24h, 7d, 2w, "
            "or an ISO date/datetime like 2026-11-01 or 2026-11-01T09:30:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# --- who tweeted it ----------------------------------------------------------------------------


Outcome = Literal["ok", "refused", "rejected"]


@dataclass(frozen=True)
class Step:
    """One audit entry in a tweet's history, with a short human summary.

    `summary` names who did what ("Approved by Bob (U0BOB)"); `detail` is an optional tail
    (the URL, the text, a reason). `outcome` is "ok", or "refused" / "rejected" for attempts
    that did not go through, which renderers mark.
    """

    seq: int
    at: datetime
    actor_id: str
    actor_name: str
    action: str
    subject: str
    summary: str
    detail: str = ""
    outcome: Outcome = "ok"

    @property
    def marked(self) -> bool:
        return self.outcome != "ok"


@dataclass(frozen=True)
class TweetHistory:
    tweet_id: str
    url: str
    account: str
    draft_subject: str  # "draft:<id>"
    in_reply_to: str | None  # the mention's tweet id when the tweet was a reply
    steps: list[Step] = field(default_factory=list)
    quote_of: str | None = None  # the mention's tweet id when the tweet quoted it

    @property
    def draft_id(self) -> str:
        return self.draft_subject.removeprefix("draft:")

    def actors(self, action: str) -> list[tuple[str, str]]:
        """(actor id, name) of every step with `action`, in order."""
        return [(s.actor_id, s.actor_name) for s in self.steps if s.action == action]


def who_tweeted(session: Session, tweet_id: str) -> TweetHistory | None:
    """The drafting, editing, approval and posting history of an X tweet the bot posted."""
    post = _find_post(session, tweet_id)
    if post is None:
        return _posted_around_brandbot(session, tweet_id)
    post_after = fields_of(post.after)
    account = str(post_after.get("account") or "")
    url = str(post_after.get("url") or f"https://x.com/{account or 'i/web'}/status/{tweet_id}")
    draft_rows = entries_of(session, subject=post.subject)
    in_reply_to = quote_of = None
    for row in draft_rows:
        reply = fields_of(row.after).get("in_reply_to")
        if reply not in (None, ""):
            in_reply_to = str(reply)
        quoted = fields_of(row.after).get("quote_of")
        if quoted not in (None, ""):
            quote_of = str(quoted)
    rows = list(draft_rows)
    answered = in_reply_to or quote_of
    if answered is not None:
        rows.extend(entries_of(session, subject=f"mention:{answered}"))
        rows.sort(key=lambda r: r.seq)
    return TweetHistory(
        tweet_id=tweet_id,
        url=url,
        account=account,
        draft_subject=post.subject,
        in_reply_to=in_reply_to,
        quote_of=quote_of,
        steps=[_step(row) for row in rows],
    )


def _posted_around_brandbot(session: Session, tweet_id: str) -> TweetHistory | None:
    """A tweet a brand account posted outside brandbot (its own timeline showed it): who acted on
    its alert. No draft, so nobody approved it."""
    rows = entries_of(session, subject=f"tweet:{tweet_id}")
    seen = next((r for r in rows if r.action == "x.post_around_brandbot"), None)
    if seen is None:
        return None
    account = str(fields_of(seen.after).get("account") or "")
    return TweetHistory(
        tweet_id=tweet_id,
        url=f"https://x.com/{account or 'i/web'}/status/{tweet_id}",
        account=account,
        draft_subject="",
        in_reply_to=None,
        steps=[_step(row) for row in rows],
    )


def _find_post(session: Session, tweet_id: str) -> AuditEntry | None:
    # Prefilter in SQL (the action is indexed; LIKE narrows it), then confirm on the parsed JSON
    # so "123" never matches "1234" and a string or a number id both work.
    pattern = "%" + tweet_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    candidates = session.scalars(
        select(AuditEntry)
        .where(
            # draft.mark_posted: a person found the post on X and recorded it
            col(AuditEntry.action).in_(["draft.post", "draft.mark_posted"]),
            col(AuditEntry.after).like(pattern, escape="\\"),
        )
        .order_by(col(AuditEntry.seq))
    )
    for row in candidates:
        if str(fields_of(row.after).get("tweet_id")) == tweet_id:
            return row
    return None


def fields_of(text: str | None) -> dict[str, Any]:
    """An audit entry's `before` or `after` as a dict ({} when empty or not a JSON object)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _who(actor_id: str, actor_name: str) -> str:
    if not actor_name or actor_name == actor_id:
        return actor_id
    return f"{actor_name} ({actor_id})"


def _quote(text: Any, limit: int = 100) -> str:
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return f"“{flat}”"


def _step(row: AuditEntry) -> Step:
    after, before = fields_of(row.after), fields_of(row.before)
    who = _who(row.actor_id, row.actor_name)
    kind, _, verb = row.action.partition(".")
    summary, detail = f"{row.action} by {who}", ""
    outcome: Outcome = "ok"
    reason = after.get("reason") or after.get("error")
    if kind == "draft":
        if verb == "create":
            summary = f"Drafted by {who}"
            where = []
            if after.get("account"):
                where.append(f"for @{after['account']}")
            if after.get("segment"):
                where.append(f"in {after['segment']}")
            if after.get("in_reply_to"):
                where.append(f"replying to mention {after['in_reply_to']}")
            if after.get("quote_of"):
                where.append(f"quoting mention {after['quote_of']}")
            text = _quote(after["text"]) if "text" in after else ""
            detail = " ".join(where) + (f": {text}" if where and text else text)
        elif verb == "edit":
            summary = f"Edited by {who}"
            if "text" in after:
                detail = (
                    f"{_quote(before['text'])} → {_quote(after['text'])}"
                    if "text" in before
                    else _quote(after["text"])
                )
        elif verb == "approve":
            summary = f"Approved by {who}"
        elif verb == "approved":
            summary = "Fully approved and queued to post"
            detail = f"(due {after['due_at']})" if after.get("due_at") else ""
        elif verb == "reject":
            summary, outcome = f"REJECTED by {who}", "rejected"
            detail = f"— {reason}" if reason else ""
        elif verb == "refused":
            attempted = after.get("attempted") or "act on the draft"
            summary, outcome = f"REFUSED: {who} tried to {attempted}", "refused"
            detail = f"— {reason}" if reason else ""
        elif verb == "post":
            account = after.get("account")
            summary = f"Posted as @{account} by {who}" if account else f"Posted by {who}"
            detail = f"→ {after['url']}" if after.get("url") else ""
            if after.get("recovered"):
                detail += " (found on X after an interrupted attempt)"
        elif verb == "mark_posted":
            summary = f"Marked as posted by {who}, checked on X"
            detail = f"→ {after['url']}" if after.get("url") else ""
        elif verb == "hold_stale":
            summary = "Held for an approver to confirm it is still right: it would go out late"
            detail = f"— {after['why']}" if after.get("why") else ""
        elif verb in ("release", "retry", "cancel"):
            summary = {"release": "Released", "retry": "Retried", "cancel": "Cancelled"}[verb]
            summary += f" by {who}"
        elif verb == "check_requested":
            summary = f"{who} asked to check X for it"
        elif verb == "delete":
            summary = f"Deleted by {who}"
        elif verb == "attempt":
            summary = f"Sent to X (attempt {after.get('attempt', '?')})"
        elif verb == "post_unknown":
            summary = (
                "X did not confirm the post (it may be on X); it is looked for before any retry"
            )
            detail = f"— {reason}" if reason else ""
        elif verb == "post_deferred":
            summary = "X refused it for now; it waits in the queue"
            detail = f"— {reason}" if reason else ""
        elif verb == "hold":
            summary = f"Held for release by {who}: it came due while publishing was frozen"
        elif verb == "delete_confirmed":
            summary = f"Deletion confirmed by {who}"
        elif verb == "delete_failed":
            summary, outcome = f"X did not delete it (confirmed by {who})", "refused"
            detail = f"— {reason}" if reason else ""
        else:
            summary = f"Draft {verb.replace('_', ' ')} ({who})"
            detail = f"— {reason}" if reason else ""
    elif kind == "x" and verb == "post_around_brandbot":
        source = f" via {after['source']}" if after.get("source") else ""
        summary = f"Posted as @{after.get('account')} on X directly{source}, not through brandbot"
        detail = f"(tweeted {after.get('created_at')}): {_quote(str(after.get('text', '')))}"
    elif kind == "outside_post":
        summary = {
            "expected": f"Marked expected by {who}",
            "delete_requested": f"Deletion from X requested by {who}",
            "delete_confirmed": f"Deletion confirmed by {who}",
            "deleted": f"Deleted from X (confirmed by {who})",
            "gone": f"Already gone from X when {who} confirmed its deletion",
        }.get(verb, f"{verb.replace('_', ' ').capitalize()} by {who}")
        if verb in ("refused", "delete_failed"):
            attempted = after.get("attempted") or "delete it"
            what = (
                f"tried to {attempted}" if verb == "refused" else "confirmed; X did not delete it"
            )
            summary, outcome = f"REFUSED: {who} {what}", "refused"
        detail = f"— {reason}" if reason else ""
    elif kind == "mention":
        tweet = row.subject.removeprefix("mention:")
        if verb == "ingest":
            summary = f"Mention {tweet} ingested by {who}"
            parts = [f"from @{after['author']}"] if after.get("author") else []
            if after.get("segment"):
                parts.append(f"routed to {after['segment']}")
            detail = ", ".join(parts)
        elif verb == "refused":
            attempted = after.get("attempted") or "act on it"
            summary, outcome = f"REFUSED: {who} tried to {attempted} mention {tweet}", "refused"
            detail = f"— {reason}" if reason else ""
        else:
            participle = IRREGULAR.get(verb) or verb + ("d" if verb.endswith("e") else "ed")
            summary = f"Mention {tweet} {participle} by {who}"
            if verb == "reroute" and after.get("segment"):
                detail = f"to {after['segment']}"
            elif verb == "assign" and after.get("assigned_to"):
                detail = f"to {after['assigned_to']}"
            elif verb == "tag":
                detail = "— tags: " + (", ".join(map(str, after.get("tags") or [])) or "none")
            elif verb == "note" and "text" in after:
                detail = f"— {_quote(after['text'])}"
            elif verb == "replied":
                summary = f"Mention {tweet} answered on X (draft {after.get('draft', '?')})"
                detail = f"— now {after['state']}" if after.get("state") else ""
    return Step(
        seq=row.seq,
        at=row.at,
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        action=row.action,
        subject=row.subject,
        summary=summary,
        detail=detail,
        outcome=outcome,
    )


def _when(at: datetime) -> str:
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_who(history: TweetHistory) -> str:
    """A readable, chronological chain: who drafted, edited, approved, posted."""
    head = f"Tweet {history.tweet_id}" + (f" on @{history.account}" if history.account else "")
    lines = [f"{head}: {history.url}"]
    origin = f"Draft {history.draft_id}"
    if not history.draft_subject:
        origin = "Not posted through brandbot: nobody approved it (seen on the account's timeline)"
    elif history.in_reply_to:
        origin += f", a reply to mention {history.in_reply_to}"
    elif history.quote_of:
        origin += f", a quote of mention {history.quote_of}"
    lines.append(origin)
    width = max((len(str(s.seq)) for s in history.steps), default=1)
    for step in history.steps:
        mark = "✗" if step.marked else "•"
        line = f"  {mark} #{step.seq:<{width}} {step.summary} at {_when(step.at)}"
        if step.detail:
            line += f" {step.detail}"
        lines.append(line)
    refused = sum(1 for s in history.steps if s.marked)
    if refused:
        lines.append(f"  ({refused} refused or rejected attempt(s) marked ✗)")
    return "\n".join(lines) + "\n"


def config_subject(ref: str) -> str | None:
    """The audit subject of a segment's or the routing rules' configuration, if `ref` names one
    (``customer_relations``, ``segment:customer_relations``, ``routing``)."""
    value = ref.strip().lower()
    if value in ("routing", "config:routing"):
        return "config:routing"
    name = value.removeprefix("segment:")
    return f"segment:{name}" if re.fullmatch(r"[a-z][a-z0-9_]{0,49}", name) else None


def render_config_history(subject: str, entries: list[AuditEntry]) -> str:
    """Who changed a segment's settings from Slack, when, from what to what (oldest first)."""
    lines = [f"Configuration of {subject.partition(':')[2]}: {len(entries)} change(s) from Slack"]
    for entry in entries:
        before, after = fields_of(entry.before), fields_of(entry.after)
        where = after.pop("typed_in", None) or (
            after.get("channel") if entry.action == "config.refused" else None
        )
        after.pop("revision", None)
        if entry.action == "config.refused":
            what = f"refused {after.get('attempted', '')}: {after.get('reason', '')}"
        elif entry.action == "config.reset":
            what = "reset to app.yaml: " + ", ".join(
                f"{key.partition('.')[2]} (was {_short(value)})" for key, value in before.items()
            )
        else:
            what = "; ".join(
                f"{key}: {_short(before.get(key))} → {_short(value)}"
                for key, value in after.items()
            )
        place = f" in {where}" if where else ""
        lines.append(
            f"  • #{entry.seq} {_when(entry.at)} {_who(entry.actor_id, entry.actor_name)}{place}: "
            f"{what}"
        )
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:199] + "…"


# --- export ------------------------------------------------------------------------------------


def export_entries(
    source: Session | Engine,
    /,
    *,
    since: datetime | None,
    fmt: ExportFormat,
    out: TextIO,
    batch: int = 1000,
) -> int:
    """Write audit entries in seq order to `out`; return how many.

    Reads in keyset batches of `batch` rows, so memory stays flat however long the log is.
    Given an Engine, each batch is its own short transaction (on SQLite every transaction takes
    the write lock, so a long export must not hold one); given a Session, all batches use it.
    `before`/`after` are the stored canonical JSON text and `at` is ISO-8601 UTC with
    microseconds: exactly the material `hash` was computed over, so the export is verifiable
    without the database.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    writer = None
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
    count = 0
    for record in _export_rows(source, since=since, batch=batch):
        if writer is not None:
            writer.writerow(["" if v is None else v for v in record.values()])
        else:
            out.write(json.dumps(record) + "\n")
        count += 1
    return count


def _export_rows(
    source: Session | Engine, *, since: datetime | None, batch: int
) -> Iterator[dict[str, Any]]:
    columns = [getattr(AuditEntry, name) for name in EXPORT_COLUMNS]
    after_seq = 0
    while True:
        query = select(*columns).where(col(AuditEntry.seq) > after_seq)
        if since is not None:
            query = query.where(col(AuditEntry.at) >= since)
        query = query.order_by(col(AuditEntry.seq)).limit(batch)
        if isinstance(source, Engine):
            with transaction(source) as session:
                rows = session.execute(query).all()
        else:
            rows = source.execute(query).all()
        if not rows:
            return
        for row in rows:
            record = dict(zip(EXPORT_COLUMNS, row, strict=True))
            record["at"] = _iso(record["at"])
            yield record
        after_seq = rows[-1][0]


def _iso(at: datetime) -> str:
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def entries_of(
    session: Session, *, action: str | None = None, subject: str | None = None
) -> list[AuditEntry]:
    """Audit entries, oldest first; only those of `action` and of `subject`, if given."""
    query = select(AuditEntry).order_by(col(AuditEntry.seq))
    if action is not None:
        query = query.where(col(AuditEntry.action) == action)
    if subject is not None:
        query = query.where(col(AuditEntry.subject) == subject)
    return list(session.scalars(query))


class AuditTrail:
    """What the Slack layer may ask of the audit log (`/brand who`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def who(self, ref: str) -> str | None:
        """Who drafted, edited, approved and posted a tweet (a URL or an id), as `brandbot audit
        who` prints it; None if brandbot did not post it. ValueError if `ref` is no tweet."""
        tweet_id = parse_tweet_ref(ref)
        with transaction(self._engine, read_only=True) as session:
            history = who_tweeted(session, tweet_id)
            return render_who(history) if history is not None else None
