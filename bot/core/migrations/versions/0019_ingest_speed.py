"""ingest speed (issue 12; filled by its part)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 13:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Indexes leading with the conversation, for ingest's per-page lookups (bot/core/models.py);
    # each replaces the one-column index on the conversation, a prefix of it. Plain CREATE and
    # DROP INDEX: no table is copied, however many rows it holds.
    op.create_index(
        "ix_slack_message_conversation_root",
        "slack_message",
        ["conversation_key", "kind", "thread_root_id", "channel"],
    )
    op.drop_index("ix_slack_message_conversation_key", table_name="slack_message")
    op.create_index("ix_mention_conversation_state", "mention", ["conversation_id", "state"])
    op.drop_index("ix_mention_conversation_id", table_name="mention")


def downgrade() -> None:
    op.create_index("ix_mention_conversation_id", "mention", ["conversation_id"])
    op.drop_index("ix_mention_conversation_state", table_name="mention")
    op.create_index("ix_slack_message_conversation_key", "slack_message", ["conversation_key"])
    op.drop_index("ix_slack_message_conversation_root", table_name="slack_message")
