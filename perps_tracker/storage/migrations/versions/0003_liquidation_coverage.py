"""Liquidation coverage: when each venue's liquidations were being read.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("liquidation_coverage",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("exchange", sa.String(length=32), nullable=False),
    sa.Column("source", sa.String(length=8), nullable=False),
    sa.Column("start_ms", sa.BigInteger(), nullable=False),
    sa.Column("end_ms", sa.BigInteger(), nullable=False),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_liquidation_coverage"))
    )
    op.create_index(op.f("ix_liquidation_coverage_exchange_end"), "liquidation_coverage", ["exchange", "end_ms"],
                    unique=False)
    with op.batch_alter_table("liquidation_snapshots") as batch:
        batch.add_column(sa.Column("coverage", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("liquidation_snapshots") as batch:
        batch.drop_column("coverage")
    op.drop_table("liquidation_coverage")
