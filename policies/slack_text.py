"""What people type after a slash command, as Slack sends it with `should_escape: true`: a
channel as ``<#C0123|name>``, a person as ``<@U0123|name>``, a user group as
``<!subteam^S0123|@handle>``. Bare IDs work too. Pure functions: each returns the ID, or None
when the word is not that kind of reference."""

from __future__ import annotations

import re

_CHANNEL = re.compile(r"<#([CG][A-Z0-9]{2,})(?:\|[^>]*)?>|([CG][A-Z0-9]{6,})")
_USER = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>|([UW][A-Z0-9]{6,})")
_GROUP = re.compile(r"<!subteam\^(S[A-Z0-9]{2,})(?:\|[^>]*)?>|(S[A-Z0-9]{6,})")
# Anything in Slack's <…> markup, which a word-by-word split must keep whole.
_TOKEN = re.compile(r"<[^>]*>|\S+")


def words(text: str) -> list[str]:
    """Split on whitespace, keeping each ``<…>`` reference one word (labels may hold spaces)."""
    return _TOKEN.findall(text)


def channel_id(word: str) -> str | None:
    return _first(_CHANNEL, word)


def user_id(word: str) -> str | None:
    return _first(_USER, word)


def group_id(word: str) -> str | None:
    return _first(_GROUP, word)


def principal_id(word: str) -> str | None:
    """A person or a user group: who may approve, respond or administer."""
    return user_id(word) or group_id(word)


def _first(pattern: re.Pattern[str], word: str) -> str | None:
    match = pattern.fullmatch(word.strip())
    if match is None:
        return None
    return match.group(1) or match.group(2)


def label(word: str) -> str:
    """How to show a word the person typed in an error: Slack's markup without the ID."""
    match = re.fullmatch(r"<[#@!][^|>]*\|([^>]*)>", word)
    return match.group(1) if match and match.group(1) else word


def unescape(text: str) -> str:
    """Free text as typed: Slack sends &, < and > in message and command text as &amp;, &lt;
    and &gt; (a keyword like "AT&T", a regex like "a<b"). `&amp;` goes last so "&amp;lt;" stays
    the literal "&lt;" that was typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


def clip(escaped: str, limit: int) -> str:
    """Escaped mrkdwn cut to at most `limit` characters, never through an entity (`&amp;`):
    Slack would show the half of it. Cut text ends with "…"."""
    if len(escaped) <= limit:
        return escaped
    return _PARTIAL_ENTITY.sub("", escaped[: limit - 1]) + "…"
