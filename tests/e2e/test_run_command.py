"""`brandbot run` as a user starts it: a real process serving Slack, polling X, delivering cards."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from support import TEST_CONFIG, brandbot_run, first_card, healthy_port, run_env

from bot.fakes.slack_api import FakeSlack
from bot.fakes.slack_user import SlackUser
from bot.fakes.x_api import FakeX
from bot.slack.cards.mention_card import MentionAction

REPO = Path(__file__).resolve().parents[2]
BOT_TOKEN = "xoxb-run-test-token-7f3a"
SIGNING_SECRET = "run-test-signing-secret-91c2"
X_BEARER = "run-test-bearer-55d1"
AUDIT_KEY = "run-test-audit-key-0c4f9a2e7b1d6c3f8e5a0b9d"


def _wait_serving(log: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """The port `--port 0` bound, once /healthz there answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "brandbot run exited early:\n" + log.read_text()[-3000:]
        port = healthy_port(log)
        if port is not None:
            return port
        time.sleep(0.1)  # polling a process we don't control; bounded by the deadline
    raise AssertionError("brandbot run never became healthy")


def test_run_serves_polls_delivers_and_stops_cleanly(tmp_path: Path, database_url: str) -> None:
    config = tmp_path / "app.yaml"
    config.write_text(TEST_CONFIG)
    with FakeSlack(bot_token=BOT_TOKEN) as slack, FakeX(bearer_token=X_BEARER) as x:
        x.add_user("acme")
        tweet = x.add_tweet(author="dana", text="@acme outage since this morning")
        env = run_env(
            slack.url,
            x.url,
            database_url,
            config,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            X_BEARER_TOKEN=X_BEARER,
            BRANDBOT_AUDIT_KEY=AUDIT_KEY,
        )
        with brandbot_run(
            "--http", "--host", "127.0.0.1", "--port", "0", env=env, cwd=tmp_path
        ) as proc:
            port = _wait_serving(tmp_path / "run.log", proc)
            posted = first_card(slack, database_url)
            assert tweet["text"] in str(posted.args["blocks"])
            slack.add_user("U0ALICE", "alice")
            alice = SlackUser(
                app_url=f"http://127.0.0.1:{port}/slack/events",
                signing_secret=SIGNING_SECRET,
                slack=slack,
                user_id="U0ALICE",
                name="alice",
            )
            response = alice.click(
                channel=posted.response["channel"],
                ts=posted.response["ts"],
                action_id=MentionAction.CLAIM,
            )
            assert response.status_code == 200
            slack.wait_for(lambda s: s.calls_to("chat.update"), timeout=30)
            assert "Claimed* by <@U0ALICE>" in str(slack.calls_to("chat.update")[-1].args["blocks"])
            forged = alice.send_raw("payload={}", signature="v0=" + "0" * 64)
            assert forged.status_code == 401
        output = (tmp_path / "run.log").read_text()
        for secret in (BOT_TOKEN, SIGNING_SECRET, X_BEARER, AUDIT_KEY):
            assert secret not in output, "a secret reached the logs"
        assert slack.violations == []
        # What the process audited (the ingest, the claim) verifies under its key.
        verified = subprocess.run(
            [sys.executable, "-m", "bot.cli", "audit", "verify"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert verified.returncode == 0, verified.stderr
        assert "audit chain ok" in verified.stdout and AUDIT_KEY not in verified.stdout
