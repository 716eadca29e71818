"""Admins' overrides of app.yaml, set from Slack: which values may be overridden, how they are
laid over the file's configuration, and how the result is validated — by the very checks
`parse_config` runs on app.yaml, so a value the file would refuse is refused with the same words.

Pure: the database rows (bot/core/models.ConfigOverride) become `Override`s in bot/steering.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from policies.config.checks import KeyPath, cross_field_problems, dotted
from policies.config.lines import error_problem
from policies.config.load import search_query_problems
from policies.config.schema import _SKIP_CROSS_CHECKS, BrandConfig, default_approvals

# The routing rules' scope: a name no segment can have (segment names start with a letter), so a
# segment may be called "routing".
ROUTING_SCOPE = "_routing"
# What an admin may set per segment from Slack; dotted keys reach into `follow:`.
SEGMENT_KEYS: tuple[str, ...] = (
    "channel",
    "approvers",
    "approvals_required",
    "first_response_minutes",
    "accounts",
    "follow.keywords",
    "follow.hashtags",
    "follow.authors",
    "tags",
    "saved_replies",
)
ROUTING_KEYS: tuple[str, ...] = ("rules",)


@dataclass(frozen=True)
class Override:
    scope: str  # a segment name, or ROUTING_SCOPE
    key: str  # one of SEGMENT_KEYS or ROUTING_KEYS
    value: Any  # JSON-shaped, as app.yaml would hold it


class ConfigRejected(ValueError):
    """The configuration an override would make is invalid: each problem as (key, message),
    the key dotted like app.yaml's (``segments.customer_relations.channel``)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{key}: {message}" for key, message in self.problems))


def path_of(override: Override) -> KeyPath:
    """Where in app.yaml's shape the override's value goes."""
    if override.scope == ROUTING_SCOPE:
        return ("routing", *override.key.split("."))
    return ("segments", override.scope, *override.key.split("."))


def known(override: Override) -> bool:
    keys = ROUTING_KEYS if override.scope == ROUTING_SCOPE else SEGMENT_KEYS
    return override.key in keys


def apply(data: Mapping[str, Any], overrides: Iterable[Override]) -> dict[str, Any]:
    """A copy of config-shaped data with each override's value set at its path. An override of
    a segment the data does not have is left out (its segment was removed from app.yaml)."""
    out = copy.deepcopy(dict(data))
    for override in overrides:
        path = path_of(override)
        node: Any = out
        for part in path[:-1]:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            if isinstance(node, dict):
                node[path[-1]] = copy.deepcopy(override.value)
    return out


def validate(data: Mapping[str, Any]) -> BrandConfig:
    """A `BrandConfig` from config-shaped data, or `ConfigRejected` naming every problem: the
    schema, the cross-field checks and X's search-query limit, as for app.yaml."""
    problems: list[tuple[KeyPath, str]] = []
    config: BrandConfig | None = None
    try:
        config = BrandConfig.model_validate(data, context={_SKIP_CROSS_CHECKS: True})
    except ValidationError as exc:
        problems += [error_problem(error) for error in exc.errors(include_url=False)]
    problems += cross_field_problems(data, default_approvals=default_approvals)
    if config is not None:
        problems += search_query_problems(config)
    if problems or config is None:
        raise ConfigRejected(sorted({(dotted(path), message) for path, message in problems}))
    return config


def effective(
    base: BrandConfig, overrides: Sequence[Override]
) -> tuple[BrandConfig, list[tuple[Override, str]]]:
    """app.yaml's configuration with the overrides laid over it, and the overrides left out
    with why: one that no longer fits a changed app.yaml (say, it names an account the file
    removed) is skipped, never allowed to stop the app from starting."""
    data = base.model_dump(mode="json")
    ignored: list[tuple[Override, str]] = []
    usable = []
    for override in overrides:
        if not known(override):
            ignored.append((override, f"{override.key!r} cannot be overridden"))
        elif override.scope != ROUTING_SCOPE and override.scope not in base.segments:
            ignored.append((override, f"segment {override.scope!r} is no longer in app.yaml"))
        else:
            usable.append(override)
    try:
        return validate(apply(data, usable)), ignored
    except ConfigRejected:
        pass
    config = base
    for override in usable:  # one at a time, in the order they were set
        try:
            candidate = validate(apply(config.model_dump(mode="json"), [override]))
        except ConfigRejected as rejected:
            ignored.append((override, str(rejected)))
            continue
        config = candidate
    return config, ignored
