"""Database tables. Every state change also appends an AuditEntry (see bot.core.audit)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, ColumnElement, Index, Text, UniqueConstraint, or_, true
from sqlmodel import Field, SQLModel, col


class MentionState(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    REPLIED = "replied"  # a reply from a brand account is on X: the response target is met
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class Mention(SQLModel, table=True):
    """One tweet that reached the brand; the primary key is X's tweet id, so ingest is idempotent."""

    id: str = Field(primary_key=True, max_length=32)
    account: str = Field(max_length=15, description="brand handle it arrived for")
    author_id: str = Field(index=True, max_length=32, description="their history is one click away")
    author_handle: str = Field(max_length=64)
    author_name: str = Field(default="", max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    url: str = Field(max_length=200)
    tweeted_at: datetime = Field(index=True, description="X's time; reports select by it")
    conversation_id: str = Field(max_length=32)  # indexed with its state: see the end
    lang: str | None = Field(default=None, max_length=16)
    sentiment: float
    found_by: str = Field(max_length=100, description="mentions timeline or a segment's search")
    segment: str = Field(index=True, max_length=64)
    route_reason: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default=MentionState.OPEN, index=True, max_length=16)
    claimed_by: str | None = Field(default=None, max_length=32)
    claimed_by_name: str | None = Field(default=None, max_length=200)
    claimed_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=32)
    closed_by_name: str | None = Field(default=None, max_length=200)
    closed_at: datetime | None = None
    dismiss_reason: str | None = Field(default=None, sa_column=Column(Text))
    card_id: int | None = Field(default=None, description="the live card (SlackMessage.id)")
    version: int = Field(default=1, description="bumped on every change; guards races")
    ingested_at: datetime = Field(index=True)
    summoned: bool = Field(
        default=True,
        sa_column_kwargs={"server_default": true()},
        description="it mentions one of our accounts: X lets us reply (else only quote it)",
    )
    assigned_to: str | None = Field(default=None, max_length=32)
    assigned_to_name: str | None = Field(default=None, max_length=200)
    assigned_by: str | None = Field(default=None, max_length=32)
    assigned_at: datetime | None = None
    tags: str | None = Field(default=None, sa_column=Column(Text), description="JSON list")
    replied_at: datetime | None = Field(default=None, description="our first reply reached X")
    follow_up_of: str | None = Field(
        default=None,
        max_length=32,
        description="the earlier mention of this conversation we answered",
    )
    replied_via: str | None = Field(
        default=None,
        max_length=16,
        description="how the first reply reached X: 'brandbot' (a draft) or 'x' (posted natively)",
    )
    reply_tweet_id: str | None = Field(default=None, max_length=32, description="that reply")


class SlackMessage(SQLModel, table=True):
    """The durable outbox: a message the app owns in Slack, posted and kept in sync by a worker.

    Content is rendered from the subject's current state at send time, so several changes
    before a send collapse into one `chat.update`. `revision` is what the message should show;
    `synced_revision` is what Slack shows (-1: not posted yet).
    """

    __tablename__ = "slack_message"
    __table_args__ = (
        Index("ix_slack_message_pending_due", "pending", "due_at"),
        Index("ix_slack_message_subject", "kind", "subject_id"),
        Index("ix_slack_message_channel_ts", "channel", "ts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    subject_id: str = Field(max_length=64)
    channel: str = Field(max_length=32)
    thread_root_id: int | None = Field(default=None, description="SlackMessage to reply under")
    conversation_key: str | None = Field(default=None, max_length=64)  # indexed: see the end
    ts: str | None = Field(default=None, max_length=32)
    revision: int = 0
    synced_revision: int = -1
    pending: bool = True
    due_at: datetime
    attempts: int = 0
    outcome_unknown: bool = Field(
        default=False, description="a post may have reached Slack without us learning its ts"
    )
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime
    # Issue 12 (Slack pacing): a channel's new messages go out in the order things happened —
    # a mention card by its tweet's id (X's ids grow with time), anything else by a snowflake of
    # when it was queued, so the two interleave by time.
    send_order: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )


class PollCursor(SQLModel, table=True):
    """Where polling of one X source (an account's mentions or a search) left off."""

    __tablename__ = "poll_cursor"

    key: str = Field(primary_key=True, max_length=200)
    since_id: str | None = Field(default=None, max_length=32)
    resume_token: str | None = Field(default=None, max_length=200, description="interrupted poll")
    pending_newest_id: str | None = Field(default=None, max_length=32)
    next_poll_at: datetime
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    failures: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime
    created_at: datetime | None = Field(
        default=None, description="first polled: an own timeline alerts on tweets from then on"
    )
    last_found_at: datetime | None = Field(
        default=None, description="last poll that found a new tweet: polling slows when quiet"
    )


class AuditEntry(SQLModel, table=True):
    """Append-only, hash-chained record of who did what. Never updated or deleted."""

    __tablename__ = "audit_entry"
    __table_args__ = (UniqueConstraint("seq", name="uq_audit_entry_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    seq: int
    at: datetime = Field(index=True)
    actor_id: str = Field(max_length=32)
    actor_name: str = Field(max_length=200)
    action: str = Field(index=True, max_length=64)
    subject: str = Field(index=True, max_length=200)
    before: str | None = Field(default=None, sa_column=Column(Text))
    after: str | None = Field(default=None, sa_column=Column(Text))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    scheme: int = Field(
        default=1,
        sa_column_kwargs={"server_default": "1"},
        description="1: plain SHA-256 chain (before keys); 2: HMAC-SHA256 with BRANDBOT_AUDIT_KEY",
    )


class DraftState(StrEnum):
    PENDING = "pending"  # waiting for approvals
    APPROVED = "approved"  # in the publish queue (waits for its schedule, the rate limit, a freeze)
    POSTING = "posting"  # an attempt to post was recorded; X may or may not have it
    POSTED = "posted"
    DELETING = "deleting"  # one person's confirmed take-down is being sent to X
    NEEDS_CHECK = "needs_check"  # X's answer was ambiguous: a person must look before any retry
    FAILED = "failed"  # X refused it; the card offers Retry
    HELD = "held"  # came due while publishing was frozen: a person releases or rejects it
    REJECTED = "rejected"
    EXPIRED = "expired"  # scheduled, but not approved by its time
    CANCELLED = "cancelled"
    DELETED = "deleted"  # posted, then taken down from X


class Draft(SQLModel, table=True):
    """A tweet that nobody can post alone: it needs approvals from people other than its author."""

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=15)
    segment: str = Field(index=True, max_length=64)
    author_id: str = Field(max_length=32)
    author_name: str = Field(max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    text_hash: str = Field(max_length=64, description="approvals bind to this exact text")
    in_reply_to: str | None = Field(default=None, index=True, max_length=32, description="tweet id")
    quote_of: str | None = Field(
        default=None, max_length=32, description="tweet id a quote post quotes (X's reply rule)"
    )
    candidates: str | None = Field(
        default=None, sa_column=Column(Text), description="JSON list of alternative texts (replies)"
    )
    schedule_at: datetime | None = None
    state: str = Field(default=DraftState.PENDING, index=True, max_length=16)
    version: int = 1
    due_at: datetime | None = Field(default=None, index=True)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    attempt_at: datetime | None = Field(default=None, description="last post attempt began")
    wanted_at: datetime | None = Field(
        default=None,
        description="when its approvers meant it to go out (approval or schedule): later than "
        "stale_after_minutes, an approver confirms it first",
    )
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    held_reason: str | None = Field(default=None, max_length=200)
    tweet_id: str | None = Field(
        default=None,
        unique=True,
        index=True,
        max_length=32,
        description="never shared by two drafts",
    )
    posted_at: datetime | None = None
    delete_requested_by: str | None = Field(default=None, max_length=32)
    deleted_by: str | None = Field(default=None, max_length=32)
    deleted_at: datetime | None = None
    rejected_by: str | None = Field(default=None, max_length=32)
    reject_reason: str | None = Field(default=None, sa_column=Column(Text))
    card_id: int | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def answers(self) -> str | None:
        """The mention (its tweet id) this draft answers: a reply to it, or a quote of it (X's
        reply rule). It is filed under, approved by the rules of, and redraws that mention."""
        return self.in_reply_to or self.quote_of

    @classmethod
    def answering(cls, mention_id: str) -> ColumnElement[bool]:
        """The drafts that answer this mention (a reply or a quote of it), for a query."""
        return or_(col(cls.in_reply_to) == mention_id, col(cls.quote_of) == mention_id)


class DraftApproval(SQLModel, table=True):
    """One person's approval of one exact text of a draft."""

    __tablename__ = "draft_approval"
    __table_args__ = (UniqueConstraint("draft_id", "approver_id", "text_hash", name="uq_approval"),)

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(index=True)
    approver_id: str = Field(max_length=32)
    approver_name: str = Field(max_length=200)
    text_hash: str = Field(max_length=64)
    at: datetime


class DraftEdit(SQLModel, table=True):
    """Who wrote which text of a draft: nobody may approve a text they wrote."""

    __tablename__ = "draft_edit"

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(index=True)
    editor_id: str = Field(max_length=32)
    editor_name: str = Field(max_length=200)
    text_hash: str = Field(max_length=64)
    at: datetime


class Freeze(SQLModel, table=True):
    """A crisis stop on publishing, for one account or all. Active until lifted or `until`."""

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(index=True, max_length=16, description="an account handle, or 'all'")
    reason: str = Field(sa_column=Column(Text, nullable=False))
    frozen_by: str = Field(max_length=32)
    frozen_by_name: str = Field(max_length=200)
    frozen_at: datetime
    until: datetime | None = None
    channel: str | None = Field(default=None, max_length=32, description="where it was ordered")
    lifted_at: datetime | None = None
    lifted_by: str | None = Field(default=None, max_length=32)


class SeenRequest(SQLModel, table=True):
    """A signed Slack request already handled: a replay of it (within Slack's 5-minute window)
    does nothing. Rows older than the window are pruned."""

    __tablename__ = "seen_request"

    digest: str = Field(primary_key=True, max_length=64, description="SHA-256 of timestamp+body")
    seen_at: datetime = Field(index=True)


class ConfigOverride(SQLModel, table=True):
    """One value an admin set from Slack, winning over app.yaml until reset: `scope` is a segment
    name (or "_routing"), `key` a field of it ("channel", "follow.keywords", "rules"), `value` its
    JSON. Validated as a whole config before it is stored (bot/steering)."""

    __tablename__ = "config_override"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_config_override_scope_key"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=64)
    key: str = Field(max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))
    set_by: str = Field(max_length=32)
    set_by_name: str = Field(max_length=200)
    set_at: datetime


class ConfigRevision(SQLModel, table=True):
    """One row, bumped by every override change in the same transaction: each replica compares
    it with the revision it built its effective config from, and rebuilds when it moved."""

    __tablename__ = "config_revision"

    id: int = Field(default=1, primary_key=True)
    revision: int = 0


class Announcement(SQLModel, table=True):
    """A note the app posts once in a channel (e.g. "@ada moved Customer relations here"):
    the outbox's subject for it, so it is delivered like every card, durably and once."""

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime


class HomeTab(SQLModel, table=True):
    """A member who opened brandbot's Home tab, so it is kept current for them: what was last
    published there (its hash, so an unchanged view is not sent again, whichever replica renders
    it) and when it is next due. `revision` counts requests to re-render (a change, a notice);
    a publish that rendered an older revision leaves the row due."""

    __tablename__ = "home_tab"

    user_id: str = Field(primary_key=True, max_length=32)
    opened_at: datetime
    revision: int = 0
    due_at: datetime = Field(
        index=True, description="re-render then (a change, or to keep ages true)"
    )
    retry_at: datetime | None = Field(default=None, description="Slack failed: not before then")
    attempts: int = 0
    published_hash: str | None = Field(default=None, max_length=64)
    published_at: datetime | None = None
    notice: str | None = Field(
        default=None, sa_column=Column(Text), description="outcome shown on top"
    )
    notice_until: datetime | None = None
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class MentionNote(SQLModel, table=True):
    """An internal note on a mention: posted in its card's thread, never sent to X."""

    __tablename__ = "mention_note"

    id: int | None = Field(default=None, primary_key=True)
    mention_id: str = Field(index=True, max_length=32)
    author_id: str = Field(max_length=32)
    author_name: str = Field(max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime


class XAuthor(SQLModel, table=True):
    """What X says of a mention's author, fetched once and kept (a user read costs money)."""

    __tablename__ = "x_author"

    author_id: str = Field(primary_key=True, max_length=32)
    handle: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    followers: int | None = None
    verified: bool | None = None
    created_at: datetime | None = Field(default=None, description="the account's creation")
    fetched_at: datetime
    error: str | None = Field(default=None, sa_column=Column(Text))


class XRead(SQLModel, table=True):
    """How much brandbot read from X on one UTC day (X bills per UTC day), by endpoint: the
    requests made and the resources (posts, users) they returned, for the reports' cost estimate."""

    __tablename__ = "x_read"

    day: str = Field(primary_key=True, max_length=10, description="YYYY-MM-DD, UTC")
    endpoint: str = Field(
        primary_key=True, max_length=32, description="mentions, search, timeline, tweet, user"
    )
    requests: int = 0
    resources: int = 0


class ReportDigest(SQLModel, table=True):
    """One digest of the report (a period kind and its start), inserted once whichever process
    sees it due first, then delivered to Slack by one of them under a lease. `attempted_at` is
    set before the first upload begins: any later attempt looks for the file in the channel
    before uploading again, so an answer lost mid-flow never posts it twice."""

    __tablename__ = "report_digest"
    __table_args__ = (
        UniqueConstraint("period", "period_start", name="uq_report_digest_period_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=8, description="hour, day or week")
    period_start: datetime
    period_end: datetime
    channel: str = Field(max_length=32)
    state: str = Field(default="pending", index=True, max_length=16, description="or 'posted'")
    due_at: datetime
    attempts: int = 0
    attempted_at: datetime | None = Field(default=None, description="an upload was begun")
    file_id: str | None = Field(default=None, max_length=32)
    posted_at: datetime | None = None
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime


class ResponseTimer(SQLModel, table=True):
    """A mention's first-response timer (policies/response_schedule.py): the next step and when
    it is due, what it has done, and who acknowledged it. One row per mention, made at ingest;
    the timer pass claims a due step with a conditional UPDATE on `version`, so one process
    fires it once. Whether the mention is answered or closed is read from it at fire time."""

    __tablename__ = "response_timer"

    mention_id: str = Field(primary_key=True, max_length=32)
    step: str | None = Field(default=None, max_length=16, description="next step; None: stopped")
    due_at: datetime | None = Field(default=None, index=True)
    last_step: str | None = Field(default=None, max_length=16)
    last_sent_at: datetime | None = Field(default=None, description="the last reminder message")
    reminders: int = 0
    plan: str = Field(max_length=200, description="the settings due_at was worked out from")
    stopped: str | None = Field(
        default=None, max_length=16, description="answered, closed, acknowledged, gone"
    )
    acknowledged_by: str | None = Field(default=None, max_length=32)
    acknowledged_by_name: str | None = Field(default=None, max_length=200)
    acknowledged_at: datetime | None = None
    version: int = 1


class MentionReminder(SQLModel, table=True):
    """One reminder (or escalation) posted in a mention card's thread: whom it named and how late
    the mention was, so the outbox renders it, and its Acknowledge button is found, from here."""

    __tablename__ = "mention_reminder"

    id: int | None = Field(default=None, primary_key=True)
    mention_id: str = Field(index=True, max_length=32)
    step: str = Field(max_length=16)
    notified: str = Field(sa_column=Column(Text, nullable=False), description="JSON principals")
    target_minutes: int
    created_at: datetime


class OutsidePostState(StrEnum):
    ALERTED = "alerted"  # the alert is in the alert channel; nobody has acted yet
    EXPECTED = "expected"  # an admin recorded why it is fine
    DELETE_REQUESTED = "delete_requested"  # one person asked to take it down; another confirms
    DELETING = "deleting"  # the confirmed take-down is being sent to X
    DELETED = "deleted"  # taken down from X
    GONE = "gone"  # X no longer had it when we tried (deleted on X directly)


class OutsidePost(SQLModel, table=True):
    """A tweet by a brand account that brandbot did not post (someone with the password, a
    scheduler, a hacker): one row, one alert, whichever poll or process saw it first — the
    primary key is X's tweet id."""

    __tablename__ = "outside_post"

    tweet_id: str = Field(primary_key=True, max_length=32)
    account: str = Field(max_length=15, description="the brand handle that posted it")
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(index=True, description="the tweet's own time on X")
    source: str | None = Field(default=None, max_length=200, description="X's client name")
    in_reply_to: str | None = Field(default=None, max_length=32, description="tweet it answers")
    resembles_draft: int | None = Field(
        default=None, description="an in-flight draft it looked like when the wait ran out"
    )
    state: str = Field(default=OutsidePostState.ALERTED, index=True, max_length=16)
    version: int = 1
    seen_at: datetime
    expected_by: str | None = Field(default=None, max_length=32)
    expected_by_name: str | None = Field(default=None, max_length=200)
    expected_reason: str | None = Field(default=None, sa_column=Column(Text))
    expected_at: datetime | None = None
    delete_requested_by: str | None = Field(default=None, max_length=32)
    delete_requested_at: datetime | None = None
    deleted_by: str | None = Field(default=None, max_length=32)
    deleted_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    card_id: int | None = Field(default=None, description="the alert (SlackMessage.id)")
    updated_at: datetime


class SpikeAlert(SQLModel, table=True):
    """One storm of an account's mentions, alerted once (`bot/alerts/spikes.py`).

    `open_for` holds the account while the storm lasts and is cleared when it ends: being unique,
    it lets only one process open a spike for an account, and a new storm after the end opens a
    new row. The counts, levels, terms and example tweets are those seen when it fired."""

    __tablename__ = "spike_alert"

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(index=True, max_length=15)
    open_for: str | None = Field(default=None, unique=True, max_length=15)
    started_at: datetime
    last_hot_at: datetime = Field(description="last pass the storm was still at half its level")
    ended_at: datetime | None = None
    trigger: str = Field(max_length=32, description="negative, volume, or negative and volume")
    window_minutes: int
    negative: int
    mentions: int
    negative_baseline: float = Field(description="mean per window at that time, previous days")
    mentions_baseline: float
    baseline_days: int = Field(description="days that fed the baseline; 0: the floors decided")
    negative_level: float = Field(description="what the negative count had to reach")
    mentions_level: float
    peak_negative: int
    peak_mentions: int
    terms: str = Field(sa_column=Column(Text, nullable=False), description="JSON list")
    examples: str = Field(
        sa_column=Column(Text, nullable=False), description="JSON list of mention ids"
    )
    card_id: int | None = Field(default=None, description="the alert (SlackMessage.id)")
    freeze_id: int | None = Field(default=None, description="the freeze ordered from the alert")
    frozen_by: str | None = Field(default=None, max_length=32)
    frozen_by_name: str | None = Field(default=None, max_length=200)
    frozen_at: datetime | None = None


# The spike detector counts an account's (negative) mentions by tweet time after every poll:
# covering, so counting reads the index alone.
Index(
    "ix_mention_account_tweeted_at",
    col(Mention.account),
    col(Mention.tweeted_at),
    col(Mention.sentiment),
)


# -- Issue 12: Slack pacing ------------------------------------------------------------------


class SlackPace(SQLModel, table=True):
    """How fast brandbot may call Slack for one key, shared by every replica: a channel's token
    bucket (`channel:C…`) or a method's hold after a 429 (`method:views.publish`)."""

    __tablename__ = "slack_pace"

    key: str = Field(primary_key=True, max_length=96)
    tokens: float = Field(description="sends left in the bucket at refilled_at")
    refilled_at: datetime
    held_until: datetime | None = Field(default=None, description="Slack's Retry-After ends")


# -- Issue 12: several replicas ------------------------------------------------------------------


class LeaderLease(SQLModel, table=True):
    """Who polls X, where no advisory lock exists (SQLite): renewed by the leader, taken over
    once it runs out. On PostgreSQL the leader holds an advisory lock instead."""

    __tablename__ = "leader_lease"

    name: str = Field(primary_key=True, max_length=32)
    owner: str = Field(max_length=64)
    lease_until: datetime
    acquired_at: datetime


# -- Issue 12: X spend under control ---------------------------------------------------------


class XBudgetAlert(SQLModel, table=True):
    """One warning that a month's X reads passed a threshold of `x_budget` (warn_at_percent or
    100): the primary key lets one process insert it, and its card is queued in that same
    transaction, so admins hear of each threshold once per month across restarts and replicas."""

    __tablename__ = "x_budget_alert"

    month: str = Field(primary_key=True, max_length=7, description="YYYY-MM, UTC")
    threshold: int = Field(primary_key=True, description="percent of the budget")
    raised_at: datetime
    reads: int = Field(description="resources read this month when it was raised")
    usd: float = Field(description="their estimated cost at x_prices")
    percent: float = Field(description="share of the budget used (the higher of reads and $)")
    card_id: int | None = Field(default=None, description="the alert (SlackMessage.id)")


# -- Issue 12: surge summaries (bot/mentions/surge.py) ---------------------------------------


class Surge(SQLModel, table=True):
    """More mention cards for one channel than Slack's pace could deliver within
    `surge.max_wait_seconds`: one summary card stands for them while it lasts.

    `open_for` holds the channel while the surge lasts and is cleared when it ends: being unique,
    it lets only one process open a surge for a channel, and a later storm opens a new row."""

    __tablename__ = "surge"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(index=True, max_length=32)
    open_for: str | None = Field(default=None, unique=True, max_length=32)
    started_at: datetime
    last_folded_at: datetime
    ended_at: datetime | None = None
    mentions: int = Field(default=0, description="mentions folded into it so far")
    card_id: int | None = Field(default=None, description="the summary (SlackMessage.id)")


class SurgeMention(SQLModel, table=True):
    """A mention a surge summary stands for instead of its own card: the primary key keeps it in
    one summary at most, and its card was never posted (the fold retired it)."""

    __tablename__ = "surge_mention"
    __table_args__ = (Index("ix_surge_mention_surge_shown", "surge_id", "shown_at"),)

    mention_id: str = Field(primary_key=True, max_length=32)
    surge_id: int
    folded_at: datetime = Field(index=True)
    shown_at: datetime | None = Field(
        default=None, description="its card was posted in the summary's thread"
    )


# Ingest speed (issue 12). Each page of ingest asks, for its conversations, for their first card
# in each channel and for their answered mentions: indexes that lead with the conversation keep
# those lookups a few rows each, however many cards and answered mentions are stored (without
# them SQLite reads through the index on `kind` or `state`, which every row shares). Each
# replaces the one-column index on the conversation, which it serves too.
Index(
    "ix_slack_message_conversation_root",
    col(SlackMessage.conversation_key),
    col(SlackMessage.kind),
    col(SlackMessage.thread_root_id),
    col(SlackMessage.channel),
)
Index("ix_mention_conversation_state", col(Mention.conversation_id), col(Mention.state))
