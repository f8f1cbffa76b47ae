"""The only code that touches SQL (SQLAlchemy, and sqlite3 where `stats` reads a SQLite file):
opening the database, its schema and migrations, and every read and write. Kept light: importing
this package imports nothing heavy."""

DEFAULT_DB = "data/market_history.db"  # relative to the working directory

# The tables of `storage/tables.py`, in display order for `stats` and `cleanup`: snapshots and their
# children, then raw events. Here, free of SQLAlchemy, for `stats`.
TABLES = [
    "market_snapshots",
    "exchange_snapshots",
    "sentiment_factors",
    "liquidation_snapshots",
    "liquidations",
    "liquidation_coverage",
    "alerts",
    "alert_deliveries",
    "backfill_downloads",
    "instruments",
    "instrument_rows",
    "options_snapshots",
    "report_notices",
    "report_deliveries",
    "capture_gaps",
]
