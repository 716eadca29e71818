"""`brandbot report` as a user runs it: text, JSON with documented keys, CSV, the PNG, exit codes."""

from __future__ import annotations

import csv
import json
import re
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest
from sqlalchemy import Engine
from support import answered_mention

from bot.core.db import transaction
from bot.reports.chart import HEIGHT_PX, WIDTH_PX

REPO = Path(__file__).resolve().parents[2]
KEYS_DOC = REPO / "docs" / "report-keys.md"
# Maps whose keys are names (segments, reasons, tags, accounts, endpoints): one placeholder each.
NAMED = {
    "segments": "<segment>",
    "by_endpoint": "<endpoint>",
}
NAME_TO_NUMBER = {
    "dismissed_by_reason",
    "tags",
    "drafts_rejected_by_reason",
    "by_account",
    "by_author",
    "around_brandbot_by_account",
    "by_segment",
    "reads_by_kind",
    "estimated_cost_usd_by_kind",
}
EXPECTED_FIGURE_KEYS = [
    "mentions",
    "claimed",
    "replied",
    "replied_on_x",
    "resolved",
    "resolved_without_reply",
    "dismissed",
    "dismissed_by_reason",
    "open",
    "tags",
    "first_response_seconds.count",
    "first_response_seconds.p50",
    "first_response_seconds.p90",
    "first_response_seconds.target",
    "first_response_seconds.within_target",
    "first_response_seconds.missed",
    "first_response_seconds.pending",
    "first_response_seconds.within_target_share",
    "resolve_seconds.count",
    "resolve_seconds.p50",
    "resolve_seconds.p90",
    "sentiment.incoming_mean",
    "sentiment.negative",
    "sentiment.neutral",
    "sentiment.positive",
    "sentiment.after_reply.conversations",
    "sentiment.after_reply.before_mean",
    "sentiment.after_reply.after_mean",
    "sentiment.after_reply.improved",
    "posts_published",
    "drafts_rejected",
    "drafts_rejected_by_reason",
]
EXPECTED_KEYS = sorted(
    [
        "schema",
        "brand",
        "period.kind",
        "period.start",
        "period.end",
        "period.time_zone",
        "period.complete",
        *(f"segments.<segment>.{k}" for k in EXPECTED_FIGURE_KEYS),
        *(f"total.{k}" for k in EXPECTED_FIGURE_KEYS),
        "posts.published",
        "posts.by_account",
        "posts.by_author",
        "posts.around_brandbot",
        "posts.around_brandbot_by_account",
        "x_reads.days",
        "x_reads.requests",
        "x_reads.resources",
        "x_reads.estimated_cost_usd",
        "x_reads.by_endpoint.<endpoint>.requests",
        "x_reads.by_endpoint.<endpoint>.resources",
        "x_reads.by_endpoint.<endpoint>.price_kind",
        "x_reads.by_endpoint.<endpoint>.estimated_cost_usd",
        "x_budget.month",
        "x_budget.reads",
        "x_budget.estimated_cost_usd",
        "x_budget.reads_by_kind",
        "x_budget.estimated_cost_usd_by_kind",
        "x_budget.monthly_reads",
        "x_budget.monthly_usd",
        "x_budget.used_percent",
        "x_budget.searches_paused",
        "volume.edges",
        "volume.by_segment",
    ]
)


def brandbot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), **env},
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def env(engine: Engine, database_url: str) -> dict[str, str]:
    """A database with one mention half an hour ago, answered in 5 minutes (ingested late)."""
    tweeted = datetime.now(UTC) - timedelta(minutes=30)
    with transaction(engine) as session:
        session.add(
            answered_mention(
                tweeted,
                ingested_after=timedelta(minutes=20),
                replied_after=timedelta(minutes=5),
                via="brandbot",
            )
        )
    return {"DATABASE_URL": database_url, "BRANDBOT_CONFIG": str(REPO / "app.yaml")}


def key_paths(value: Any, prefix: str = "") -> list[str]:
    """Every key of the JSON as a dotted path, name-keyed maps folded to one placeholder."""
    last = prefix.rsplit(".", 1)[-1]
    if not isinstance(value, dict) or last in NAME_TO_NUMBER:
        return [prefix]
    paths: set[str] = set()
    for key, item in value.items():
        name = NAMED.get(last, str(key))
        paths.update(key_paths(item, f"{prefix}.{name}" if prefix else name))
    return sorted(paths)


def test_json_keys_are_the_documented_stable_ones(env: dict[str, str], tmp_path: Path) -> None:
    result = brandbot("report", "--since", "2h", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    data["x_reads"]["by_endpoint"] = {"mentions": dict.fromkeys(
        ["requests", "resources", "price_kind", "estimated_cost_usd"], 0
    )}  # fmt: skip
    assert key_paths(data) == EXPECTED_KEYS
    care = data["segments"]["customer_relations"]
    assert care["mentions"] == 1
    assert care["first_response_seconds"]["p50"] == 300  # from the tweet's time, not ingest
    assert care["first_response_seconds"]["within_target_share"] == 1.0
    documented = set(re.findall(r"`([a-z_<>.0-9]+)`", KEYS_DOC.read_text()))
    for key in EXPECTED_KEYS:
        shown = re.sub(r"^(segments\.<segment>|total)\.", "<figures>.", key)
        assert shown in documented, f"{shown} is not in docs/report-keys.md"


def test_text_csv_and_png(env: dict[str, str], tmp_path: Path) -> None:
    png, table = tmp_path / "chart.png", tmp_path / "report.csv"
    result = brandbot(
        "report", "--since", "2h", "--png", str(png), "--csv", str(table), env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "customer_relations" in result.stdout and "5m" in result.stdout
    assert f"chart written to {png}" in result.stderr
    rows = list(csv.DictReader(table.open()))
    assert rows[-1]["segment"] == "total" and rows[-1]["mentions"] == "1"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (WIDTH_PX, HEIGHT_PX)
    pixels = matplotlib.image.imread(png)
    assert pixels.shape[:2] == (HEIGHT_PX, WIDTH_PX)
    assert pixels.std() > 0.05  # a chart, not a blank canvas


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "yesterdayy"], "--since 'yesterdayy'"),
        (["--since", "2099-01-01"], "not in the past"),
        (["--period", "month"], "--period"),
    ],
)
def test_bad_input_exits_2_naming_the_option(
    env: dict[str, str], tmp_path: Path, args: list[str], says: str
) -> None:
    result = brandbot("report", *args, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert says in result.stderr


def test_no_database_exits_1_saying_how_to_make_one(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    env["BRANDBOT_CONFIG"] = str(REPO / "app.yaml")
    result = brandbot("report", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "brandbot db upgrade" in result.stderr
    assert not (tmp_path / "none.db").exists()
