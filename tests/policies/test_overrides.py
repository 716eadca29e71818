"""Overrides laid over app.yaml are validated by app.yaml's own checks, in its words."""

from __future__ import annotations

from typing import Any

import pytest

from policies.config import ConfigError, parse_config
from policies.config.overrides import (
    ROUTING_SCOPE,
    ConfigRejected,
    Override,
    apply,
    effective,
    validate,
)

APP_YAML = """
brand: Acme
admins: ["U0ADMIN"]
accounts:
  - {handle: acme, credentials_env: ACME}
  - {handle: acme_help, credentials_env: ACME_HELP}
segments:
  customer_relations:
    channel: C0CUSTOMER
    approvers: ["S0CARE"]
    follow: {keywords: ["outage"]}
  crisis_management:
    channel: C0CRISIS
    approvers: ["U0CRISIS1", "U0CRISIS2"]
routing:
  default_segment: customer_relations
  rules:
    - {segment: crisis_management, keywords: ["hacked"]}
"""
BASE = parse_config(APP_YAML)


def _with(*overrides: Override) -> dict[str, Any]:
    return apply(BASE.model_dump(mode="json"), overrides)


def test_the_files_configuration_round_trips_unchanged() -> None:
    assert validate(BASE.model_dump(mode="json")) == BASE


@pytest.mark.parametrize(
    ("override", "read"),
    [
        (
            Override("customer_relations", "channel", "C0NEWCARE"),
            lambda c: c.segments["customer_relations"].channel,
        ),
        (
            Override("crisis_management", "approvals_required", 1),
            lambda c: c.segments["crisis_management"].approvals_required,
        ),
        (
            Override("customer_relations", "follow.hashtags", ["#Refund"]),
            lambda c: c.segments["customer_relations"].follow.hashtags,
        ),
        (
            Override("customer_relations", "accounts", ["@ACME_help"]),
            lambda c: c.segments["customer_relations"].accounts,
        ),
        (
            Override(
                ROUTING_SCOPE, "rules", [{"segment": "customer_relations", "authors": ["@Dana"]}]
            ),
            lambda c: c.routing.rules[0].authors,
        ),
    ],
)
def test_an_override_wins_over_the_file_normalised_as_the_file_would_be(
    override: Override, read: Any
) -> None:
    config = validate(_with(override))
    assert (
        read(config)
        == {
            "channel": "C0NEWCARE",
            "approvals_required": 1,
            "follow.hashtags": ["#refund"],
            "accounts": ["acme_help"],
            "rules": ["dana"],
        }[override.key]
    )


@pytest.mark.parametrize(
    ("override", "in_the_file"),
    [
        (Override("customer_relations", "channel", "#care"), ("C0CUSTOMER", "'#care'")),
        (
            Override("customer_relations", "accounts", ["acme_store"]),
            ("    follow:", "    accounts: [acme_store]\n    follow:"),
        ),
        (
            Override("customer_relations", "first_response_minutes", 0),
            ("    follow:", "    first_response_minutes: 0\n    follow:"),
        ),
    ],
)
def test_a_value_the_file_refuses_is_refused_with_the_same_words(
    override: Override, in_the_file: tuple[str, str]
) -> None:
    with pytest.raises(ConfigError) as from_file:
        parse_config(APP_YAML.replace(*in_the_file, 1))
    with pytest.raises(ConfigRejected) as from_slack:
        validate(_with(override))
    assert [(i.key, i.message) for i in from_file.value.issues] == from_slack.value.problems


@pytest.mark.parametrize(
    ("override", "key", "words"),
    [
        (
            Override("customer_relations", "channel", "general"),
            "segments.customer_relations.channel",
            "must be a Slack channel ID",
        ),
        (
            Override("customer_relations", "approvers", ["@ada"]),
            "segments.customer_relations.approvers[0]",
            "must be a Slack user ID",
        ),
        (
            Override("customer_relations", "approvals_required", 0),
            "segments.customer_relations.approvals_required",
            "greater than or equal to 1",
        ),
        (
            Override("customer_relations", "first_response_minutes", 20000),
            "segments.customer_relations.first_response_minutes",
            "less than or equal to 10080",
        ),
        (
            Override("customer_relations", "accounts", ["acme_store"]),
            "segments.customer_relations.accounts[0]",
            "unknown account 'acme_store'",
        ),
        (
            Override("crisis_management", "approvers", ["U0CRISIS1"]),
            "segments.crisis_management.approvals_required",
            "needs 2 approvals",
        ),
        (
            Override("customer_relations", "follow.hashtags", ["two words"]),
            "segments.customer_relations.follow.hashtags[0]",
            "is not a hashtag",
        ),
        (
            Override(
                ROUTING_SCOPE, "rules", [{"segment": "customer_relations", "regex": "(unclosed"}]
            ),
            "routing.rules[0].regex",
            "invalid regex",
        ),
        (
            Override(ROUTING_SCOPE, "rules", [{"segment": "nope", "keywords": ["x"]}]),
            "routing.rules[0].segment",
            "unknown segment 'nope'",
        ),
        (
            Override(ROUTING_SCOPE, "rules", [{"segment": "customer_relations"}]),
            "routing.rules[0]",
            "needs at least one criterion",
        ),
        (
            Override("customer_relations", "follow.keywords", [f"keyword{i}" for i in range(60)]),
            "segments.customer_relations.follow",
            "over X's 512-character limit",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_key(override: Override, key: str, words: str) -> None:
    with pytest.raises(ConfigRejected) as raised:
        validate(_with(override))
    assert any(k == key and words in m for k, m in raised.value.problems), raised.value.problems


def test_overrides_that_no_longer_fit_the_file_are_left_out_with_why() -> None:
    good = Override("customer_relations", "channel", "C0NEWCARE")
    gone = Override("event_coverage", "channel", "C0EVENTS")  # segment not in the file
    stale = Override("customer_relations", "accounts", ["acme_retired"])  # account removed
    odd = Override("customer_relations", "create.banned_terms", ["x"])  # not overridable
    config, ignored = effective(BASE, [good, gone, stale, odd])
    assert config.segments["customer_relations"].channel == "C0NEWCARE"
    assert config.segments["customer_relations"].accounts is None
    why = {o.key if o.scope != "event_coverage" else o.scope: reason for o, reason in ignored}
    assert "no longer in app.yaml" in why["event_coverage"]
    assert "unknown account 'acme_retired'" in why["accounts"]
    assert "cannot be overridden" in why["create.banned_terms"]


def test_no_overrides_is_the_file() -> None:
    assert effective(BASE, []) == (BASE, [])


@pytest.mark.parametrize(
    ("regex", "refused"),
    [
        ("(a+)+$", True),
        ("(a*)*", True),
        (r"(\w+\s?)+!", True),
        ("(x|y+)*", True),
        ("(?:(a+))+", True),
        ("(a+){2}", True),
        ("a+b+", False),
        ("(ab){2,5}", False),
        ("(a|b)+", False),
        ("(a{1,3}){2}", False),
        (r"\b(refund|money back)\b", False),
        ("hack(ed|ing)", False),
    ],
)
def test_a_regex_that_can_backtrack_exponentially_is_refused(regex: str, refused: bool) -> None:
    rule = Override(ROUTING_SCOPE, "rules", [{"segment": "customer_relations", "regex": regex}])
    if not refused:
        assert validate(_with(rule)).routing.rules[0].regex == regex
        return
    with pytest.raises(ConfigRejected) as raised:
        validate(_with(rule))
    ((key, message),) = raised.value.problems
    assert key == "routing.rules[0].regex" and "repeats a repetition" in message
