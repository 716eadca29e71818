"""app.yaml: its schema, and validation that names the file, line and key of every problem.

`parse_config(text)` is the one way in. It composes the YAML node tree (so every value keeps
its line), builds plain data from it, validates that with the pydantic models, runs the
checks that span several keys (routing names a real segment, account handles are unique, …)
and either returns a `BrandConfig` or raises one `ConfigError` listing *every* issue found,
each as ``app.yaml:12: segments.customer_relations.chanel: unknown key 'chanel' (did you mean
'channel'?)``.

Import from here; the modules behind it can each be read alone: `schema` (the models, field
validators and constants), `lines` (YAML source lines, `ConfigIssue` and `ConfigError`),
`checks` (the cross-field checks, on plain data) and `load` (`parse_config`).

Decisions worth knowing:

- Keys are paths as a user reads them: ``routing.rules[1].segment``. List indexes are 0-based
  like in yq/jq; ``routing.rules[0]`` is the first rule. Issues that are not about one key (YAML
  syntax, an empty file) have an empty key and render as ``app.yaml:3: message``.
- Lines are 1-based. A bad value points at its key's line (a list item at the item's line), an
  unknown key at itself, a missing key at the line of the mapping that should hold it.
- Values are normalised on the way in: hashtags to ``#lowercase``, author handles to lowercase
  without ``@``, languages to lowercase. An empty ``keywords:`` (YAML null) means ``[]``, and an
  empty ``follow:``/``create:`` means the defaults.
- ``approvals_required`` left out (or null) resolves to 2 for ``crisis_management`` and 1 for
  every other segment; a parsed `BrandConfig` always holds the resolved number.
- Slack IDs are checked for shape only (``C…``/``G…`` channels, ``U…``/``W…`` users, ``S…``
  user groups, upper-case letters, digits and ``_``); ``brandbot check --online`` checks that
  they exist.
- A segment's X search query (see `policies.search`) must fit X's 512-character limit: a
  longer one is a config error rather than being silently truncated.
- Models are frozen: derive a changed config with ``model_copy(update=...)`` (admin overrides),
  never by mutating one in place; `policies.routing` caches compiled rules per config object.
"""

from __future__ import annotations

from policies.config.lines import ConfigError, ConfigIssue, issue_at
from policies.config.load import parse_config
from policies.config.schema import (
    CRISIS_APPROVALS,
    CRISIS_SEGMENT,
    DEFAULT_APPROVALS,
    PLACEHOLDERS,
    ROUTING_CRITERIA,
    STANDARD_SEGMENTS,
    Account,
    AlertSettings,
    AuditSettings,
    BrandConfig,
    CreateRules,
    DigestSettings,
    FollowRules,
    QuietHours,
    Routing,
    RoutingRule,
    SavedReply,
    Segment,
    SentimentSettings,
    SpikeSettings,
    XBudget,
    XPrices,
    default_approvals,
    fill_placeholders,
)

__all__ = [
    "CRISIS_APPROVALS",
    "CRISIS_SEGMENT",
    "DEFAULT_APPROVALS",
    "PLACEHOLDERS",
    "ROUTING_CRITERIA",
    "STANDARD_SEGMENTS",
    "Account",
    "AlertSettings",
    "AuditSettings",
    "BrandConfig",
    "ConfigError",
    "ConfigIssue",
    "CreateRules",
    "DigestSettings",
    "FollowRules",
    "QuietHours",
    "Routing",
    "RoutingRule",
    "SavedReply",
    "Segment",
    "SentimentSettings",
    "SpikeSettings",
    "XBudget",
    "XPrices",
    "default_approvals",
    "fill_placeholders",
    "issue_at",
    "parse_config",
]
