"""Slack people and user groups, cached briefly so permission checks stay fast and current."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.clock import Clock


class DirectoryUnavailable(Exception):
    """Slack could not tell us who is in a group: permission checks fail closed."""


# What the person is told when a permission check fails closed that way.
SLACK_UNAVAILABLE = (
    "I couldn't check your role with Slack just now, so nothing was changed. Please try again."
)


class SlackDirectory:
    def __init__(self, *, client: WebClient, clock: Clock, ttl: timedelta = timedelta(seconds=60)):
        self._client = client
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._groups: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._names: dict[str, tuple[datetime, str]] = {}
        self._channels: dict[str, tuple[datetime, frozenset[str]]] = {}

    def includes(self, user_id: str, principals: Iterable[str]) -> bool:
        """True if the user is one of the principals: user IDs, or members of user groups (S…)."""
        for principal in principals:
            if principal == user_id:
                return True
            if principal.startswith("S") and user_id in self.group_members(principal):
                return True
        return False

    def members(self, principals: Iterable[str]) -> dict[str, frozenset[str]]:
        """Each principal's members: a user group's (S…), or a user ID standing for itself.
        Raises DirectoryUnavailable (a permission check then fails closed; a worker waits)."""
        return {
            p: self.group_members(p) if p.startswith("S") else frozenset({p})
            for p in sorted(set(principals))
        }

    def group_members(self, group_id: str) -> frozenset[str]:
        now = self._clock.now()
        with self._lock:
            cached = self._groups.get(group_id)
        if cached and cached[0] > now:
            return cached[1]
        try:
            response = self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            raise DirectoryUnavailable(
                f"user group {group_id}: {exc.response.get('error')}"
            ) from exc
        except Exception as exc:
            raise DirectoryUnavailable(f"user group {group_id}: {type(exc).__name__}") from exc
        members: frozenset[str] = frozenset(response.get("users", []))
        with self._lock:
            self._groups[group_id] = (now + self._ttl, members)
        return members

    def channel_members(self, channel: str) -> frozenset[str]:
        """Who is in a channel (e.g. who may be assigned a mention of a segment that names no
        responders). Raises DirectoryUnavailable when Slack can't say: the caller fails closed."""
        now = self._clock.now()
        with self._lock:
            cached = self._channels.get(channel)
        if cached and cached[0] > now:
            return cached[1]
        members: set[str] = set()
        cursor: str | None = None
        try:
            while True:
                page = self._client.conversations_members(
                    channel=channel, cursor=cursor, limit=1000
                )
                members.update(page.get("members", []))
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as exc:
            raise DirectoryUnavailable(f"channel {channel}: {exc.response.get('error')}") from exc
        except Exception as exc:
            raise DirectoryUnavailable(f"channel {channel}: {type(exc).__name__}") from exc
        found = frozenset(members)
        with self._lock:
            self._channels[channel] = (now + self._ttl, found)
        return found

    def display_name(self, user_id: str, fallback: str = "") -> str:
        """The person's Slack display name (for the audit log), falling back if Slack fails."""
        now = self._clock.now()
        with self._lock:
            cached = self._names.get(user_id)
        if cached and cached[0] > now:
            return cached[1]
        try:
            user = self._client.users_info(user=user_id)["user"]
        except Exception:
            return fallback or user_id
        profile = user.get("profile") or {}
        name = profile.get("display_name") or user.get("real_name") or user.get("name") or user_id
        with self._lock:
            self._names[user_id] = (now + timedelta(minutes=10), name)
        return str(name)


class ChannelUnusable(Exception):
    """The bot cannot post in a channel; `str()` says what a person can do about it."""


def ready_to_post(client: WebClient, channel: str) -> str:
    """Make sure the bot can post in `channel` (joining it if it is public); its name.

    A private channel the bot was not invited to is invisible to it (Slack answers
    channel_not_found), so that answer asks to be invited rather than saying it does not exist."""
    try:
        info = client.conversations_info(channel=channel)["channel"]
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error == "channel_not_found":
            raise ChannelUnusable(
                f"I can't see <#{channel}>. If it is a private channel, invite me first "
                "(`/invite @brandbot` in it), then try again."
            ) from exc
        raise ChannelUnusable(f"Slack would not tell me about <#{channel}> ({error}).") from exc
    except Exception as exc:
        raise ChannelUnusable(SLACK_UNAVAILABLE) from exc
    name = str(info.get("name") or channel)
    if info.get("is_archived"):
        raise ChannelUnusable(f"#{name} is archived: pick a channel people use.")
    if info.get("is_im") or info.get("is_mpim"):
        raise ChannelUnusable("That is a direct message, not a channel.")
    if info.get("is_member"):
        return name
    if info.get("is_private"):
        raise ChannelUnusable(f"I'm not in #{name}: invite me first (`/invite @brandbot`).")
    try:
        client.conversations_join(channel=channel)
    except SlackApiError as exc:
        raise ChannelUnusable(
            f"I could not join #{name} ({exc.response.get('error')}): invite me with "
            "`/invite @brandbot`, then try again."
        ) from exc
    except Exception as exc:
        raise ChannelUnusable(SLACK_UNAVAILABLE) from exc
    return name
