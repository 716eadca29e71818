"""The command line as a user meets it: exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


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


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = brandbot("check", env={"BRANDBOT_CONFIG": str(tmp_path / "nope.yaml")})
    assert result.returncode == 2 and "file not found" in result.stderr


def test_run_refuses_to_start_without_credentials_and_names_them(tmp_path: Path) -> None:
    env = {"BRANDBOT_CONFIG": str(REPO / "app.yaml"), "SLACK_BOT_TOKEN": "xoxb-secret-value-123"}
    result = brandbot("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr and "X_BEARER_TOKEN" in result.stderr
    assert "secret-value-123" not in result.stderr + result.stdout


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
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}
    assert brandbot("db", "upgrade", env=env).returncode == 0
    result = brandbot("audit", "verify", env=env)
    assert result.returncode == 0 and "0 entries verified" in result.stdout


def test_help_lists_the_commands() -> None:
    result = brandbot("--help")
    for command in ("run", "check", "db", "manifest", "demo", "audit"):
        assert command in result.stdout
