"""Alembic environment: runs on the connection perps-tracker hands over.

`perps_tracker.storage.db` passes an open connection in `config.attributes["connection"]`.
Developers creating a revision by hand use `alembic -c alembic.ini revision --autogenerate`,
which connects to `sqlalchemy.url` or $PERPS_TRACKER_DB.
"""

import os

from alembic import context
from sqlalchemy import create_engine

from perps_tracker.storage.db import resolve_url
from perps_tracker.storage.models import Base

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or resolve_url(os.environ.get("PERPS_TRACKER_DB", "data/market_history.db"))
    with create_engine(url).begin() as conn:
        _run(conn)
