"""Shared fixtures: an isolated database per test, on SQLite or PostgreSQL.

The suite runs on SQLite unless BRANDBOT_TEST_DATABASE_URL points at a PostgreSQL server; then
each test run creates its own database there (dropped at the end) and every test starts with
empty tables. Tests marked `postgres` always need PostgreSQL: they use that URL, or the local
server at 127.0.0.1:5432, and skip with the reason when neither is reachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlmodel import SQLModel

from bot.core import audit, migrate
from bot.core.db import make_engine, normalise_url

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
# The audit key the `engine` fixture's chain is written and verified with (a test value only).
TEST_AUDIT_KEY = b"test-audit-key-0123456789abcdef-0123456789abcdef"
REPO = Path(__file__).resolve().parents[1]


def _postgres_server_url() -> tuple[str | None, str]:
    """(URL of a reachable PostgreSQL server, or None with the reason)."""
    candidate = os.environ.get("BRANDBOT_TEST_DATABASE_URL") or LOCAL_POSTGRES
    try:
        engine = make_engine(candidate)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return candidate, ""
    except Exception as exc:
        return (
            None,
            f"no PostgreSQL reachable at {make_url(normalise_url(candidate)).render_as_string()} ({type(exc).__name__}); set BRANDBOT_TEST_DATABASE_URL",
        )


class RunDatabase:
    """A PostgreSQL database created for this test run and dropped after it."""

    def __init__(self, server_url: str) -> None:
        self.admin_url = normalise_url(server_url)
        self.name = f"brandbot_test_{uuid.uuid4().hex[:12]}"
        self.url = (
            make_url(self.admin_url).set(database=self.name).render_as_string(hide_password=False)
        )
        self._engine: Engine | None = None

    def create(self) -> None:
        admin = make_engine(self.admin_url)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        self._engine = make_engine(self.url)
        migrate.upgrade(self._engine)

    def empty_tables(self) -> None:
        assert self._engine is not None
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with self._engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

    def drop(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        admin = make_engine(self.admin_url)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


_run_databases: dict[str, RunDatabase] = {}


def _run_database(server_url: str) -> RunDatabase:
    if server_url not in _run_databases:
        database = RunDatabase(server_url)
        database.create()
        _run_databases[server_url] = database
    return _run_databases[server_url]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _check_manifest_scopes(session)
    for database in _run_databases.values():
        database.drop()
    _run_databases.clear()


@pytest.fixture
def postgres_url() -> str:
    """A fresh, migrated PostgreSQL database URL (skips when none is reachable)."""
    server, reason = _postgres_server_url()
    if server is None:
        if os.environ.get("BRANDBOT_TEST_DATABASE_URL"):
            pytest.fail(reason)  # asked to test on PostgreSQL: never pass by skipping
        pytest.skip(reason)
    database = _run_database(server)
    database.empty_tables()
    return database.url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'brandbot.db'}"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The backend this run tests on: SQLite, or PostgreSQL when BRANDBOT_TEST_DATABASE_URL is set."""
    if os.environ.get("BRANDBOT_TEST_DATABASE_URL"):
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'brandbot.db'}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    audit.use_key(engine, TEST_AUDIT_KEY)  # as build_runtime does with BRANDBOT_AUDIT_KEY
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def example_config_text() -> str:
    return (REPO / "app.yaml").read_text()


def _check_manifest_scopes(session: pytest.Session) -> None:
    """Every Slack Web API method an app under test called must be covered by a scope the
    manifest requests (bot/manifest.py METHOD_SCOPES): else the real app would be refused."""
    from bot.fakes.world import APP_SLACK_METHODS
    from bot.manifest import unscoped_methods

    unscoped = unscoped_methods(APP_SLACK_METHODS)
    if unscoped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"the app called Slack methods no requested scope covers: {', '.join(unscoped)}"
        if reporter is not None:
            reporter.write_line(f"FAILED (manifest scopes): {message}", red=True, bold=True)
