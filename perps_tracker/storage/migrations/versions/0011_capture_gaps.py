"""Every interruption of real-time capture (`capture`, docs/capture.md): a venue's channel of a symbol
not being read from one time to another, and why.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capture_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("from_ms", sa.BigInteger(), nullable=False),
        sa.Column("to_ms", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_capture_gaps"),
    )
    op.create_index("ix_capture_gaps_exchange_channel_from", "capture_gaps", ["exchange", "channel", "from_ms"])


def downgrade() -> None:
    op.drop_index("ix_capture_gaps_exchange_channel_from", table_name="capture_gaps")
    op.drop_table("capture_gaps")
