"""When each venue row of a snapshot was fetched, so a re-run that merges into an hour says
which venues came from which run.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_snapshots") as batch:
        batch.add_column(sa.Column("taken_at", sa.BigInteger(), nullable=True))
    # Rows written before this revision came from their snapshot's only run.
    op.execute("UPDATE exchange_snapshots SET taken_at = (SELECT taken_at FROM market_snapshots "
               "WHERE market_snapshots.id = exchange_snapshots.snapshot_id)")


def downgrade() -> None:
    with op.batch_alter_table("exchange_snapshots") as batch:
        batch.drop_column("taken_at")
