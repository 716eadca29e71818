"""The Slack app manifest for this configuration (`brandbot manifest`)."""

from __future__ import annotations

from typing import Any

import yaml

from policies.config import BrandConfig

BOT_SCOPES = [
    "chat:write",  # post and update cards
    "chat:write.public",  # post in a segment channel without being invited first
    "channels:history",  # find a card whose post timed out, instead of posting it twice
    "groups:history",  # … the same in private channels
    "channels:read",  # `brandbot check --online`: do the segment channels exist?
    "groups:read",  # … the same for private channels
    "usergroups:read",  # resolve approvers, responders and admins given as user groups
    "users:read",  # names for the audit log
    "commands",  # /tweet and /brand
]

COMMANDS = [
    ("/tweet", "Draft a tweet for approval", "[text]"),
    (
        "/brand",
        "Freeze or unfreeze publishing (admins); who tweeted a tweet",
        "freeze | unfreeze | who <tweet URL>",
    ),
]


def build_manifest(
    config: BrandConfig, *, request_url: str | None, socket_mode: bool
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "interactivity": {"is_enabled": True},
        "org_deploy_enabled": False,
        "socket_mode_enabled": socket_mode,
        "token_rotation_enabled": False,
    }
    url = request_url or "https://brandbot.example.com/slack/events"
    if not socket_mode:
        settings["interactivity"]["request_url"] = url
    return {
        "display_information": {
            "name": "brandbot",
            "description": f"Run {config.brand}'s X accounts as a team",
            "background_color": "#1d2a3a",
        },
        "features": {
            "app_home": {"home_tab_enabled": False, "messages_tab_enabled": True},
            "bot_user": {"display_name": "brandbot", "always_online": True},
            "slash_commands": [
                {
                    "command": command,
                    "description": description,
                    "usage_hint": hint,
                    "should_escape": False,
                    **({} if socket_mode else {"url": url}),
                }
                for command, description, hint in COMMANDS
            ],
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": settings,
    }


def manifest_yaml(config: BrandConfig, *, request_url: str | None, socket_mode: bool) -> str:
    manifest = build_manifest(config, request_url=request_url, socket_mode=socket_mode)
    return yaml.safe_dump(manifest, sort_keys=False)
