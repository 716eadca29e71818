"""The reads ledger: every read brandbot makes from X, counted per UTC day and endpoint in
`x_read` (X bills reads per resource and UTC day), for the reports' cost estimate.

The gateway reports each read it made through a callback (it holds no database session); this
counts it with one upsert, which adds to the day's row whichever process made the read."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from bot.core.clock import Clock
from bot.core.db import is_postgres, table_of, transaction
from bot.core.models import XRead


class ReadLedger:
    def __init__(self, *, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def record(self, endpoint: str, resources: int) -> None:
        """One request to `endpoint` that returned `resources` posts or users."""
        day = self._clock.now().astimezone(UTC).strftime("%Y-%m-%d")
        table = table_of(XRead)
        dialect = postgresql if is_postgres(self._engine) else sqlite
        insert = dialect.insert(table).values(
            day=day, endpoint=endpoint, requests=1, resources=max(resources, 0)
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.day, table.c.endpoint],
            set_={
                "requests": table.c.requests + 1,
                "resources": table.c.resources + insert.excluded.resources,
            },
        )
        with transaction(self._engine) as session:
            session.execute(upsert)
