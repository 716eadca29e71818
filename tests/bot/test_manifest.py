"""`brandbot manifest` prints a manifest Slack accepts, asking for exactly the scopes the app's
Web API calls need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.fakes.slack_api import DEFAULT_SPEC
from bot.fakes.slack_manifest import manifest_problems
from bot.manifest import (
    APP_TOKEN_METHODS,
    BOT_SCOPES,
    LEGACY_SCOPES,
    METHOD_SCOPES,
    SCOPES_FROM_METHOD_DOCS,
    SCOPES_WITHOUT_METHODS,
    USER_SCOPE_IN_SPEC,
    build_manifest,
    manifest_yaml,
)
from policies.config import parse_config

REPO = Path(__file__).resolve().parents[2]
CONFIG = parse_config((REPO / "app.yaml").read_text(), filename="app.yaml")


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http", "socket"])
def test_the_manifest_validates_against_slacks_schema(socket_mode: bool) -> None:
    printed = manifest_yaml(
        CONFIG, request_url="https://bot.acme.com/slack/events", socket_mode=socket_mode
    )
    assert manifest_problems(yaml.safe_load(printed)) == []


def test_the_schema_check_can_fail() -> None:
    manifest = build_manifest(CONFIG, request_url=None, socket_mode=False)
    manifest["features"]["slash_commands"][0]["should_escape"] = "no"
    manifest["settings"]["unheard_of"] = True
    problems = manifest_problems(manifest)
    assert any("should_escape" in p and "boolean" in p for p in problems)
    assert any("unheard_of" in p for p in problems)


def test_the_manifest_asks_for_exactly_the_scopes_the_calls_need() -> None:
    needed = {scope for scopes in METHOD_SCOPES.values() for scope in scopes}
    assert set(BOT_SCOPES) == needed | set(SCOPES_WITHOUT_METHODS)
    manifest = build_manifest(CONFIG, request_url=None, socket_mode=False)
    assert manifest["oauth_config"]["scopes"]["bot"] == BOT_SCOPES


@pytest.mark.parametrize("method", sorted(METHOD_SCOPES))
def test_each_methods_scopes_are_the_ones_slacks_spec_names(method: str) -> None:
    spec = json.loads(DEFAULT_SPEC.read_text())
    if method in SCOPES_FROM_METHOD_DOCS:  # newer than the spec: the method docs name it
        assert f"/{method}" not in spec["paths"]
        assert set(METHOD_SCOPES[method]) == {SCOPES_FROM_METHOD_DOCS[method]}
        return
    (operation,) = spec["paths"][f"/{method}"].values()
    named = {
        LEGACY_SCOPES.get(scope, scope)
        for requirement in operation["security"]
        for scope in requirement.get("slackAuth", [])
    }
    ours = set(METHOD_SCOPES[method])
    if method in USER_SCOPE_IN_SPEC:
        assert named == {USER_SCOPE_IN_SPEC[method]} and ours
    elif named == {"none"}:
        assert ours == set()
    else:
        assert ours and ours <= named, f"{method}: the spec names {sorted(named)}"


def test_socket_mode_needs_only_the_app_level_tokens_scope() -> None:
    assert APP_TOKEN_METHODS == {"apps.connections.open": "connections:write"}


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http", "socket"])
def test_the_manifest_subscribes_to_the_home_tab_and_escapes_brand(socket_mode: bool) -> None:
    url = "https://bot.acme.com/slack/events"
    manifest = build_manifest(CONFIG, request_url=url, socket_mode=socket_mode)
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]
    assert events["bot_events"] == ["app_home_opened"]
    assert events.get("request_url") == (None if socket_mode else url)
    escape = {c["command"]: c["should_escape"] for c in manifest["features"]["slash_commands"]}
    # /brand names channels, people and groups: Slack sends their IDs; a tweet stays as typed
    assert escape == {"/brand": True, "/tweet": False}
