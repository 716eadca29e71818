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
    "conversations.info": ("channels:read", "groups:read"),  # a channel exists; am I in it
    "conversations.join": ("channels:join",),  # /brand channel: join a public channel
    "usergroups.users.list": ("usergroups:read",),  # approvers, responders, admins as groups
    "usergroups.list": ("usergroups:read",),  # the App Home's segment form: pick approver groups
    "chat.getPermalink": (),  # the App Home links a reply with several texts to its card
    "users.info": ("users:read",),  # names for the audit log
    "conversations.members": ("channels:read", "groups:read"),  # who may be assigned a mention
    "views.open": (),  # the draft, reject, edit, dismiss, segment, note and author-history forms
    "views.update": (),  # the author-history modal once X answered; a saved reply filled in
    "views.publish": (),  # each member's App Home
    "auth.test": (),  # `check --online`: the token works
    "files.getUploadURLExternal": ("files:write",),  # the digest's chart: upload the PNG
    "files.completeUploadExternal": ("files:write",),  # and share it in the digest channel
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
# Methods newer than the 2021 OpenAPI spec, with the scope their method docs name
# (docs.slack.dev/reference/methods/files.getUploadURLExternal, …completeUploadExternal).
SCOPES_FROM_METHOD_DOCS = {
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}
# Where the spec names only the user token's scope: a bot joins a channel with channels:join
# (docs.slack.dev/reference/methods/conversations.join), a user with channels:write.
USER_SCOPE_IN_SPEC = {"conversations.join": "channels:write"}


def unscoped_methods(methods: set[str]) -> list[str]:
    """The methods the app called that the manifest does not ask permission for."""
    return sorted(m for m in methods if m not in METHOD_SCOPES and m not in APP_TOKEN_METHODS)


# (command, description, usage hint, should_escape). /brand names channels, people and groups,
# which Slack then sends as IDs (<#C…|name>, <@U…|name>, <!subteam^S…|@handle>); /tweet's text is
# the tweet itself and stays as typed.
COMMANDS = [
    ("/tweet", "Draft a tweet for approval", "[text]", False),
    (
        "/brand",
        "Steer segments (admins), freeze publishing, see who tweeted what",
        "help | segments | channel <segment> #channel | freeze | who <tweet URL>",
        True,
    ),
]
# The events the app listens to (Bolt answers others 200 and drops them).
BOT_EVENTS = ["app_home_opened"]


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
    settings["event_subscriptions"] = {
        **({} if socket_mode else {"request_url": url}),
        "bot_events": BOT_EVENTS,
    }
    return {
        "display_information": {
            "name": "brandbot",
            "description": f"Run {config.brand}'s X accounts as a team",
            "background_color": "#1d2a3a",
        },
        "features": {
            # The Home tab is each member's own view; the Messages tab carries the DMs the bot
            # sends authors, read-only since nobody talks to brandbot there.
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": "brandbot", "always_online": True},
            "slash_commands": [
                {
                    "command": command,
                    "description": description,
                    "usage_hint": hint,
                    "should_escape": escape,
                    **({} if socket_mode else {"url": url}),
                }
                for command, description, hint, escape in COMMANDS
            ],
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": settings,
    }


def manifest_yaml(config: BrandConfig, *, request_url: str | None, socket_mode: bool) -> str:
    manifest = build_manifest(config, request_url=request_url, socket_mode=socket_mode)
    return yaml.safe_dump(manifest, sort_keys=False)
