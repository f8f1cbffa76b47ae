"""Liquidation and alert tables: liquidations, liquidation_snapshots, alerts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("liquidations",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("exchange", sa.String(length=32), nullable=False),
    sa.Column("symbol", sa.String(length=64), nullable=False),
    sa.Column("side", sa.String(length=8), nullable=False),
    sa.Column("price", sa.Double(), nullable=False),
    sa.Column("quantity", sa.Double(), nullable=False),
    sa.Column("value_usd", sa.Double(), nullable=False),
    sa.Column("event_time_ms", sa.BigInteger(), nullable=False),
    sa.Column("source", sa.String(length=8), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_liquidations")),
    sa.UniqueConstraint("exchange", "symbol", "event_time_ms", "side", "price", "quantity", name="uq_liquidations_event")
    )
    op.create_index(op.f("ix_liquidations_event_time_ms"), "liquidations", ["event_time_ms"], unique=False)
    op.create_index(op.f("ix_liquidations_exchange_time"), "liquidations", ["exchange", "event_time_ms"], unique=False)

    op.create_table("liquidation_snapshots",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("snapshot_id", sa.Integer(), nullable=False),
    sa.Column("exchange", sa.String(length=32), nullable=False),
    sa.Column("window_hours", sa.Double(), nullable=False),
    sa.Column("count", sa.Integer(), nullable=False),
    sa.Column("long_usd", sa.Double(), nullable=False),
    sa.Column("short_usd", sa.Double(), nullable=False),
    sa.Column("total_usd", sa.Double(), nullable=False),
    sa.Column("long_liq_share", sa.Double(), nullable=True),
    sa.Column("largest_usd", sa.Double(), nullable=True),
    sa.Column("volume_usd", sa.Double(), nullable=True),
    sa.Column("cascade_risk_score", sa.Double(), nullable=True),
    sa.Column("level", sa.String(length=16), nullable=True),
    sa.Column("sampled", sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(["snapshot_id"], ["market_snapshots.id"], name=op.f("fk_liquidation_snapshots_snapshot_id_market_snapshots"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_liquidation_snapshots")),
    sa.UniqueConstraint("snapshot_id", "exchange", name=op.f("uq_liquidation_snapshots_snapshot_id_exchange"))
    )
    op.create_index(op.f("ix_liquidation_snapshots_snapshot_id"), "liquidation_snapshots", ["snapshot_id"], unique=False)

    op.create_table("alerts",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("timestamp", sa.BigInteger(), nullable=False),
    sa.Column("snapshot_timestamp", sa.BigInteger(), nullable=True),
    sa.Column("strategy", sa.String(length=64), nullable=False),
    sa.Column("tier", sa.Integer(), nullable=False),
    sa.Column("confidence", sa.Integer(), nullable=False),
    sa.Column("direction", sa.String(length=8), nullable=True),
    sa.Column("reasons", sa.Text(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("why", sa.Text(), nullable=True),
    sa.Column("delivered_at", sa.BigInteger(), nullable=True),
    sa.Column("delivery_attempts", sa.Integer(), nullable=False),
    sa.Column("delivery_error", sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts"))
    )
    op.create_index(op.f("ix_alerts_strategy_time"), "alerts", ["strategy", "timestamp"], unique=False)
    op.create_index(op.f("ix_alerts_timestamp"), "alerts", ["timestamp"], unique=False)


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("liquidation_snapshots")
    op.drop_table("liquidations")
