"""Imports point one way (DESIGN.md): handlers/ → bot/ → policies/. `policies/` imports neither,
`bot/` imports `handlers/` only in the composition root, `handlers/` never touches the
database session or tweepy directly, cards never import services, and `bot/core/` imports no
domain package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMPOSITION_ROOT = Path("bot/runtime.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


DOMAINS = ("bot.mentions", "bot.drafts", "bot.freeze", "bot.services", "bot.runtime")

RULES = [
    # package, modules it must not import, exception
    (
        "policies",
        (
            "bot",
            "handlers",
            "sqlalchemy",
            "sqlmodel",
            "slack_sdk",
            "slack_bolt",
            "tweepy",
            "requests",
        ),
        None,
    ),
    ("bot", ("handlers",), COMPOSITION_ROOT),
    ("handlers", ("sqlalchemy", "sqlmodel", "tweepy", "bot.core.db", "bot.x.gateway"), None),
    # Cards build Block Kit from what they are given: they never import services, the database
    # or the outbox (the domain's rendering module reads the rows and hands them a view).
    ("bot/slack/cards", (*DOMAINS, "bot.core.db", "bot.core.outbox", "sqlalchemy"), None),
    # The ground under the services knows none of them.
    ("bot/core", DOMAINS, None),
]


@pytest.mark.parametrize(("package", "forbidden", "exception"), RULES, ids=[r[0] for r in RULES])
def test_imports_point_one_way(
    package: str, forbidden: tuple[str, ...], exception: Path | None
) -> None:
    offenders = []
    for path in _files(package):
        relative = path.relative_to(REPO)
        if relative == exception:
            continue
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                offenders.append(f"{relative} imports {name}")
    assert offenders == []
