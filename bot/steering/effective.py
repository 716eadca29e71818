"""`brandbot check --effective`: the configuration in force, app.yaml with the overrides admins
set from Slack laid over it, and which values those are."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from sqlalchemy import make_url

from bot.core.db import make_engine, normalise_url
from bot.core.segments import SegmentCatalog
from policies.config import BrandConfig
from policies.config.checks import dotted
from policies.config.overrides import path_of


def effective_report(base: BrandConfig, database_url: str) -> str:
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        # Not created by looking: `brandbot run` (or `db upgrade`) makes it.
        note = f"# No database at {url.database} yet, so no overrides: app.yaml alone.\n"
        return note + _yaml(base)
    engine = make_engine(database_url)
    catalog = SegmentCatalog(base, engine=engine)
    try:
        catalog.refresh(force=True)
    except Exception as exc:  # the driver's own error: its tables may not exist yet
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        note = (
            f"# Could not read overrides from the database ({reason}); "
            "`brandbot db upgrade` creates its tables. app.yaml alone:\n"
        )
        return note + _yaml(base)
    finally:
        engine.dispose()
    stored, ignored = catalog.overrides(), catalog.ignored()
    lines = ["# The configuration in force: app.yaml with the overrides set from Slack."]
    if stored:
        lines.append("# Overrides (win over app.yaml until `/brand reset`):")
        for s in stored:
            lines.append(
                f"#   {dotted(path_of(s.override))} = {json.dumps(s.override.value)}"
                f"  (set by {s.set_by_name} at {s.set_at})"
            )
    else:
        lines.append("# No overrides: this is app.yaml as it is.")
    for override, why in ignored:
        lines.append(f"# Left out (no longer fits app.yaml): {dotted(path_of(override))}: {why}")
    return "\n".join(lines) + "\n" + _yaml(catalog.config)


def _yaml(config: BrandConfig) -> str:
    data = config.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
