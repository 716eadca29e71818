"""report digests (helper: reports)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 07:40:00
"""

from collections.abc import Sequence

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by the part of issue 11 that needs these tables


def downgrade() -> None:
    pass
