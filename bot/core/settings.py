"""Runtime settings from the environment, and app.yaml from disk. Secrets are never printed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from policies.config import BrandConfig, ConfigError, ConfigIssue, parse_config

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# 32 characters of a random hex string is 128 bits: well past guessing, and what
# MAKE_AUDIT_KEY's 64 characters comfortably clear.
MIN_AUDIT_KEY_LENGTH = 32
MAKE_AUDIT_KEY = 'python -c "import secrets; print(secrets.token_hex(32))"'


class Secret(str):
    """A string whose repr is masked, so it stays out of reprs, tracebacks and logged objects.

    str() still gives the value (clients need it); never format a Secret into a message.
    """

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"


class SettingsError(Exception):
    """A required environment variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: Secret = field(default=Secret(""))
    slack_signing_secret: Secret = field(default=Secret(""))
    slack_app_token: Secret = field(default=Secret(""))
    slack_api_url: str = DEFAULT_SLACK_API_URL
    x_api_url: str | None = None
    x_bearer_token: Secret = field(default=Secret(""))
    audit_key: Secret = field(default=Secret(""))  # keys the audit chain; never in the database
    x_timeout_seconds: float = 10.0  # each X request; a freeze waits a little longer for posts
    database_url: str = field(default="sqlite:///brandbot.db", repr=False)  # may hold a password
    config_path: Path = Path("app.yaml")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            slack_bot_token=Secret(env.get("SLACK_BOT_TOKEN", "")),
            slack_signing_secret=Secret(env.get("SLACK_SIGNING_SECRET", "")),
            slack_app_token=Secret(env.get("SLACK_APP_TOKEN", "")),
            slack_api_url=env.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL,
            x_api_url=env.get("X_API_URL") or None,
            x_bearer_token=Secret(env.get("X_BEARER_TOKEN", "")),
            audit_key=Secret(env.get("BRANDBOT_AUDIT_KEY", "")),
            database_url=env.get("DATABASE_URL") or "sqlite:///brandbot.db",
            config_path=Path(env.get("BRANDBOT_CONFIG") or "app.yaml"),
        )

    def require_for_run(self, *, socket_mode: bool) -> None:
        missing = []
        if not self.slack_bot_token:
            missing.append("SLACK_BOT_TOKEN (the bot token, xoxb-…)")
        elif not self.slack_bot_token.startswith("xoxb-"):
            raise SettingsError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        if socket_mode:
            if not self.slack_app_token.startswith("xapp-"):
                missing.append("SLACK_APP_TOKEN (an app-level token, xapp-…, for Socket Mode)")
        elif not self.slack_signing_secret:
            missing.append("SLACK_SIGNING_SECRET (verifies requests from Slack)")
        if not self.x_bearer_token:
            missing.append("X_BEARER_TOKEN (reads mentions and searches)")
        if not self.audit_key:
            missing.append(
                f"BRANDBOT_AUDIT_KEY (keys the audit log; make one with {MAKE_AUDIT_KEY})"
            )
        if missing:
            raise SettingsError("missing environment variables: " + "; ".join(missing))
        self.audit_key_bytes()  # set but too short: refuse now, not at the first audit entry

    def audit_key_bytes(self) -> bytes:
        """BRANDBOT_AUDIT_KEY as the HMAC key; SettingsError (naming it, never showing it) if
        missing or too short. The text is the key as given (not decoded from hex), so any
        strong string works."""
        if not self.audit_key:
            raise SettingsError(
                "BRANDBOT_AUDIT_KEY is not set: it keys the audit log's hash chain and must stay "
                f"outside the database; make one with {MAKE_AUDIT_KEY}"
            )
        if len(self.audit_key) < MIN_AUDIT_KEY_LENGTH:
            raise SettingsError(
                f"BRANDBOT_AUDIT_KEY is too short: use at least {MIN_AUDIT_KEY_LENGTH} "
                f"characters; make one with {MAKE_AUDIT_KEY}"
            )
        return str(self.audit_key).encode("utf-8")

    def slack_api_base(self) -> str:
        return self.slack_api_url if self.slack_api_url.endswith("/") else self.slack_api_url + "/"


def load_config(path: Path) -> BrandConfig:
    """Read and validate app.yaml; every problem names file, line and key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            [
                ConfigIssue(
                    str(path), 0, "-", "file not found (set BRANDBOT_CONFIG or create app.yaml)"
                )
            ]
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(str(path), 0, "-", f"cannot read: {exc}")]) from exc
    return parse_config(text, filename=str(path))
