"""`parse_config`: app.yaml text to a `BrandConfig`, or one `ConfigError` listing every issue
(schema, cross-field checks and X's search-query limit, each issue with its line)."""

from __future__ import annotations

import yaml
from pydantic import ValidationError

from policies import search
from policies.config.checks import KeyPath, cross_field_problems, dotted
from policies.config.lines import (
    ConfigError,
    ConfigIssue,
    _duplicate_keys,
    _issues_from_validation,
    _kind,
    _line,
    _locate,
)
from policies.config.schema import _SKIP_CROSS_CHECKS, BrandConfig, default_approvals


def parse_config(text: str, filename: str = "app.yaml") -> BrandConfig:
    """Parse and validate app.yaml text; raise ConfigError listing every issue."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = exc.problem or exc.context or "invalid YAML"
        context = f" ({exc.context})" if exc.problem and exc.context else ""
        column = f" at column {mark.column + 1}" if mark is not None else ""
        message = f"YAML syntax error: {what}{context}{column}"
        raise ConfigError([ConfigIssue(filename, line, "", message)]) from None
    except yaml.YAMLError as exc:  # e.g. a reader error (bad bytes), which has no mark here
        raise ConfigError([ConfigIssue(filename, 1, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()

    if root is None:
        raise ConfigError([ConfigIssue(filename, 1, "", "the file is empty; see app.yaml")])
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        message = (
            f"the top level must be a mapping of keys (brand:, accounts:, …), not {_kind(data)}"
        )
        raise ConfigError([ConfigIssue(filename, _line(root), "", message)])

    issues = [
        ConfigIssue(filename, line, dotted(path), message)
        for path, line, message in _duplicate_keys(root)
    ]
    config: BrandConfig | None = None
    try:
        config = BrandConfig.model_validate(data, context={_SKIP_CROSS_CHECKS: True})
    except ValidationError as exc:
        issues += _issues_from_validation(exc, root, filename)
    for path, message in cross_field_problems(data, default_approvals=default_approvals):
        issues.append(ConfigIssue(filename, _locate(root, path)[0], dotted(path), message))

    if config is not None:
        for path, message in search_query_problems(config):
            issues.append(ConfigIssue(filename, _locate(root, path)[0], dotted(path), message))

    if issues or config is None:
        raise ConfigError(sorted(set(issues), key=lambda i: (i.line, i.key, i.message)))
    return config


def search_query_problems(config: BrandConfig) -> list[tuple[KeyPath, str]]:
    """Each segment whose X search query would not fit X's limit (never silently truncated)."""
    return [
        (
            ("segments", name, "follow"),
            f"its X search query is {len(query)} characters, over X's "
            f"{search.X_QUERY_MAX_CHARS}-character limit; follow fewer keywords, "
            "hashtags or authors (or split them across segments)",
        )
        for name, query in search.segment_search_queries(config).items()
        if len(query) > search.X_QUERY_MAX_CHARS
    ]
