"""/brand's admin subcommands: parse what was typed (Slack's escaped IDs), call the steering
service, say what happened. Every check (admin, values, channels) is the service's."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_sdk import WebClient

from bot.core.errors import ActionRefused, ConfigRefused
from bot.services import Services
from bot.slack.cards.mention_card import segment_label
from bot.slack.cards.steering import (
    SteeringAction,
    help_text,
    reset_all_confirmation,
    routes_text,
    saved_replies_text,
    segments_table,
    usage,
)
from bot.slack.clicks import Person
from bot.steering.service import RESET_ALL, WHOLE_CONFIG
from handlers.acks import Listen
from handlers.clicks import click_from
from handlers.errors import tell
from policies.config import ROUTING_CRITERIA
from policies.config.overrides import ROUTING_SCOPE
from policies.slack_text import channel_id, label, principal_id, unescape, words

WHOLE_NUMBER = re.compile(r"-?[0-9]+")  # the range is the setting's to check, and to name
SUBCOMMANDS = (
    "segments",
    "channel",
    "approvers",
    "approvals",
    "sla",
    "accounts",
    "follow",
    "route",
    "reset",
    "replies",
    "tags",
)
FOLLOW_KINDS = {"keyword": "keywords", "hashtag": "hashtags", "author": "authors"}
FOLLOW_KINDS |= {plural: plural for plural in FOLLOW_KINDS.values()}
LIST_CRITERIA = {"keywords", "hashtags", "authors", "lang"}


class Usage(ActionRefused):
    """What was typed does not fit the subcommand: why, then its usage line."""

    def __init__(self, why: str, subcommand: str) -> None:
        super().__init__(f"{why}\n{usage(subcommand)}")


def register(listen: Listen, services: Services) -> None:
    @listen.action(SteeringAction.CONFIRM_RESET_ALL)
    def confirm_reset_all(body: dict[str, Any], client: WebClient) -> None:
        click = click_from(body)
        tell(
            client, body, str(services.steering.reset(click.person, RESET_ALL, where=click.channel))
        )


def help_for(services: Services, person: Person) -> str:
    try:
        is_admin = services.steering.is_admin(person)
    except ActionRefused:  # Slack could not say: show everything, each command checks anyway
        is_admin = False
    return help_text(is_admin=is_admin)


def steer(
    services: Services, person: Person, subcommand: str, rest: str, *, where: str
) -> tuple[str, list[dict[str, Any]] | None]:
    """The answer to one admin subcommand: text, and blocks when it needs a button."""
    steering = services.steering
    args = words(rest)
    # Admins only, decided before a word of it is read: anyone else learns nothing of the syntax
    steering.require_admin(
        person, subcommand, where=where, scope=_scope_of(services, subcommand, args)
    )
    if subcommand == "segments":
        rows = steering.segment_rows(person, where=where)
        return segments_table(rows, x_month=steering.x_reads_this_month(person, where=where)), None
    if subcommand == "replies":
        return _replies(services, person, rest, where=where), None
    if subcommand == "tags":
        return _tags(services, person, args, where=where), None
    if subcommand == "route":
        return _route(services, person, args, where=where), None
    if subcommand == "reset":
        if len(args) != 1:
            raise Usage("Name one segment, `routing`, or `all`.", "reset")
        target = args[0].lower()
        if target == RESET_ALL:
            rows = steering.segment_rows(person, where=where)  # admins only, like the reset
            count = sum(len(r.overridden) for r in rows) + len(
                services.segments.overrides(ROUTING_SCOPE)
            )
            if not count:
                return "Nothing to reset: everything follows app.yaml already.", None
            return "Reset everything to app.yaml?", reset_all_confirmation(count)
        names = services.segments.names()
        if target in ("routing", "rules") and target not in names:  # a segment may be "routing"
            scope = ROUTING_SCOPE
        else:
            scope = _segment(services, args[0], "reset")
        return str(steering.reset(person, scope, where=where)), None
    if not args:
        raise Usage("Name a segment first.", subcommand)
    segment = _segment(services, args[0], subcommand)
    values = args[1:]
    try:
        return str(_segment_change(services, person, subcommand, segment, values, where)), None
    except ConfigRefused as refused:
        raise Usage(str(refused), subcommand) from None


def _scope_of(services: Services, subcommand: str, args: list[str]) -> str:
    """What an attempt is about, for the audit log: the segment it names, if any."""
    if subcommand == "route":
        return ROUTING_SCOPE
    if args:
        try:
            return services.steering.segment_name(args[0])
        except ActionRefused:
            pass
    return WHOLE_CONFIG


def _segment_change(
    services: Services, person: Person, subcommand: str, segment: str, values: list[str], where: str
) -> object:
    steering = services.steering
    match subcommand:
        case "channel":
            if len(values) != 1:
                raise Usage("Name one channel.", subcommand)
            channel = channel_id(values[0])
            if channel is None:
                raise Usage(
                    f"{label(values[0])!r} is not a channel I can use: pick it from Slack's "
                    "#autocomplete, or give its ID (C…).",
                    subcommand,
                )
            return steering.set_channel(person, segment, channel, where=where)
        case "approvers":
            if not values:
                raise Usage("Name at least one person or user group.", subcommand)
            return steering.set_approvers(person, segment, _principals(values), where=where)
        case "approvals":
            return steering.set_approvals(person, segment, _number(values, subcommand), where=where)
        case "sla":
            minutes = _number(values, subcommand)
            return steering.set_response_target(person, segment, minutes, where=where)
        case "accounts":
            if not values:
                raise Usage("Name at least one X account, like @acme.", subcommand)
            return steering.set_accounts(person, segment, [_handle(v) for v in values], where=where)
        case "follow":
            if len(values) < 3 or values[0].lower() not in ("add", "remove"):
                raise Usage("Say add or remove, what kind, and the value.", subcommand)
            kind = FOLLOW_KINDS.get(values[1].lower())
            if kind is None:
                raise Usage(f"{values[1]!r} is not keyword, hashtag or author.", subcommand)
            value = unescape(" ".join(values[2:]))
            if kind == "authors":
                value = _handle(value, subcommand)
            return steering.follow(
                person, segment, add=values[0].lower() == "add", kind=kind, value=value, where=where
            )
    raise Usage(f"Unknown command {subcommand!r}.", "help")


def _replies(services: Services, person: Person, rest: str, *, where: str) -> str:
    """`replies <segment>` lists; `… add <name> | <text>` adds (or replaces); `… remove <name>`.
    Taken from the raw text, not word by word: a saved reply's spacing is kept as typed."""
    typed, _, tail = rest.strip().partition(" ")
    if not typed:
        raise Usage("Name a segment first.", "replies")
    segment = _segment(services, typed, "replies")
    action, _, detail = tail.strip().partition(" ")
    steering = services.steering
    match action.lower():
        case "":
            return saved_replies_text(segment, steering.saved_replies(person, segment, where=where))
        case "add":
            name, bar, text = unescape(detail).partition("|")
            if not bar or not name.strip() or not text.strip():
                raise Usage("Give a name, then `|`, then the text.", "replies add")
            change = partial(
                steering.add_saved_reply, person, segment, name.strip(), text.strip(), where=where
            )
            return _or_usage(change, "replies add")
        case "remove":
            name = unescape(detail).strip()
            if not name:
                raise Usage("Name the saved reply to remove.", "replies remove")
            change = partial(steering.remove_saved_reply, person, segment, name, where=where)
            return _or_usage(change, "replies remove")
    raise Usage(f"{action!r} is not add or remove.", "replies")


def _tags(services: Services, person: Person, args: list[str], *, where: str) -> str:
    """`tags <segment>` lists; `tags <segment> <tag …>` sets them all; `… none` clears."""
    if not args:
        raise Usage("Name a segment first.", "tags")
    segment = _segment(services, args[0], "tags")
    steering = services.steering
    if len(args) == 1:
        steering.require_admin(person, "tags", where=where, scope=segment)
        tags = services.segments.config.segments[segment].tags
        listed = ", ".join(f"`{t}`" for t in tags) or "none"
        return f"*{segment_label(segment)}* tags: {listed}"
    values = [] if [a.lower() for a in args[1:]] == ["none"] else [a.strip(",") for a in args[1:]]
    change = partial(steering.set_tags, person, segment, [v for v in values if v], where=where)
    return _or_usage(change, "tags")


def _route(services: Services, person: Person, args: list[str], *, where: str) -> str:
    steering = services.steering
    action = args[0].lower() if args else "list"
    match action:
        case "list":
            rules, default = steering.routing_rules(person, where=where)
            overridden = bool(services.segments.overrides(ROUTING_SCOPE))
            return routes_text(rules, default, overridden=overridden)
        case "add":
            if len(args) < 4:
                raise Usage("Name the segment, the kind of rule and its value.", "route add")
            segment = _segment(services, args[1], "route add")
            kind = args[2].lower()
            kind = {"keyword": "keywords", "hashtag": "hashtags", "author": "authors"}.get(
                kind, kind
            )
            kind = "sentiment_below" if kind == "sentiment" else kind
            if kind not in ROUTING_CRITERIA:
                raise Usage(
                    f"{args[2]!r} is not one of {', '.join(ROUTING_CRITERIA)}.", "route add"
                )
            rule = {"segment": segment, kind: _criterion(kind, unescape(" ".join(args[3:])))}
            return _or_usage(lambda: steering.add_route(person, rule, where=where), "route add")
        case "move":
            frm, to = (_number(args[1:2], "route move"), _number(args[2:3], "route move"))
            return _or_usage(
                lambda: steering.move_route(person, frm, to, where=where), "route move"
            )
        case "remove":
            number = _number(args[1:], "route remove")
            return _or_usage(
                lambda: steering.remove_route(person, number, where=where), "route remove"
            )
    raise Usage(f"{action!r} is not list, add, move or remove.", "route list")


def _or_usage(change: Callable[[], object], subcommand: str) -> str:
    try:
        return str(change())
    except ConfigRefused as refused:
        raise Usage(str(refused), subcommand) from None


def _criterion(kind: str, value: str) -> Any:
    if kind in LIST_CRITERIA:
        items = [v.strip() for v in value.split(",") if v.strip()]
        return [_handle(v, "route add") for v in items] if kind == "authors" else items
    if kind == "sentiment_below":
        try:
            return float(value)
        except ValueError:
            raise Usage(f"{value!r} is not a number from -1 to 1.", "route add") from None
    return value  # a regex: compiled by the validation, which names what is wrong


def _segment(services: Services, typed: str, subcommand: str) -> str:
    try:
        return services.steering.segment_name(typed)
    except ActionRefused as unknown:
        raise Usage(str(unknown), subcommand) from None


def _principals(values: list[str]) -> list[str]:
    found = []
    for value in values:
        principal = principal_id(value)
        if principal is None:
            raise Usage(
                f"I couldn't tell who {label(value)!r} is: pick people and user groups from "
                "Slack's @autocomplete, or give their IDs (U…, S…).",
                "approvers",
            )
        found.append(principal)
    return list(dict.fromkeys(found))


def _handle(value: str, subcommand: str = "accounts") -> str:
    if value.startswith("<"):  # Slack turned @name into a Slack person: not an X handle
        raise Usage(
            f"{label(value)!r} is a Slack member; write the X handle, like @acme.", subcommand
        )
    return value.strip()


def _number(values: list[str], subcommand: str) -> int:
    if len(values) != 1:
        raise Usage("Give one whole number.", subcommand)
    if not WHOLE_NUMBER.fullmatch(values[0]):  # int() also takes "1_0", "+3" and non-ASCII digits
        raise Usage(f"{values[0]!r} is not a whole number.", subcommand)
    return int(values[0])
