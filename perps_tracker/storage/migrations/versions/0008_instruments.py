"""Every market of every venue, every hour: `instruments` (one row per venue symbol), the compact
fact table `instrument_rows` keyed by (hour, instrument) — WITHOUT ROWID on SQLite — and the view
`instrument_snapshots` with the layer's columns (docs/markets.md); `market_snapshots` gains the
hour's widest cross-venue funding spread over every coin (`funding_arb_*`).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from perps_tracker.storage.tables import INSTRUMENT_VIEW

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ARB_COLUMNS = [("funding_arb_coin", sa.String(32)), ("funding_arb_short", sa.String(32)),
               ("funding_arb_short_8h", sa.Double()), ("funding_arb_long", sa.String(32)),
               ("funding_arb_long_8h", sa.Double())]


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("exchange", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("coin", sa.String(32), nullable=False),
        sa.Column("multiplier", sa.Double(), nullable=False),
        sa.Column("quote", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_instruments"),
        sa.UniqueConstraint("exchange", "symbol", name="uq_instruments_exchange_symbol"),
    )
    op.create_index("ix_instruments_coin", "instruments", ["coin"])
    op.create_table(
        "instrument_rows",
        sa.Column("timestamp", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False, autoincrement=False),
        *(sa.Column(name, sa.Double(), nullable=True)
          for name in ("price", "mark_price", "index_price", "volume_24h_usd", "open_interest_usd",
                       "funding_rate", "funding_interval_h", "funding_rate_8h")),
        sa.Column("next_funding_time", sa.BigInteger(), nullable=True),
        sa.Column("price_change_24h_pct", sa.Double(), nullable=True),
        sa.Column("backfill", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["instrument_id"], ["instruments.id"], ondelete="CASCADE",
                                name="fk_instrument_rows_instrument_id_instruments"),
        sa.PrimaryKeyConstraint("timestamp", "instrument_id", name="pk_instrument_rows"),
        sqlite_with_rowid=False,
    )
    op.execute(INSTRUMENT_VIEW)
    for name, type_ in ARB_COLUMNS:
        op.add_column("market_snapshots", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("market_snapshots") as batch:
        for name, _ in reversed(ARB_COLUMNS):
            batch.drop_column(name)
    op.execute("DROP VIEW instrument_snapshots")
    op.drop_table("instrument_rows")
    op.drop_index("ix_instruments_coin", table_name="instruments")
    op.drop_table("instruments")
