"""The report's figures against a hand-computed day of mentions, drafts, audit entries and reads
(on a real database). Every mention is ingested 30 minutes after it was tweeted, so a figure
measured from ingest times instead of tweet times would come out different (even negative)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from support import TEST_CONFIG

from bot.core import audit
from bot.core.db import transaction
from bot.core.models import Draft, DraftState, Mention, MentionState, XRead
from bot.reports.figures import Report, build_report
from bot.reports.rendering import CSV_COLUMNS, report_json, to_csv, to_mrkdwn, to_text
from policies.config import BrandConfig, parse_config
from policies.report_period import last_complete

DAY = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday; the report runs the next morning
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
INGEST_DELAY = timedelta(minutes=30)


def at(hh: int, mm: int = 0, *, day: datetime = DAY) -> datetime:
    return day.replace(hour=hh, minute=mm)


def mention(
    tweet_id: str,
    tweeted: datetime,
    *,
    segment: str = "customer_relations",
    state: MentionState = MentionState.OPEN,
    replied: datetime | None = None,
    via: str = "brandbot",
    closed: datetime | None = None,
    claimed: bool = False,
    reason: str | None = None,
    tags: list[str] | None = None,
    sentiment: float = 0.0,
    follow_up_of: str | None = None,
) -> Mention:
    return Mention(
        id=tweet_id,
        account="acme",
        author_id="200001",
        author_handle="dana",
        text=f"@acme tweet {tweet_id}",
        url=f"https://x.com/dana/status/{tweet_id}",
        tweeted_at=tweeted,
        ingested_at=tweeted + INGEST_DELAY,
        conversation_id=follow_up_of or tweet_id,
        sentiment=sentiment,
        found_by="mentions:acme",
        segment=segment,
        route_reason="test",
        state=state,
        replied_at=replied,
        replied_via=via if replied else None,
        closed_at=closed,
        closed_by="U0BOB" if closed else None,
        claimed_by="U0BOB" if claimed else None,
        claimed_at=tweeted + timedelta(minutes=1) if claimed else None,
        dismiss_reason=reason,
        tags=json.dumps(tags) if tags else None,
        follow_up_of=follow_up_of,
    )


def draft(
    state: DraftState,
    author: str,
    *,
    posted: datetime | None,
    updated: datetime,
    reason: str | None = None,
) -> Draft:
    return Draft(
        account="acme",
        segment="customer_relations",
        author_id=f"U0{author.upper()}",
        author_name=author,
        text=f"text by {author} {updated}",
        text_hash=f"{author}{updated}",
        state=state,
        posted_at=posted,
        reject_reason=reason,
        created_at=updated,
        updated_at=updated,
    )


@pytest.fixture
def config() -> BrandConfig:
    return parse_config(TEST_CONFIG, filename="test.yaml")


@pytest.fixture
def report(engine: Engine, config: BrandConfig) -> Report:
    S = MentionState
    rows = [
        # customer relations, target 15 minutes
        mention("1", at(9), state=S.REPLIED, replied=at(9, 5), claimed=True, sentiment=-0.6),
        mention(
            "2",
            at(10),
            state=S.RESOLVED,
            replied=at(10, 20),
            closed=at(11),
            claimed=True,
            tags=["outage"],
        ),
        mention("3", at(11), state=S.REPLIED, replied=at(11, 10), via="x"),
        mention("4", at(12), state=S.DISMISSED, closed=at(12, 5), reason="spam"),
        mention("5", at(13)),  # never answered: a miss by the window's end
        mention("6", at(23, 55)),  # still inside its target at the end: pending
        mention("7", at(14), state=S.RESOLVED, closed=at(16), tags=["outage", "refund"]),
        mention(
            "f1", at(9, 30), state=S.RESOLVED, closed=at(9, 31), sentiment=0.6, follow_up_of="1"
        ),
        mention(
            "f2", at(9, 40), state=S.RESOLVED, closed=at(9, 41), sentiment=-0.9, follow_up_of="1"
        ),
        # the day before: not in the report
        mention(
            "0",
            at(23, day=DAY - timedelta(days=1)),
            state=S.REPLIED,
            replied=at(23, 59, day=DAY - timedelta(days=1)),
        ),
        # crisis management, target 10 minutes
        mention("c1", at(8), segment="crisis_management", state=S.REPLIED, replied=at(8, 30)),
        mention("c2", at(8), segment="crisis_management", state=S.REPLIED, replied=at(8, 4)),
    ]
    with transaction(engine) as session:
        session.add_all(rows)
        session.add_all(
            [
                draft(DraftState.POSTED, "ada", posted=at(9, 5), updated=at(9, 5)),
                draft(DraftState.POSTED, "bob", posted=at(10, 20), updated=at(10, 20)),
                draft(DraftState.DELETED, "bob", posted=at(11), updated=at(12)),
                draft(
                    DraftState.POSTED,
                    "ada",
                    posted=at(22, day=DAY - timedelta(days=1)),
                    updated=at(22, day=DAY - timedelta(days=1)),
                ),
                draft(
                    DraftState.REJECTED,
                    "eve",
                    posted=None,
                    updated=at(12),
                    reason="off tone\nmore detail",
                ),
            ]
        )
        session.add_all(
            [
                XRead(day="2026-11-30", endpoint="mentions", requests=10, resources=100),
                XRead(day="2026-11-30", endpoint="search", requests=2, resources=50),
                XRead(day="2026-12-01", endpoint="search", requests=9, resources=999),  # after
            ]
        )
        audit.record(
            session,
            actor=audit.SYSTEM,
            action="x.post_around_brandbot",
            subject="tweet:99",
            at=at(11, 10),
            after={"account": "acme", "text": "hi", "source": "Web", "created_at": "…"},
        )
    return build_report(engine, config, last_complete("day", NOW, "UTC"))


def test_the_window_is_yesterday_in_the_team_time_zone(report: Report) -> None:
    assert (report.window.start, report.window.end) == (DAY, DAY + timedelta(days=1))


def test_counts_per_segment(report: Report) -> None:
    care = report.segments["customer_relations"]
    assert care.mentions == 9
    assert (care.claimed, care.replied, care.replied_on_x) == (2, 3, 1)
    assert (care.resolved, care.resolved_without_reply) == (4, 3)
    assert (care.dismissed, care.dismissed_by_reason) == (1, {"spam": 1})
    assert care.open == 2
    assert care.tags == {"outage": 2, "refund": 1}
    assert report.segments["crisis_management"].mentions == 2
    assert report.segments["event_coverage"].mentions == 0
    assert report.total.mentions == 11


def test_first_response_from_tweet_times_nearest_rank(report: Report) -> None:
    care = report.segments["customer_relations"].first_response
    # replies 5, 20 and 10 minutes after the tweets: sorted 300, 600, 1200 seconds
    assert (care.count, care.p50, care.p90) == (3, 600, 1200)
    crisis = report.segments["crisis_management"].first_response
    assert (crisis.p50, crisis.p90) == (240, 1800)
    total = report.total.first_response
    assert (total.count, total.p50, total.p90) == (5, 600, 1800)


def test_within_target_counts_unanswered_mentions_past_target_as_misses(report: Report) -> None:
    care = report.segments["customer_relations"]
    # met: 1 (5m), 3 (10m), 4 dismissed in 5m, f1 and f2 resolved in 1m
    # missed: 2 (20m), 5 (never), 7 (resolved after 2h); pending: 6 (5 minutes before the end)
    assert (care.within_target, care.missed, care.pending) == (5, 3, 1)
    assert care.within_target_share == pytest.approx(5 / 8)
    assert care.target_seconds == 900
    assert report.total.within_target_share == pytest.approx(6 / 10)


def test_time_to_resolve(report: Report) -> None:
    spread = report.segments["customer_relations"].resolve
    assert (spread.count, spread.p50, spread.p90) == (4, 60, 7200)


def test_sentiment_incoming_and_after_our_reply(report: Report) -> None:
    mood = report.segments["customer_relations"].sentiment
    assert mood.incoming_mean == pytest.approx(-0.1)
    assert (mood.negative, mood.neutral, mood.positive) == (2, 6, 1)
    after = mood.after_reply  # only the first message after the reply counts
    assert (after.conversations, after.before_mean, after.after_mean, after.improved) == (
        1,
        -0.6,
        0.6,
        1,
    )


def test_posts_drafts_around_brandbot_and_reads(report: Report) -> None:
    assert report.posts_by_account == {"acme": 3}  # a deleted post was still published
    assert report.posts_by_author == {"bob": 2, "ada": 1}
    care = report.segments["customer_relations"]
    assert (care.drafts_rejected, care.drafts_rejected_by_reason) == (1, {"off tone": 1})
    assert report.around_brandbot_by_account == {"acme": 1}
    assert report.reads_days == ("2026-11-30", "2026-11-30")
    assert report.reads["mentions"].price_kind == "owned_read"
    assert report.reads["search"].price_kind == "post_read"
    assert report.read_cost_usd == pytest.approx(100 * 0.001 + 50 * 0.005)


def test_volume_per_hour(report: Report) -> None:
    assert len(report.volume_edges) == 25
    care = report.volume["customer_relations"]
    assert care[9] == 3 and care[23] == 1 and sum(care) == 9


def test_json_carries_the_same_figures(report: Report) -> None:
    data = report_json(report)
    care = data["segments"]["customer_relations"]
    assert care["first_response_seconds"]["p50"] == 600
    assert care["first_response_seconds"]["within_target_share"] == 0.625
    assert care["mentions"] == 9
    assert data["total"]["first_response_seconds"]["p90"] == 1800
    assert data["posts"]["around_brandbot"] == 1
    assert data["x_reads"]["estimated_cost_usd"] == pytest.approx(0.35)
    json.dumps(data)  # serialisable as it is


def test_csv_has_a_row_per_segment_and_the_total(report: Report) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert [r["segment"] for r in rows] == [*report.segments, "total"]
    assert list(rows[0]) == CSV_COLUMNS
    care = next(r for r in rows if r["segment"] == "customer_relations")
    assert (care["mentions"], care["first_response_p50_seconds"]) == ("9", "600")
    assert rows[-1]["within_target_share"] == "0.6"


def test_text_fits_one_screen_and_names_the_figures(report: Report) -> None:
    text = to_text(report)
    lines = text.splitlines()
    assert len(lines) <= 30 and max(len(line) for line in lines) <= 160
    assert "Acme report: Mon 30 Nov 2026 (UTC)" in lines[0]
    care = next(line for line in lines if line.startswith("customer_relations"))
    assert care.split()[1:4] == ["9", "2", "3"] and "10m" in care and "62%" in care
    assert "1 posted around brandbot" in text and "$0.35" in text
    assert "```" in to_mrkdwn(report)
