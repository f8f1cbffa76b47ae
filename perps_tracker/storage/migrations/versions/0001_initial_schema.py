"""Snapshot tables: market_snapshots, exchange_snapshots, sentiment_factors.

Revision ID: 0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("market_snapshots",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("timestamp", sa.BigInteger(), nullable=False),
    sa.Column("taken_at", sa.BigInteger(), nullable=False),
    sa.Column("source", sa.String(length=16), nullable=False),
    sa.Column("exchanges_ok", sa.Integer(), nullable=False),
    sa.Column("exchanges_failed", sa.Integer(), nullable=False),
    sa.Column("total_volume_usd", sa.Double(), nullable=True),
    sa.Column("cex_volume_usd", sa.Double(), nullable=True),
    sa.Column("dex_volume_usd", sa.Double(), nullable=True),
    sa.Column("total_oi_usd", sa.Double(), nullable=True),
    sa.Column("btc_price", sa.Double(), nullable=True),
    sa.Column("funding_rate_8h", sa.Double(), nullable=True),
    sa.Column("price_change_24h_pct", sa.Double(), nullable=True),
    sa.Column("funding_divergence", sa.Double(), nullable=True),
    sa.Column("oi_vol_ratio", sa.Double(), nullable=True),
    sa.Column("long_share", sa.Double(), nullable=True),
    sa.Column("long_short_ratio", sa.Double(), nullable=True),
    sa.Column("oi_change_24h_pct", sa.Double(), nullable=True),
    sa.Column("composite_score", sa.Double(), nullable=True),
    sa.Column("sentiment", sa.String(length=16), nullable=True),
    sa.Column("strength", sa.String(length=16), nullable=True),
    sa.Column("divergence_label", sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_market_snapshots")),
    sa.UniqueConstraint("timestamp", name=op.f("uq_market_snapshots_timestamp"))
    )

    op.create_table("exchange_snapshots",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("snapshot_id", sa.Integer(), nullable=False),
    sa.Column("exchange", sa.String(length=32), nullable=False),
    sa.Column("kind", sa.String(length=8), nullable=False),
    sa.Column("status", sa.String(length=8), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("latency_ms", sa.Integer(), nullable=True),
    sa.Column("volume_24h_usd", sa.Double(), nullable=True),
    sa.Column("open_interest_usd", sa.Double(), nullable=True),
    sa.Column("markets", sa.Integer(), nullable=True),
    sa.Column("num_trades_24h", sa.BigInteger(), nullable=True),
    sa.Column("btc_price", sa.Double(), nullable=True),
    sa.Column("btc_mark_price", sa.Double(), nullable=True),
    sa.Column("btc_index_price", sa.Double(), nullable=True),
    sa.Column("btc_funding_rate_8h", sa.Double(), nullable=True),
    sa.Column("btc_price_change_24h_pct", sa.Double(), nullable=True),
    sa.Column("long_short_ratio", sa.Double(), nullable=True),
    sa.Column("long_share", sa.Double(), nullable=True),
    sa.Column("records_skipped", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["snapshot_id"], ["market_snapshots.id"], name=op.f("fk_exchange_snapshots_snapshot_id_market_snapshots"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_snapshots")),
    sa.UniqueConstraint("snapshot_id", "exchange", name=op.f("uq_exchange_snapshots_snapshot_id_exchange"))
    )
    op.create_index(op.f("ix_exchange_snapshots_exchange"), "exchange_snapshots", ["exchange"], unique=False)
    op.create_index(op.f("ix_exchange_snapshots_snapshot_id"), "exchange_snapshots", ["snapshot_id"], unique=False)

    op.create_table("sentiment_factors",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("snapshot_id", sa.Integer(), nullable=False),
    sa.Column("funding", sa.Double(), nullable=True),
    sa.Column("price", sa.Double(), nullable=True),
    sa.Column("long_short", sa.Double(), nullable=True),
    sa.Column("conviction", sa.Double(), nullable=True),
    sa.Column("divergence", sa.Double(), nullable=True),
    sa.Column("oi_price", sa.Double(), nullable=True),
    sa.Column("missing", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["snapshot_id"], ["market_snapshots.id"], name=op.f("fk_sentiment_factors_snapshot_id_market_snapshots"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sentiment_factors")),
    sa.UniqueConstraint("snapshot_id", name=op.f("uq_sentiment_factors_snapshot_id"))
    )


def downgrade() -> None:
    op.drop_table("sentiment_factors")
    op.drop_table("exchange_snapshots")
    op.drop_table("market_snapshots")
