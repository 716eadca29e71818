"""app.yaml rules: what a valid config looks like, and how every mistake is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.config import (
    STANDARD_SEGMENTS,
    BrandConfig,
    ConfigError,
    ConfigIssue,
    parse_config,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "app.yaml"

# A small valid config; each broken case below edits one or two lines of it. Line numbers in
# the expectations refer to the edited text.
MINIMAL = """\
brand: Acme
admins: ["S0ADMINS"]
accounts:
  - handle: acme
    credentials_env: ACME
segments:
  customer_relations:
    channel: C0CUSTOMER
    follow: {keywords: [outage]}
  crisis_management:
    channel: C0CRISIS
routing:
  default_segment: customer_relations
  rules:
    - {segment: crisis_management, keywords: [hacked]}
"""


def edit(old: str, new: str, text: str = MINIMAL) -> str:
    assert old in text, f"{old!r} is not in the config being edited"
    return text.replace(old, new, 1)


def issues_of(text: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.issues


# --- valid configs ---------------------------------------------------------------------------


def test_the_example_app_yaml_is_valid_and_has_all_six_standard_segments() -> None:
    config = parse_config(EXAMPLE.read_text(), filename="app.yaml")
    assert config.brand == "Acme"
    assert config.segment_names() == list(STANDARD_SEGMENTS)
    assert config.routing.default_segment == "customer_relations"
    assert [rule.segment for rule in config.routing.rules] == [
        "crisis_management",
        "event_coverage",
    ]
    assert config.account("acme").credentials_env == "ACME"
    assert config.segments["customer_relations"].first_response_minutes == 15
    assert config.segments["crisis_management"].first_response_minutes == 10
    assert config.segments["crisis_management"].approvals_required == 2


def test_the_minimal_config_is_valid_and_defaults_are_filled_in() -> None:
    config = parse_config(MINIMAL)
    account = config.accounts[0]
    assert account.max_posts_per_hour == 6
    assert config.poll_seconds == 15
    care = config.segments["customer_relations"]
    assert care.first_response_minutes == 60
    assert care.accounts is None  # may post as every account
    assert care.responders == []  # anyone in the channel may claim
    assert care.follow.mentions is True
    assert care.create.banned_terms == []


@pytest.mark.parametrize(
    ("segment_yaml", "segment", "expected"),
    [
        pytest.param("", "customer_relations", 1, id="ordinary-segment-defaults-to-1"),
        pytest.param("", "crisis_management", 2, id="crisis-defaults-to-2"),
        pytest.param("    approvals_required: 3\n", "crisis_management", 3, id="explicit-wins"),
        pytest.param("    approvals_required:\n", "crisis_management", 2, id="null-means-default"),
    ],
)
def test_approvals_required_resolves_per_segment(
    segment_yaml: str, segment: str, expected: int
) -> None:
    text = edit("    channel: C0CRISIS\n", "    channel: C0CRISIS\n" + segment_yaml)
    assert parse_config(text).segments[segment].approvals_required == expected


@pytest.mark.parametrize(
    ("follow_yaml", "field", "expected"),
    [
        pytest.param("{hashtags: [AcmeConf, '#Launch']}", "hashtags", ["#acmeconf", "#launch"],
                     id="hashtags-lowercase-with-hash"),
        pytest.param("{authors: ['@Bob', alice]}", "authors", ["bob", "alice"],
                     id="authors-lowercase-without-at"),
        pytest.param("{keywords: ['  data   leak ']}", "keywords", ["data leak"],
                     id="keywords-trimmed"),
        pytest.param("{lang: [EN, pt]}", "lang", ["en", "pt"], id="lang-lowercase"),
        pytest.param("{keywords: }", "keywords", [], id="empty-list-is-none"),
    ],
)  # fmt: skip
def test_follow_values_are_normalised(follow_yaml: str, field: str, expected: list[str]) -> None:
    text = edit("follow: {keywords: [outage]}", f"follow: {follow_yaml}")
    follow = parse_config(text).segments["customer_relations"].follow
    assert getattr(follow, field) == expected


@pytest.mark.parametrize(
    ("audit_yaml", "expected"),
    [
        pytest.param("", None, id="no-section-no-channel"),
        pytest.param("audit:\n", None, id="empty-section"),
        pytest.param("audit:\n  anchor_channel: C0AUDITLOG\n", "C0AUDITLOG", id="channel-id"),
    ],
)
def test_the_audit_anchor_channel_is_optional(audit_yaml: str, expected: str | None) -> None:
    assert parse_config(MINIMAL + audit_yaml).audit.anchor_channel == expected


@pytest.mark.parametrize(
    ("audit_yaml", "key", "fragment"),
    [
        pytest.param("audit:\n  anchor_channel: '#audit'\n", "audit.anchor_channel",
                     "must be a Slack channel ID like C0123ABCD", id="channel-as-name"),
        pytest.param("audit:\n  anchor_chanel: C0AUDITLOG\n", "audit.anchor_chanel",
                     "did you mean 'anchor_channel'?", id="misspelt-key"),
    ],
)  # fmt: skip
def test_a_bad_audit_section_names_line_and_key(audit_yaml: str, key: str, fragment: str) -> None:
    issues = issues_of(MINIMAL + audit_yaml)
    assert [(i.line, i.key) for i in issues] == [(MINIMAL.count("\n") + 2, key)]
    assert fragment in issues[0].message


def test_sentiment_terms_are_normalised_and_optional() -> None:
    terms = "sentiment:\n  extra_terms:\n    '  Out  Of Stock ': -2\n    '🙄': -2.5\n    Blaze: 0\n"
    config = parse_config(edit("routing:\n", terms + "routing:\n"))
    assert config.sentiment.extra_terms == {"out of stock": -2.0, "🙄": -2.5, "blaze": 0.0}
    assert parse_config(MINIMAL).sentiment.extra_terms == {}
    assert parse_config(edit("routing:\n", "sentiment:\nrouting:\n")).sentiment.extra_terms == {}


def test_custom_segment_names_are_allowed() -> None:
    text = edit("  crisis_management:", "  partner_support:")
    text = edit("segment: crisis_management", "segment: partner_support", text)
    assert parse_config(text).segment_names() == ["customer_relations", "partner_support"]


def test_a_parsed_config_round_trips_through_model_validate() -> None:
    config = parse_config(EXAMPLE.read_text())
    assert BrandConfig.model_validate(config.model_dump()) == config


def test_building_a_config_in_python_runs_the_cross_checks_too() -> None:
    data = parse_config(MINIMAL).model_dump()
    data["routing"]["default_segment"] = "nope"
    with pytest.raises(ValueError, match=r"routing\.default_segment: unknown segment 'nope'"):
        BrandConfig.model_validate(data)


# --- broken configs: each names line, key and what is wrong -----------------------------------


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        pytest.param(
            edit("    channel: C0CUSTOMER", "    chanel: C0CUSTOMER"),
            8, "segments.customer_relations.chanel",
            "unknown key 'chanel' (did you mean 'channel'?)",
            id="misspelt-key-suggests-the-right-one",
        ),
        pytest.param(
            edit("    follow: {keywords: [outage]}", "    keywords: [outage]"),
            9, "segments.customer_relations.keywords", "belongs under 'follow:'",
            id="follow-key-at-segment-level",
        ),
        pytest.param(
            edit("segment: crisis_management", "segment: crisis_managment"),
            15, "routing.rules[0].segment",
            "unknown segment 'crisis_managment' (did you mean 'crisis_management'?)",
            id="rule-names-unknown-segment",
        ),
        pytest.param(
            edit("default_segment: customer_relations", "default_segment: support"),
            13, "routing.default_segment", "unknown segment 'support'",
            id="default-segment-unknown",
        ),
        pytest.param(
            edit("  default_segment: customer_relations\n", ""),
            12, "routing.default_segment", "missing required key 'default_segment'",
            id="default-segment-missing",
        ),
        pytest.param(
            edit("keywords: [hacked]}", "regex: 'pwn(ed'}"),
            15, "routing.rules[0].regex", "missing ), unterminated subpattern",
            id="bad-regex-in-rule-says-why",
        ),
        pytest.param(
            edit("{keywords: [outage]}", "{regex: ['ok', '[a-']}"),
            9, "segments.customer_relations.follow.regex[1]", "invalid regex '[a-'",
            id="bad-regex-in-follow-names-the-item",
        ),
        pytest.param(
            edit("    credentials_env: ACME\n",
                 "    credentials_env: ACME\n  - {handle: ACME, credentials_env: ACME2}\n"),
            6, "accounts[1].handle", "duplicate account handle 'ACME'",
            id="duplicate-account-handle-ignores-case",
        ),
        pytest.param(
            edit("    credentials_env: ACME\n",
                 "    credentials_env: ACME\n  - {handle: acme_uk, credentials_env: ACME}\n"),
            6, "accounts[1].credentials_env", "duplicate credentials_env 'ACME'",
            id="duplicate-credentials-env",
        ),
        pytest.param(
            edit("    channel: C0CRISIS\n", "    channel: C0CRISIS\n    accounts: [acmee]\n"),
            12, "segments.crisis_management.accounts[0]",
            "unknown account 'acmee' (did you mean 'acme'?)",
            id="segment-posts-as-unknown-account",
        ),
        pytest.param(
            edit("C0CUSTOMER", '"#care"'),
            8, "segments.customer_relations.channel",
            "must be a Slack channel ID like C0123ABCD, not a #name",
            id="channel-given-as-quoted-name",
        ),
        pytest.param(
            edit("C0CUSTOMER", "#care"),
            8, "segments.customer_relations.channel", "an unquoted # starts a YAML comment",
            id="channel-given-as-unquoted-name",
        ),
        pytest.param(
            edit('admins: ["S0ADMINS"]', 'admins: ["@dana"]'),
            2, "admins[0]", "must be a Slack user ID like U0123ABCD",
            id="admin-given-as-name",
        ),
        pytest.param(
            edit("  - handle: acme", "  - handle: '@acme'"),
            4, "accounts[0].handle", "without the @",
            id="handle-with-at",
        ),
        pytest.param(
            edit("credentials_env: ACME", "credentials_env: acme-key"),
            5, "accounts[0].credentials_env", "environment-variable prefix",
            id="credentials-env-not-a-prefix",
        ),
        pytest.param(
            edit("    channel: C0CRISIS\n", "    channel: C0CRISIS\n    approvals_required: 0\n"),
            12, "segments.crisis_management.approvals_required",
            "greater than or equal to 1",
            id="approvals-required-zero",
        ),
        pytest.param(
            edit("    channel: C0CRISIS\n", "    channel: C0CRISIS\n    approvers: [U0DANA]\n"),
            10, "segments.crisis_management", "needs 2 approvals",
            id="crisis-default-of-2-needs-two-approvers",
        ),
        pytest.param(
            edit("{keywords: [outage]}", "{keywords: outage}"),
            9, "segments.customer_relations.follow.keywords", "must be a list like ['outage']",
            id="list-given-as-single-value",
        ),
        pytest.param(
            edit("{keywords: [outage]}", "{sentiment_below: -2}"),
            9, "segments.customer_relations.follow.sentiment_below",
            "greater than or equal to -1",
            id="sentiment-out-of-range",
        ),
        pytest.param(
            edit("routing:\n", "sentiment: {extra_terms: {out of stock: -5}}\nrouting:\n"),
            12, "sentiment.extra_terms.out of stock",
            "a sentiment weight is from -4 (very negative) to 4 (very positive), not -5",
            id="sentiment-weight-out-of-range",
        ),
        pytest.param(
            edit("routing:\n", "sentiment: {extra_terms: {delayed: very}}\nrouting:\n"),
            12, "sentiment.extra_terms.delayed", "valid number",
            id="sentiment-weight-not-a-number",
        ),
        pytest.param(
            edit("routing:\n", "sentiment:\n  extra_terms:\n    ok: 1\n    '#fail': -2\nrouting:\n"),
            15, "sentiment.extra_terms.#fail", "'#fail' is not a sentiment term",
            id="sentiment-term-not-words",
        ),
        pytest.param(
            edit("routing:\n", "sentiment:\n  extra_terms:\n    Refund: 1\n    refund: 2\nrouting:\n"),
            13, "sentiment.extra_terms", "'refund' is the same term as 'Refund'",
            id="sentiment-term-twice-in-other-case",
        ),
        pytest.param(
            edit("routing:\n", "sentiment: {extra_terms: [outage]}\nrouting:\n"),
            12, "sentiment.extra_terms", "must be a mapping",
            id="sentiment-terms-as-a-list",
        ),
        pytest.param(
            edit("keywords: [hacked]}", "}"),
            15, "routing.rules[0]", "needs at least one criterion",
            id="rule-without-criteria",
        ),
        pytest.param(
            edit("  crisis_management:", "  Crisis:").replace("segment: crisis_management",
                                                               "segment: Crisis"),
            10, "segments.Crisis", "must be lower_snake_case",
            id="segment-name-not-snake-case",
        ),
        pytest.param(
            edit("brand: Acme\n", "brand: Acme\npoll_seconds: 1\n"),
            2, "poll_seconds", "greater than or equal to 5",
            id="poll-too-often",
        ),
        pytest.param(
            edit("routing:\n", "").split("  default_segment")[0],
            1, "routing", "missing required key 'routing'",
            id="routing-missing",
        ),
        pytest.param(
            edit("brand: Acme", "brand: Acme: Inc"),
            1, "", "YAML syntax error: mapping values are not allowed here",
            id="bad-yaml-syntax",
        ),
        pytest.param(
            edit("    channel: C0CRISIS\n", "    channel: C0CRISIS\n    channel: C0OTHER\n"),
            12, "segments.crisis_management.channel", "duplicate key 'channel' (first on line 11",
            id="duplicate-key",
        ),
        pytest.param(
            "- brand: Acme\n", 1, "", "the top level must be a mapping",
            id="file-is-a-list",
        ),
        pytest.param("", 1, "", "the file is empty", id="empty-file"),
        pytest.param("# just a comment\n", 1, "", "the file is empty", id="only-comments"),
    ],
)  # fmt: skip
def test_a_broken_config_names_line_key_and_problem(
    text: str, line: int, key: str, fragment: str
) -> None:
    issues = issues_of(text)
    assert len(issues) == 1, "\n".join(map(str, issues))
    issue = issues[0]
    assert (issue.file, issue.line, issue.key) == ("app.yaml", line, key)
    assert fragment in issue.message


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = edit("  - handle: acme", "  - handle: '@acme'")
    text = edit("    channel: C0CUSTOMER", "    chanel: C0CUSTOMER", text)
    text = edit("segment: crisis_management", "segment: crisis", text)
    text = edit("keywords: [hacked]}", "keywords: [hacked], regex: '(('}", text)
    issues = issues_of(text)
    assert [(i.line, i.key) for i in issues] == [
        (4, "accounts[0].handle"),
        (8, "segments.customer_relations.chanel"),
        (15, "routing.rules[0].regex"),
        (15, "routing.rules[0].segment"),
    ]


def test_the_error_message_is_one_line_per_issue_naming_file_line_and_key() -> None:
    text = edit("    channel: C0CUSTOMER", "    chanel: C0CUSTOMER")
    text = edit("default_segment: customer_relations", "default_segment: care", text)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, filename="conf/brand.yaml")
    assert str(caught.value).splitlines() == [
        "conf/brand.yaml:8: segments.customer_relations.chanel: "
        "unknown key 'chanel' (did you mean 'channel'?)",
        "conf/brand.yaml:13: routing.default_segment: unknown segment 'care'; "
        "segments: customer_relations, crisis_management",
    ]


def test_a_search_query_over_xs_limit_is_a_config_error() -> None:
    many = ", ".join(f"keyword{i}" for i in range(60))
    issues = issues_of(edit("{keywords: [outage]}", f"{{keywords: [{many}]}}"))
    assert [(i.line, i.key) for i in issues] == [(9, "segments.customer_relations.follow")]
    assert "over X's 512-character limit" in issues[0].message
