"""`brandbot check --online`: do the channels, people, groups and X accounts in app.yaml exist?"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from slack_sdk.errors import SlackApiError

from bot.core.settings import Settings
from bot.slack.client import interactive_client
from bot.x.gateway import XGateway, XRejected, XUnavailable
from policies.config import BrandConfig, ConfigIssue, issue_at

Path_ = tuple[str | int, ...]

X_CREDENTIALS = ("CONSUMER_KEY", "CONSUMER_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET")


def check_online(
    config: BrandConfig, settings: Settings, *, config_path: Path, env: dict[str, str]
) -> list[ConfigIssue]:
    """Every problem found, each naming file, line and key; empty when all exist."""
    text, name = config_path.read_text(encoding="utf-8"), str(config_path)
    client = interactive_client(token=settings.slack_bot_token, base_url=settings.slack_api_base())
    issues: list[ConfigIssue] = []
    try:
        client.auth_test()
    except SlackApiError as exc:
        return [
            ConfigIssue(
                name, 0, "SLACK_BOT_TOKEN", f"Slack refused the token: {exc.response.get('error')}"
            )
        ]
    for path, channel in _channels(config):
        try:
            client.conversations_info(channel=channel)
        except SlackApiError as exc:
            issues.append(
                issue_at(text, name, path, f"Slack channel {channel}: {exc.response.get('error')}")
            )
    for path, principal in _principals(config):
        try:
            if principal.startswith("S"):
                client.usergroups_users_list(usergroup=principal)
            else:
                client.users_info(user=principal)
        except SlackApiError as exc:
            issues.append(
                issue_at(text, name, path, f"Slack has no {principal}: {exc.response.get('error')}")
            )
    gateway = XGateway(bearer_token=settings.x_bearer_token, api_url=settings.x_api_url)
    for index, account in enumerate(config.accounts):
        try:
            gateway.user_id(account.handle)
        except (XRejected, XUnavailable) as exc:
            issues.append(issue_at(text, name, ("accounts", index, "handle"), str(exc)))
        missing = [
            f"{account.credentials_env}_X_{part}"
            for part in X_CREDENTIALS
            if not env.get(f"{account.credentials_env}_X_{part}")
        ]
        if missing:
            message = "cannot post as @" + account.handle + ": set " + ", ".join(missing)
            issues.append(issue_at(text, name, ("accounts", index, "credentials_env"), message))
    return issues


def _channels(config: BrandConfig) -> Iterator[tuple[Path_, str]]:
    for segment_name, segment in config.segments.items():
        yield ("segments", segment_name, "channel"), segment.channel
    if config.audit.anchor_channel:
        yield ("audit", "anchor_channel"), config.audit.anchor_channel


def _principals(config: BrandConfig) -> Iterator[tuple[Path_, str]]:
    for index, admin in enumerate(config.admins):
        yield ("admins", index), admin
    for segment_name, segment in config.segments.items():
        for key in ("approvers", "responders"):
            for index, principal in enumerate(getattr(segment, key)):
                yield ("segments", segment_name, key, index), principal
