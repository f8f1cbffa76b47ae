"""The options market per currency and hour (Deribit's chain: DVOL, put/call ratios, options open
interest, 25-delta skew, ATM IV of the expiry nearest 30 days, that expiry's smile), docs/options.md.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "options_snapshots",
        sa.Column("timestamp", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("currency", sa.String(8), nullable=False),
        *(sa.Column(name, sa.Double(), nullable=True)
          for name in ("dvol", "put_call_oi_ratio", "put_call_volume_ratio", "options_oi_usd", "skew_25d",
                       "atm_iv_30d")),
        sa.Column("expiry", sa.BigInteger(), nullable=True),
        sa.Column("options", sa.Integer(), nullable=True),
        sa.Column("smile", sa.Text(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("timestamp", "currency", name="pk_options_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("options_snapshots")
