"""Backfill downloads kept for resuming an interrupted run.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("backfill_downloads",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("exchange", sa.String(length=32), nullable=False),
    sa.Column("start", sa.BigInteger(), nullable=False),
    sa.Column("end", sa.BigInteger(), nullable=False),
    sa.Column("fetched_at", sa.BigInteger(), nullable=False),
    sa.Column("data", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_downloads"))
    )
    op.create_index("ix_backfill_downloads_exchange", "backfill_downloads", ["exchange", "start", "end"],
                    unique=False)


def downgrade() -> None:
    op.drop_table("backfill_downloads")
