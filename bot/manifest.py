"""The Slack app manifest for this configuration (`brandbot manifest`)."""

from __future__ import annotations

from typing import Any

import yaml

from policies.config import BrandConfig

# Every Slack Web API method the app calls, and the bot scopes that grant it (none: the method
# needs no scope). `brandbot manifest` requests exactly these, plus what SCOPES_WITHOUT_METHODS
# says; a test holds the table to Slack's OpenAPI spec and to every call the test suite sees.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),  # post cards, held queues, DMs
    "chat.update": ("chat:write",),  # update them in place
    "chat.postEphemeral": ("chat:write",),  # answer the person who clicked or typed
    "conversations.history": ("channels:history", "groups:history"),  # find a card whose post
    "conversations.replies": ("channels:history", "groups:history"),  # timed out (public, private)
    "conversations.info": ("channels:read", "groups:read"),  # `check --online`: channels exist
    "usergroups.users.list": ("usergroups:read",),  # approvers, responders, admins as groups
    "users.info": ("users:read",),  # names for the audit log
    "views.open": (),  # the draft, reject, edit and dismiss forms
    "auth.test": (),  # `check --online`: the token works
}
SCOPES_WITHOUT_METHODS = {
    "commands": "/tweet and /brand",
    "chat:write.public": "post in a segment's public channel without being invited first",
}
# Called with the app-level token (xapp-…) in Socket Mode, not the bot token.
APP_TOKEN_METHODS = {"apps.connections.open": "connections:write"}
BOT_SCOPES = sorted(
    {s for scopes in METHOD_SCOPES.values() for s in scopes} | set(SCOPES_WITHOUT_METHODS)
)
# The OpenAPI spec still names some scopes as they were before granular bot permissions.
LEGACY_SCOPES = {"chat:write:bot": "chat:write", "chat:write:user": "chat:write"}


def unscoped_methods(methods: set[str]) -> list[str]:
    """The methods the app called that the manifest does not ask permission for."""
    return sorted(m for m in methods if m not in METHOD_SCOPES and m not in APP_TOKEN_METHODS)


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
