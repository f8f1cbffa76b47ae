"""Leaner indexes: keep only those a query uses.

A stored liquidation event cost about 160 bytes, 60 % of it indexes. Its unique key now leads
with `event_time_ms`, so that one index serves the duplicate check on insert, the window sums
(time range, then venue) and `cleanup` (time below a cutoff); the separate indexes on
`event_time_ms` and on (`exchange`, `event_time_ms`) go. Elsewhere the indexes that repeat the
leading column of a unique key (`exchange_snapshots.snapshot_id`,
`liquidation_snapshots.snapshot_id`, `alert_deliveries.alert_id`) or that no query uses
(`exchange_snapshots.exchange`, `alerts` (`strategy`, `timestamp`)) go.

Only indexes change, so a database at 0006 is still read as it is (READABLE_SINCE stays 0006).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

EVENT_KEY_BEFORE = ["exchange", "symbol", "event_time_ms", "side", "price", "quantity"]
EVENT_KEY = ["event_time_ms", "exchange", "symbol", "side", "price", "quantity"]

# (index, table, columns) dropped by this revision, as 0001-0004 created them.
DROPPED = [
    ("ix_exchange_snapshots_snapshot_id", "exchange_snapshots", ["snapshot_id"]),
    ("ix_exchange_snapshots_exchange", "exchange_snapshots", ["exchange"]),
    ("ix_liquidation_snapshots_snapshot_id", "liquidation_snapshots", ["snapshot_id"]),
    ("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"]),
    ("ix_alerts_strategy_time", "alerts", ["strategy", "timestamp"]),
    ("ix_liquidations_event_time_ms", "liquidations", ["event_time_ms"]),
    ("ix_liquidations_exchange_time", "liquidations", ["exchange", "event_time_ms"]),
]


def _event_key(columns: list[str]) -> None:
    # SQLite cannot alter a constraint: batch mode copies the table once (PostgreSQL alters it in place).
    with op.batch_alter_table("liquidations") as batch:
        batch.drop_constraint("uq_liquidations_event", type_="unique")
        batch.create_unique_constraint("uq_liquidations_event", columns)


def upgrade() -> None:
    for name, table, _ in DROPPED:
        op.drop_index(name, table_name=table)
    _event_key(EVENT_KEY)


def downgrade() -> None:
    _event_key(EVENT_KEY_BEFORE)
    for name, table, columns in reversed(DROPPED):
        op.create_index(name, table, columns, unique=False)
