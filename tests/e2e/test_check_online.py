"""`brandbot check --online` asks Slack and X whether what app.yaml names exists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import TEST_CONFIG

from bot.fakes.slack_api import FakeSlack
from bot.fakes.x_api import FakeX

BOT_TOKEN = "xoxb-online-check"


def _check(
    config: Path, slack: FakeSlack, x: FakeX, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.url,
        "X_API_URL": x.url,
        "X_BEARER_TOKEN": "bearer",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "--online", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_online_check_names_what_is_missing_and_passes_when_all_exists(tmp_path: Path) -> None:
    config = tmp_path / "app.yaml"
    config.write_text(TEST_CONFIG)
    with (
        FakeSlack(bot_token=BOT_TOKEN, strict_channels=True) as slack,
        FakeX(bearer_token="bearer") as x,
    ):
        channels = [
            "C0CUSTOMER",
            "C0CRISIS",
            "C0REPUTATION",
            "C0EVENTS",
            "C0PROMO",
        ]  # no C0ADVOCACY
        for channel in channels:
            slack.add_channel(channel, channel.lower())
        slack.add_user("U0ADMIN", "admin")
        slack.set_usergroup("S0CRISIS", ["U0CRISIS1"])
        slack.set_usergroup("S0CARE", ["U0BOB"])
        x.add_user("acme")

        result = _check(config, slack, x)
        assert result.returncode == 2
        advocacy_line = next(
            n for n, row in enumerate(TEST_CONFIG.splitlines(), 1) if "C0ADVOCACY" in row
        )
        assert (
            f"{config}:{advocacy_line}: segments.issue_advocacy.channel: Slack channel C0ADVOCACY: channel_not_found"
            in result.stderr
        )
        assert (
            "accounts[0].credentials_env: cannot post as @acme: set ACME_X_CONSUMER_KEY"
            in result.stderr
        )

        slack.add_channel("C0ADVOCACY", "advocacy")
        creds = {
            f"ACME_X_{part}": "x"
            for part in ("CONSUMER_KEY", "CONSUMER_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET")
        }
        result = _check(config, slack, x, **creds)
        assert result.returncode == 0, result.stderr
        assert "all found in Slack and X" in result.stdout
        assert slack.violations == []


def test_online_check_asks_slack_for_the_audit_anchor_channel(tmp_path: Path) -> None:
    config = tmp_path / "app.yaml"
    config.write_text(TEST_CONFIG + "audit:\n  anchor_channel: C0AUDIT\n")
    with (
        FakeSlack(bot_token=BOT_TOKEN, strict_channels=True) as slack,
        FakeX(bearer_token="bearer") as x,
    ):
        for channel in ("C0CUSTOMER", "C0CRISIS", "C0REPUTATION", "C0EVENTS", "C0PROMO"):
            slack.add_channel(channel, channel.lower())
        slack.add_channel("C0ADVOCACY", "advocacy")
        slack.add_user("U0ADMIN", "admin")
        slack.set_usergroup("S0CRISIS", ["U0CRISIS1"])
        slack.set_usergroup("S0CARE", ["U0BOB"])
        x.add_user("acme")
        creds = {
            f"ACME_X_{part}": "x"
            for part in ("CONSUMER_KEY", "CONSUMER_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET")
        }
        result = _check(config, slack, x, **creds)
        line = len(TEST_CONFIG.splitlines()) + 2
        assert result.returncode == 2
        assert (
            f"{config}:{line}: audit.anchor_channel: Slack channel C0AUDIT: channel_not_found"
            in result.stderr
        ), result.stderr
