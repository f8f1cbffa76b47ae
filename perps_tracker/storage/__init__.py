"""The only code that touches SQLAlchemy: opening the database, its schema and migrations,
and every read and write. Kept light: importing this package imports nothing heavy."""

DEFAULT_DB = "data/market_history.db"  # relative to the working directory
