"""two drafts never share a tweet; keyed audit entries; replayed Slack requests are remembered

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Before the unique index: a draft that recovery wrongly matched to another draft's tweet
    # (the bug this revision closes) loses that tweet id and waits for a person.
    bind = op.get_bind()
    shared = bind.execute(
        sa.text(
            "SELECT id, tweet_id FROM draft WHERE tweet_id IS NOT NULL AND id NOT IN "
            "(SELECT MIN(id) FROM draft WHERE tweet_id IS NOT NULL GROUP BY tweet_id)"
        )
    ).all()
    for draft_id, tweet_id in shared:
        bind.execute(
            sa.text(
                "UPDATE draft SET tweet_id = NULL, state = 'needs_check', last_error = :why "
                "WHERE id = :id"
            ),
            {
                "id": draft_id,
                "why": f"It was recorded with tweet {tweet_id}, which belongs to an earlier "
                "draft: check the account on X before retrying.",
            },
        )
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_tweet_id"))
        batch_op.create_index(batch_op.f("ix_draft_tweet_id"), ["tweet_id"], unique=True)

    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheme", sa.Integer(), server_default="1", nullable=False))

    op.create_table(
        "seen_request",
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    with op.batch_alter_table("seen_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seen_request_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("seen_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_request_seen_at"))
    op.drop_table("seen_request")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_column("scheme")
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_tweet_id"))
        batch_op.create_index(batch_op.f("ix_draft_tweet_id"), ["tweet_id"], unique=False)
