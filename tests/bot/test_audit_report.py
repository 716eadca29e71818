"""`audit who` answers who tweeted what; `audit export` streams the log with its hashes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.core import audit, migrate
from bot.core.audit_report import (
    EXPORT_COLUMNS,
    ExportFormat,
    export_entries,
    parse_since,
    parse_tweet_ref,
    render_who,
    who_tweeted,
)
from bot.core.clock import FakeClock
from bot.core.db import make_engine, transaction

REPO = Path(__file__).resolve().parents[2]
TWEET = "1861234567890123456"
MENTION = "1861234500000000001"
OTHER_TWEET = "1861234567890999999"
ALICE = audit.Actor("U0ALICE", "Alice")
BOB = audit.Actor("U0BOB", "Bob")
CAROL = audit.Actor("U0CAROL", "Carol")
DAVE = audit.Actor("U0DAVE", "Dave")
START = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)
CLI_AUDIT_KEY = b"audit-report-test-key-0123456789abcdef"  # the audited_db fixture's chain key


def _record(
    engine: Engine,
    clock: FakeClock,
    actor: audit.Actor,
    action: str,
    subject: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    clock.advance(minutes=1)
    with transaction(engine) as session:
        audit.record(
            session,
            actor=actor,
            action=action,
            subject=subject,
            at=clock.now(),
            before=before,
            after=after,
        )


def write_history(engine: Engine) -> FakeClock:
    """A reply that needed two approvals, interleaved with an unrelated draft. 14 entries."""
    clock = FakeClock(START)
    mention = f"mention:{MENTION}"
    _record(
        engine,
        clock,
        audit.SYSTEM,
        "mention.ingest",
        mention,
        after={"tweet": MENTION, "author": "angry_customer", "segment": "customer_relations"},
    )
    _record(engine, clock, ALICE, "mention.claim", mention, after={"state": "claimed"})
    _record(
        engine,
        clock,
        ALICE,
        "draft.create",
        "draft:7",
        after={
            "text": "Sorry about that! We're on it.",
            "account": "acme",
            "segment": "customer_relations",
            "in_reply_to": MENTION,
        },
    )
    _record(
        engine,
        clock,
        DAVE,
        "draft.create",
        "draft:8",
        after={"text": "Unrelated", "account": "acme", "segment": "product_promotion"},
    )
    _record(
        engine,
        clock,
        ALICE,
        "draft.edit",
        "draft:7",
        before={"text": "Sorry about that! We're on it."},
        after={"text": "Sorry about that! We're fixing it now."},
    )
    _record(
        engine,
        clock,
        ALICE,
        "draft.refused",
        "draft:7",
        after={"attempted": "approve", "reason": "authors cannot approve their own draft"},
    )
    _record(engine, clock, BOB, "draft.approve", "draft:8", after={"text_hash": "x"})
    _record(engine, clock, BOB, "draft.approve", "draft:7", after={"text_hash": "h"})
    _record(engine, clock, DAVE, "draft.reject", "draft:7", after={"reason": "tone: too casual"})
    _record(engine, clock, CAROL, "draft.approve", "draft:7", after={"text_hash": "h"})
    _record(engine, clock, audit.SYSTEM, "draft.approved", "draft:7", after={"text_hash": "h"})
    _record(
        engine,
        clock,
        audit.SYSTEM,
        "draft.post",
        "draft:7",
        after={
            "tweet_id": TWEET,
            "url": f"https://x.com/acme/status/{TWEET}",
            "account": "acme",
            "recovered": False,
        },
    )
    _record(
        engine,
        clock,
        audit.SYSTEM,
        "draft.post",
        "draft:8",
        after={
            "tweet_id": OTHER_TWEET,
            "url": f"https://x.com/acme/status/{OTHER_TWEET}",
            "account": "acme",
        },
    )
    _record(engine, clock, ALICE, "mention.resolve", mention, after={"state": "resolved"})
    return clock


# --- who ---------------------------------------------------------------------------------------


def test_who_tweeted_follows_the_draft_and_the_mention_it_answered(engine: Engine) -> None:
    write_history(engine)
    with transaction(engine) as session:
        history = who_tweeted(session, TWEET)
    assert history is not None
    assert (history.tweet_id, history.account, history.draft_id) == (TWEET, "acme", "7")
    assert history.url == f"https://x.com/acme/status/{TWEET}"
    assert history.in_reply_to == MENTION
    assert [s.action for s in history.steps] == [
        "mention.ingest",
        "mention.claim",
        "draft.create",
        "draft.edit",
        "draft.refused",
        "draft.approve",
        "draft.reject",
        "draft.approve",
        "draft.approved",
        "draft.post",
        "mention.resolve",
    ]
    assert all(s.subject in ("draft:7", f"mention:{MENTION}") for s in history.steps)
    assert [s.seq for s in history.steps] == sorted(s.seq for s in history.steps)
    assert history.actors("draft.approve") == [("U0BOB", "Bob"), ("U0CAROL", "Carol")]
    assert [s.outcome for s in history.steps if s.marked] == ["refused", "rejected"]


def test_render_who_names_everyone_in_order(engine: Engine) -> None:
    write_history(engine)
    with transaction(engine) as session:
        history = who_tweeted(session, TWEET)
    assert history is not None
    text = render_who(history)
    expected_in_order = [
        f"Tweet {TWEET} on @acme: https://x.com/acme/status/{TWEET}",
        f"Draft 7, a reply to mention {MENTION}",
        f"Mention {MENTION} ingested by brandbot at 2026-11-23 09:01:00 UTC from @angry_customer",
        f"Mention {MENTION} claimed by Alice (U0ALICE)",
        "Drafted by Alice (U0ALICE) at 2026-11-23 09:03:00 UTC for @acme",
        "Edited by Alice (U0ALICE)",
        "“Sorry about that! We're fixing it now.”",
        "✗",
        "REFUSED: Alice (U0ALICE) tried to approve",
        "authors cannot approve their own draft",
        "Approved by Bob (U0BOB)",
        "REJECTED by Dave (U0DAVE)",
        "tone: too casual",
        "Approved by Carol (U0CAROL)",
        f"Posted as @acme by brandbot at 2026-11-23 09:12:00 UTC → https://x.com/acme/status/{TWEET}",
        f"Mention {MENTION} resolved by Alice (U0ALICE)",
    ]
    position = 0
    for fragment in expected_in_order:
        found = text.find(fragment, position)
        assert found >= 0, f"{fragment!r} missing or out of order in:\n{text}"
        position = found + len(fragment)
    assert "Unrelated" not in text and "draft:8" not in text
    assert text.count("Approved by") == 2  # Bob's approval of draft 8 is not part of it


def test_who_tweeted_without_a_mention_and_for_unknown_tweets(engine: Engine) -> None:
    write_history(engine)
    with transaction(engine) as session:
        other = who_tweeted(session, OTHER_TWEET)
        assert who_tweeted(session, TWEET[:-1]) is None  # a prefix of a real id is not a match
        assert who_tweeted(session, "42") is None
        assert who_tweeted(session, "%") is None
    assert other is not None and other.in_reply_to is None
    assert [(s.action, s.actor_id) for s in other.steps] == [
        ("draft.create", "U0DAVE"),
        ("draft.approve", "U0BOB"),
        ("draft.post", "brandbot"),
    ]
    assert "a reply to mention" not in render_who(other)


def test_who_tweeted_on_an_empty_log(engine: Engine) -> None:
    with transaction(engine) as session:
        assert who_tweeted(session, TWEET) is None


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    [
        TWEET,
        f"  {TWEET}\n",
        f"https://x.com/acme/status/{TWEET}",
        f"https://x.com/acme/status/{TWEET}/",
        f"https://x.com/acme/status/{TWEET}?s=20&t=abc",
        f"https://x.com/acme/status/{TWEET}/photo/1",
        f"https://x.com/acme/status/{TWEET}#m",
        f"http://www.x.com/acme/status/{TWEET}",
        f"https://twitter.com/Acme_Help/status/{TWEET}",
        f"https://www.twitter.com/acme/statuses/{TWEET}",
        f"https://mobile.twitter.com/acme/status/{TWEET}?lang=en",
        f"HTTPS://X.COM/acme/status/{TWEET}",
        f"x.com/acme/status/{TWEET}",
        f"https://x.com/i/web/status/{TWEET}",
        f"https://x.com/i/status/{TWEET}",
    ],
)
def test_parse_tweet_ref_accepts_ids_and_status_urls(ref: str) -> None:
    assert parse_tweet_ref(ref) == TWEET


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("", "empty tweet reference"),
        ("   ", "empty tweet reference"),
        ("abc", "not a tweet id or X status URL: 'abc' \\("),
        ("12a4", "not a tweet id or X status URL: '12a4'"),
        ("-123", "not a tweet id or X status URL: '-123'"),
        ("1" * 21, "not a tweet id or X status URL"),
        (f"https://example.com/acme/status/{TWEET}", "host 'example.com' is not x.com"),
        (f"https://x.com.evil.com/acme/status/{TWEET}", "host 'x.com.evil.com' is not x.com"),
        ("https://x.com/acme", "no /status/<id> in the path"),
        ("https://x.com/acme/status/", "no /status/<id> in the path"),
        ("https://x.com/acme/status/12ab", "no /status/<id> in the path"),
        (f"https://x.com/acme/likes/{TWEET}", "no /status/<id> in the path"),
        (f"https://x.com/not-a-handle!/status/{TWEET}", "no /status/<id> in the path"),
        (f"ftp://x.com/acme/status/{TWEET}", "ftp: is not a web address"),
    ],
)
def test_parse_tweet_ref_rejects_anything_else_clearly(ref: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse_tweet_ref(ref)
    assert "https://x.com/<handle>/status/<id>" in str(raised.value)


NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        ("0d", NOW),
        (" 7D ", NOW - timedelta(days=7)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T09:30", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
        ("2026-11-01 09:30:15", datetime(2026, 11, 1, 9, 30, 15, tzinfo=UTC)),
        ("2026-11-01T09:30:00Z", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
        ("2026-11-01T10:30:00+01:00", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_parse_since(value: str, expected: datetime) -> None:
    parsed = parse_since(value, NOW)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value", ["", "7", "d", "-7d", "7y", "7 days", "1.5h", "yesterday", "2026-13-01", "2026/11/01"]
)
def test_parse_since_rejects_garbage(value: str) -> None:
    with pytest.raises(ValueError, match="30m, 24h, 7d, 2w"):
        parse_since(value, NOW)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("999999999d", "before year 1"),
        ("9" * 5000 + "d", "at most 9 digits"),  # int() refuses over 4,300 digits, unclearly
        ("\u0663d", "30m, 24h, 7d, 2w"),  # an Arabic-Indic 3: a digit to `\\d`, not to a person
    ],
)
def test_parse_since_bounds_its_number(value: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_since(value, NOW)


# --- export ------------------------------------------------------------------------------------


def _export(
    source: Session | Engine, fmt: ExportFormat, since: datetime | None = None, batch: int = 1000
) -> tuple[int, str]:
    out = io.StringIO(newline="")
    count = export_entries(source, since=since, fmt=fmt, out=out, batch=batch)
    return count, out.getvalue()


def _assert_self_verifying(rows: list[dict[str, Any]], key: bytes) -> None:
    """The exported columns are exactly what each hash covers, and each links to the last."""
    for row, previous in zip(rows[1:], rows, strict=False):
        assert row["prev_hash"] == previous["hash"]
    for row in rows:
        material = {**row, "at": datetime.fromisoformat(row["at"])}
        assert audit.entry_hash(material, row["prev_hash"], key=key) == row["hash"]


@pytest.mark.parametrize("batch", [1000, 3])
def test_export_jsonl_round_trips_every_entry_with_its_hashes(engine: Engine, batch: int) -> None:
    write_history(engine)
    count, text = _export(engine, "jsonl", batch=batch)
    rows = [json.loads(line) for line in text.splitlines()]
    assert count == len(rows) == 14
    assert [r["seq"] for r in rows] == list(range(1, 15))
    assert all(tuple(r) == EXPORT_COLUMNS for r in rows)
    assert rows[0]["prev_hash"] == audit.GENESIS_HASH
    assert rows[0]["at"] == "2026-11-23T09:01:00.000000+00:00"
    post = rows[11]
    assert post["action"] == "draft.post" and json.loads(post["after"])["tweet_id"] == TWEET
    assert rows[1]["before"] is None
    _assert_self_verifying(rows, audit.key_for(engine))


def test_export_csv_round_trips_with_a_header(engine: Engine) -> None:
    write_history(engine)
    count, text = _export(engine, "csv", batch=4)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == EXPORT_COLUMNS
    rows: list[dict[str, Any]] = [
        {**r, "seq": int(r["seq"]), "before": r["before"] or None, "after": r["after"] or None}
        for r in reader
    ]
    assert count == len(rows) == 14
    assert rows[2]["actor_name"] == "Alice" and rows[2]["action"] == "draft.create"
    assert json.loads(rows[2]["after"])["text"] == "Sorry about that! We're on it."
    _assert_self_verifying(rows, audit.key_for(engine))


def test_export_since_filters_by_time_and_accepts_a_session(engine: Engine) -> None:
    write_history(engine)  # entries at 09:01 … 09:14
    with transaction(engine) as session:
        count, text = _export(session, "jsonl", since=START + timedelta(minutes=12), batch=2)
    rows = [json.loads(line) for line in text.splitlines()]
    assert count == 3 and [r["seq"] for r in rows] == [12, 13, 14]
    assert _export(engine, "csv", since=START + timedelta(days=1))[0] == 0
    assert _export(engine, "csv", since=START + timedelta(days=1))[1].startswith("seq,at,")


def test_export_of_an_empty_log(engine: Engine) -> None:
    assert _export(engine, "jsonl") == (0, "")


def test_export_rejects_an_unknown_format(engine: Engine) -> None:
    with pytest.raises(ValueError, match="jsonl, csv"):
        _export(engine, "xml")  # type: ignore[arg-type]  # a format it does not have, on purpose


# --- the command line --------------------------------------------------------------------------


def brandbot(*args: str, database: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "DATABASE_URL": f"sqlite:///{database}"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


@pytest.fixture
def audited_db(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    audit.use_key(engine, CLI_AUDIT_KEY)
    write_history(engine)
    engine.dispose()
    return path


@pytest.mark.parametrize(
    "ref", [TWEET, f"https://twitter.com/acme/status/{TWEET}?s=20", f"x.com/acme/status/{TWEET}/"]
)
def test_cli_who_prints_the_chain(audited_db: Path, ref: str) -> None:
    result = brandbot("audit", "who", ref, database=audited_db)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"Tweet {TWEET} on @acme: https://x.com/acme/status/{TWEET}")
    names = ["Drafted by Alice", "REFUSED: Alice", "Approved by Bob", "Approved by Carol"]
    positions = [out.index(name) for name in [*names, "Posted as @acme by brandbot"]]
    assert positions == sorted(positions)


def test_cli_who_unknown_tweet_exits_1(audited_db: Path) -> None:
    result = brandbot("audit", "who", "1111111111111111111", database=audited_db)
    assert result.returncode == 1
    assert "no tweet 1111111111111111111 in the audit log" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("ref", ["not-a-tweet", "https://example.com/acme/status/123"])
def test_cli_who_bad_reference_exits_2(audited_db: Path, ref: str) -> None:
    result = brandbot("audit", "who", ref, database=audited_db)
    assert result.returncode == 2
    assert ref in result.stderr and "https://x.com/<handle>/status/<id>" in result.stderr


def test_cli_export_to_stdout_and_to_a_file(audited_db: Path, tmp_path: Path) -> None:
    result = brandbot("audit", "export", database=audited_db)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 14
    _assert_self_verifying(rows, CLI_AUDIT_KEY)

    target = tmp_path / "audit.csv"
    result = brandbot(
        "audit", "export", "--format", "csv", "--output", str(target), database=audited_db
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and f"exported 14 audit entries to {target}" in result.stderr
    with target.open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 14
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_cli_export_since_is_relative_to_now(audited_db: Path) -> None:
    # The entries are dated 2026-11-23 09:01-09:14 UTC; "7d" counts back from the real clock.
    result = brandbot("audit", "export", "--since", "2026-11-23T09:13:00Z", database=audited_db)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["seq"] for line in result.stdout.splitlines()] == [13, 14]
    recent = brandbot("audit", "export", "--since", "7d", database=audited_db)
    assert recent.returncode == 0
    expected = 14 if datetime.now(UTC) - timedelta(days=7) <= START else 0
    assert len(recent.stdout.splitlines()) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--since", "yesterday"], "invalid --since 'yesterday'"), (["--format", "xml"], "xml")],
)
def test_cli_export_bad_input_exits_2(audited_db: Path, args: list[str], message: str) -> None:
    result = brandbot("audit", "export", *args, database=audited_db)
    assert result.returncode == 2 and message in result.stderr
