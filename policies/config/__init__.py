"""app.yaml's schema and validation, in `policies.config.schema` (moved from
`policies/config.py`); import from here."""

from __future__ import annotations

from policies.config.schema import (
    CRISIS_APPROVALS,
    CRISIS_SEGMENT,
    DEFAULT_APPROVALS,
    ROUTING_CRITERIA,
    STANDARD_SEGMENTS,
    Account,
    AuditSettings,
    BrandConfig,
    ConfigError,
    ConfigIssue,
    CreateRules,
    FollowRules,
    Routing,
    RoutingRule,
    Segment,
    default_approvals,
    issue_at,
    parse_config,
)

__all__ = [
    "CRISIS_APPROVALS",
    "CRISIS_SEGMENT",
    "DEFAULT_APPROVALS",
    "ROUTING_CRITERIA",
    "STANDARD_SEGMENTS",
    "Account",
    "AuditSettings",
    "BrandConfig",
    "ConfigError",
    "ConfigIssue",
    "CreateRules",
    "FollowRules",
    "Routing",
    "RoutingRule",
    "Segment",
    "default_approvals",
    "issue_at",
    "parse_config",
]
