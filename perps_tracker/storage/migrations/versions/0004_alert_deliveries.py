"""Alert delivery per webhook, and one decision per strategy per snapshot hour.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("alert_deliveries",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("alert_id", sa.Integer(), nullable=False),
    sa.Column("webhook", sa.String(length=16), nullable=False),
    sa.Column("status", sa.String(length=12), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("last_attempt_at", sa.BigInteger(), nullable=True),
    sa.Column("delivered_at", sa.BigInteger(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_alert_deliveries_alert_id_alerts"),
                            ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
    sa.UniqueConstraint("alert_id", "webhook", name=op.f("uq_alert_deliveries_alert_id_webhook"))
    )
    op.create_index(op.f("ix_alert_deliveries_alert_id"), "alert_deliveries", ["alert_id"], unique=False)
    op.create_index("uq_alerts_snapshot_strategy", "alerts", ["snapshot_timestamp", "strategy"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_alerts_snapshot_strategy", table_name="alerts")
    op.drop_table("alert_deliveries")
