"""The command line as a user meets it: exit codes and messages."""

from __future__ import annotations

import gc
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Executable, delete, select, update
from sqlmodel import col

from bot.cli import settle_the_heap
from bot.core import audit, migrate
from bot.core.db import make_engine, transaction
from bot.core.models import AuditEntry
from bot.fakes.slack_api import FakeSlack

REPO = Path(__file__).resolve().parents[2]
# A deployment's key as the CLI reads it from the environment (a test value).
AUDIT_KEY = "cli-test-audit-key-5e1b0c6f2a9d4e7b8c3a1f0e9d8c7b6a"


def brandbot(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


def test_check_accepts_the_example_config() -> None:
    result = brandbot("check")
    assert result.returncode == 0, result.stderr
    assert "6 segment(s)" in result.stdout


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (
            ("    channel: C0CUSTOMER", "    chanel: C0CUSTOMER"),
            "segments.customer_relations.chanel: unknown key 'chanel' (did you mean 'channel'?)",
        ),
        (
            ("  default_segment: customer_relations", "  default_segment: customer_relation"),
            "routing.default_segment: unknown segment",
        ),
    ],
    ids=["typo in a key", "unknown default segment"],
)
def test_check_names_file_line_and_key_and_exits_2(
    tmp_path: Path, broken: tuple[str, str], expected: str
) -> None:
    text = (REPO / "app.yaml").read_text()
    old, new = broken
    assert old in text
    bad = tmp_path / "app.yaml"
    bad.write_text(text.replace(old, new, 1))
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith(old))
    result = brandbot("check", "--config", str(bad))
    assert result.returncode == 2
    assert f"{bad}:{line}: {expected}" in result.stderr


def test_check_names_the_line_of_a_bad_sentiment_term_or_weight(tmp_path: Path) -> None:
    text = (REPO / "app.yaml").read_text()
    commented = '# sentiment:\n#   extra_terms:\n#     "out of stock": -2\n'
    assert commented in text
    bad = tmp_path / "app.yaml"
    bad.write_text(
        text.replace(
            commented, 'sentiment:\n  extra_terms:\n    "out of stock": -6\n    "#sale": 2\n'
        )
    )
    line = text.splitlines().index("# sentiment:") + 1
    result = brandbot("check", "--config", str(bad))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-2:] == [
        f"{bad}:{line + 2}: sentiment.extra_terms.out of stock: "
        "a sentiment weight is from -4 (very negative) to 4 (very positive), not -6",
        f"{bad}:{line + 3}: sentiment.extra_terms.#sale: '#sale' is not a sentiment term: "
        "words of letters and digits (with ' or - inside a word), like 'charged twice', "
        "or one emoji",
    ]


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = brandbot("check", env={"BRANDBOT_CONFIG": str(tmp_path / "nope.yaml")})
    assert result.returncode == 2 and "file not found" in result.stderr


def test_run_refuses_to_start_without_credentials_and_names_them(tmp_path: Path) -> None:
    env = {"BRANDBOT_CONFIG": str(REPO / "app.yaml"), "SLACK_BOT_TOKEN": "xoxb-secret-value-123"}
    result = brandbot("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr and "X_BEARER_TOKEN" in result.stderr
    assert "BRANDBOT_AUDIT_KEY" in result.stderr and "secrets.token_hex(32)" in result.stderr
    assert "secret-value-123" not in result.stderr + result.stdout


def test_run_refuses_a_short_audit_key_without_printing_it(tmp_path: Path) -> None:
    env = {
        "BRANDBOT_CONFIG": str(REPO / "app.yaml"),
        "SLACK_BOT_TOKEN": "xoxb-secret-value-123",
        "SLACK_SIGNING_SECRET": "signing-secret",
        "X_BEARER_TOKEN": "bearer",
        "BRANDBOT_AUDIT_KEY": "hunter2-too-short",
    }
    result = brandbot("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "BRANDBOT_AUDIT_KEY is too short: use at least 32 characters" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_the_audit_key_is_masked_in_settings() -> None:
    from bot.core.settings import Settings

    settings = Settings.from_env({"BRANDBOT_AUDIT_KEY": AUDIT_KEY})
    assert settings.audit_key_bytes() == AUDIT_KEY.encode()
    assert AUDIT_KEY not in repr(settings) and "audit_key=Secret('***')" in repr(settings)


def test_run_does_not_start_on_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "app.yaml"
    bad.write_text("brand: Acme\n")
    result = brandbot("run", env={"BRANDBOT_CONFIG": str(bad)}, cwd=tmp_path)
    assert result.returncode == 2 and f"{bad}:" in result.stderr
    assert not (tmp_path / "brandbot.db").exists()


def test_manifest_is_a_slack_app_manifest() -> None:
    result = brandbot("manifest", "--url", "https://bot.acme.com/slack/events")
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load(result.stdout)
    assert set(manifest) == {"display_information", "features", "oauth_config", "settings"}
    assert (
        manifest["settings"]["interactivity"]["request_url"] == "https://bot.acme.com/slack/events"
    )
    assert "chat:write" in manifest["oauth_config"]["scopes"]["bot"]
    socket = yaml.safe_load(brandbot("manifest", "--socket").stdout)
    assert socket["settings"]["socket_mode_enabled"] is True


def test_db_upgrade_then_audit_verify(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}", "BRANDBOT_AUDIT_KEY": AUDIT_KEY}
    assert brandbot("db", "upgrade", env=env).returncode == 0
    result = brandbot("audit", "verify", env=env)
    assert result.returncode == 0 and "0 entries verified" in result.stdout


def test_help_lists_the_commands() -> None:
    result = brandbot("--help")
    for command in ("run", "check", "db", "manifest", "demo", "audit"):
        assert command in result.stdout


# --- brandbot audit verify / anchor: a keyed chain and its external anchor -------------------


def _audited(database_url: str, n: int) -> None:
    """`n` entries written as the app writes them, keyed with AUDIT_KEY."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    audit.use_key(engine, AUDIT_KEY.encode())
    for i in range(n):
        with transaction(engine) as session:
            audit.record(
                session,
                actor=audit.Actor("U0ALICE", "alice"),
                action="draft.approve",
                subject=f"draft:{i}",
                at=datetime(2026, 11, 23, 9, i, tzinfo=UTC),
            )
    engine.dispose()


def _tamper(database_url: str, *statements: Executable) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)
    engine.dispose()


def _audit_env(database_url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "BRANDBOT_AUDIT_KEY": AUDIT_KEY, **extra}


@pytest.mark.parametrize("command", [["verify"], ["anchor"]])
def test_audit_commands_without_the_key_exit_2_naming_it(
    database_url: str, command: list[str]
) -> None:
    _audited(database_url, 2)
    env = _audit_env(database_url)
    del env["BRANDBOT_AUDIT_KEY"]
    result = brandbot("audit", *command, env=env)
    assert result.returncode == 2, result.stderr
    assert "BRANDBOT_AUDIT_KEY is not set" in result.stderr
    short = brandbot("audit", *command, env=_audit_env(database_url, BRANDBOT_AUDIT_KEY="x" * 31))
    assert short.returncode == 2 and "too short" in short.stderr
    assert "x" * 31 not in short.stderr + short.stdout


def test_audit_verify_lists_every_break_then_a_summary(database_url: str) -> None:
    _audited(database_url, 6)
    _tamper(
        database_url,
        update(AuditEntry).where(col(AuditEntry.seq) == 2).values(actor_id="U0MALLORY"),
        update(AuditEntry).where(col(AuditEntry.seq) == 5).values(subject="draft:99"),
    )
    result = brandbot("audit", "verify", env=_audit_env(database_url))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "audit chain BROKEN at entry 2: entry 2 was altered after it was written",
        "audit chain BROKEN at entry 5: entry 5 was altered after it was written",
        "2 break(s) in 6 entries; 1 verified before the first",
    ]
    assert AUDIT_KEY not in result.stdout + result.stderr


def test_a_chain_verified_with_another_key_is_broken(database_url: str) -> None:
    _audited(database_url, 2)
    other = _audit_env(database_url, BRANDBOT_AUDIT_KEY="another-key-" + "0" * 32)
    result = brandbot("audit", "verify", env=other)
    assert result.returncode == 1 and "entry 1 was altered" in result.stderr


def test_audit_anchor_prints_hash_count_and_posts_it_to_the_anchor_channel(
    database_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "app.yaml"
    config.write_text((REPO / "app.yaml").read_text() + "audit:\n  anchor_channel: C0AUDITLOG\n")
    _audited(database_url, 3)
    with FakeSlack(bot_token="xoxb-anchor-test-token") as slack:
        env = _audit_env(
            database_url,
            BRANDBOT_CONFIG=str(config),
            SLACK_BOT_TOKEN="xoxb-anchor-test-token",
            SLACK_API_URL=slack.url,
        )
        result = brandbot("audit", "anchor", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        posts = slack.calls_to("chat.postMessage")
        assert slack.violations == []
    engine = make_engine(database_url)
    with transaction(engine) as session:
        head = audit.head(session)
        stored = session.scalars(select(col(AuditEntry.hash)).where(col(AuditEntry.seq) == 3)).one()
    engine.dispose()
    assert stored == head.hash
    assert head.count == 3 and result.stdout == f"{head.hash}:3\n"
    assert [p.args["channel"] for p in posts] == ["C0AUDITLOG"]
    assert f"{head.hash}:3" in posts[0].args["text"]
    for secret in (AUDIT_KEY, "xoxb-anchor-test-token"):
        assert secret not in result.stdout + result.stderr + str(posts[0].args)


def test_audit_anchor_without_a_channel_only_prints(database_url: str) -> None:
    _audited(database_url, 0)
    result = brandbot("audit", "anchor", env=_audit_env(database_url))  # REPO's app.yaml: none
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{audit.GENESIS_HASH}:0\n"


def test_audit_anchor_refuses_a_broken_chain_unless_told(database_url: str) -> None:
    _audited(database_url, 3)
    _tamper(database_url, update(AuditEntry).where(col(AuditEntry.seq) == 1).values(action="x"))
    refused = brandbot("audit", "anchor", env=_audit_env(database_url))
    assert refused.returncode == 1 and refused.stdout == ""
    assert "audit chain BROKEN at entry 1" in refused.stderr
    forced = brandbot("audit", "anchor", "--allow-broken", env=_audit_env(database_url))
    assert forced.returncode == 1 and forced.stdout.endswith(":3\n")


def test_verify_with_an_anchor_detects_deleted_and_rewritten_history(database_url: str) -> None:
    _audited(database_url, 5)
    env = _audit_env(database_url)
    anchored = brandbot("audit", "anchor", env=env)
    anchor = anchored.stdout.strip()
    assert anchored.returncode == 0 and anchor.endswith(":5")
    ok = brandbot("audit", "verify", "--anchor", anchor, env=env)
    assert ok.returncode == 0 and "5 entries verified, reaching anchor 5" in ok.stdout
    _tamper(database_url, delete(AuditEntry).where(col(AuditEntry.seq) >= 4))
    assert brandbot("audit", "verify", env=env).returncode == 0  # truncation alone is silent
    truncated = brandbot("audit", "verify", "--anchor", anchor, env=env)
    assert truncated.returncode == 1
    assert truncated.stderr.startswith(
        "audit chain BROKEN at entry 4: entries 4 to 5 are missing: the anchor says 5 entries"
    )


@pytest.mark.parametrize("anchor", ["deadbeef:3", "0" * 64, "0" * 64 + ":x"])
def test_verify_with_a_malformed_anchor_exits_2(database_url: str, anchor: str) -> None:
    result = brandbot("audit", "verify", "--anchor", anchor, env=_audit_env(database_url))
    assert result.returncode == 2 and "is not an audit anchor: expected HASH:COUNT" in result.stderr


def test_check_effective_before_any_database_shows_app_yaml_alone(tmp_path: Path) -> None:
    database = tmp_path / "brandbot.db"
    env = {"DATABASE_URL": f"sqlite:///{database}"}
    result = brandbot("check", "--effective", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"# No database at {database} yet, so no overrides")
    assert yaml.safe_load(result.stdout)["brand"] == "Acme"
    assert not database.exists()  # looking does not create it

    database.touch()  # a database nobody has migrated
    unmigrated = brandbot("check", "--effective", env=env)
    assert unmigrated.returncode == 0, unmigrated.stderr
    assert "no such table: config_revision" in unmigrated.stdout
    assert "`brandbot db upgrade` creates its tables" in unmigrated.stdout


def test_the_start_up_heap_is_moved_out_of_the_collectors_sight() -> None:
    """`run` freezes what its start made, so a full collection no longer scans it (it paused
    every answer to Slack ~150 ms a few times a minute under clicks; docs/benchmarks.md)."""
    before = gc.get_freeze_count()
    kept = [[n] for n in range(1000)]  # made before it: tracked containers
    try:
        settle_the_heap()
        assert gc.get_freeze_count() >= before + len(kept)
        assert gc.get_count()[0] < 10  # nothing young is left to scan
    finally:
        gc.unfreeze()
