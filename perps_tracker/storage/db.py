"""Open, create and upgrade the database.

`open_database(db)` is the one way in: it resolves a path or SQLAlchemy URL, checks the
location before anything is written, refuses databases it does not understand (another
program's tables, a newer schema) without altering them, and upgrades an older schema
through Alembic without losing rows. SQLite runs with WAL, a busy timeout and foreign keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from perps_tracker.config import DEFAULT_DB
from perps_tracker.errors import DatabaseError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000


def resolve_url(db: str) -> str:
    """A path becomes an absolute `sqlite:///` URL (relative to the working directory); URLs pass."""
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def display_url(url: str) -> str:
    """The URL with any password hidden, for messages and output."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


@dataclass(frozen=True)
class Database:
    """An open database: engine, URL, the SQLite file (None for other backends) and schema state."""

    engine: Engine
    url: str
    path: Path | None
    revision: str
    previous_revision: str | None
    action: str  # "created", "upgraded" or "current"

    @property
    def display_url(self) -> str:
        return display_url(self.url)

    def size_bytes(self) -> int | None:
        """Bytes on disk: the SQLite file and its write-ahead log, or PostgreSQL's database size."""
        if self.path is not None:
            return sum(p.stat().st_size for p in _sqlite_files(self.path) if p.exists())
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())
        return None

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_files(path: Path) -> Iterator[Path]:
    yield path
    yield path.with_name(path.name + "-wal")


def _check_sqlite_location(path: Path, *, create: bool, mkdir: bool) -> None:
    """Refuse a path that cannot hold our database before SQLite creates or alters anything."""
    if path.is_dir():
        raise DatabaseError(f"database path {path} is a directory")
    if path.exists():
        try:
            with path.open("rb") as fh:
                header = fh.read(len(SQLITE_HEADER))
        except OSError as e:
            raise DatabaseError(f"cannot read database {path}: {e.strerror}") from None
        if header and header != SQLITE_HEADER:
            raise DatabaseError(f"{path} is not a SQLite database")
        if not os.access(path, os.W_OK):
            raise DatabaseError(f"database {path} is not writable")
        return
    if not create:
        raise DatabaseError(f"no database at {path} (run `perps-tracker init` or `perps-tracker snapshot` first)")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise DatabaseError(f"cannot create database {path}: {parent} is not a directory")
    if not parent.exists():
        if not mkdir:
            raise DatabaseError(f"cannot create database {path}: directory {parent} does not exist")
        try:
            parent.mkdir(parents=True)
        except OSError as e:
            raise DatabaseError(f"cannot create directory {parent}: {e.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise DatabaseError(f"cannot create database {path}: directory {parent} is not writable")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite connections get the busy timeout and foreign keys."""
    try:
        engine = create_engine(url)
    except ArgumentError:
        raise DatabaseError(f"not a valid database path or URL: {display_url(url)}") from None
    except ImportError as e:
        raise DatabaseError(f"no driver for {display_url(url)}: {e} (for PostgreSQL: pip install 'perps-tracker[postgres]')") from None
    except SQLAlchemyError as e:
        raise DatabaseError(f"cannot use {display_url(url)}: {e}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR))


def head_revision() -> str:
    """The schema revision this version of perps-tracker writes."""
    return _script().get_current_head()


def _current_revision(engine: Engine) -> tuple[str | None, list[str]]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
    return current, tables


def _upgrade(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _migrate(engine: Engine, where: str) -> tuple[str, str | None, str]:
    script = _script()
    head = script.get_current_head()
    current, tables = _current_revision(engine)
    known = {rev.revision for rev in script.walk_revisions()}
    if current is None and tables:
        raise DatabaseError(f"{where} holds tables but no perps-tracker schema; refusing to change it")
    if current is not None and current not in known:
        raise DatabaseError(
            f"{where} has schema revision {current}, newer than this perps-tracker knows "
            f"(latest {head}); upgrade perps-tracker, the database was not changed"
        )
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode = WAL")
    if current == head:
        return head, current, "current"
    _upgrade(engine)
    return head, current, "created" if current is None else "upgraded"


def open_database(db: str, *, create: bool = True, mkdir: bool | None = None) -> Database:
    """Open `db` (a path or URL), creating it if `create`, and bring its schema up to date.

    `mkdir`: create a missing parent directory; by default only for the default location.
    """
    url = resolve_url(db)
    try:
        sa_url = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"not a valid database path or URL: {db}") from None
    path: Path | None = None
    if sa_url.get_backend_name() == "sqlite" and sa_url.database not in (None, "", ":memory:"):
        path = Path(sa_url.database)
        _check_sqlite_location(path, create=create, mkdir=(db == DEFAULT_DB) if mkdir is None else mkdir)
    engine = make_engine(url)
    where = str(path) if path else display_url(url)
    try:
        revision, previous, action = _migrate(engine, where)
    except DatabaseError:
        engine.dispose()
        raise
    except SQLAlchemyError as e:
        engine.dispose()
        raise DatabaseError(f"cannot open database {where}: {one_line(e)}") from None
    return Database(engine, url, path, revision, previous, action)


def one_line(error: SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's statement dump and links."""
    orig = getattr(error, "orig", None)
    text = str(orig) if orig is not None else str(error)
    return text.strip().splitlines()[0] if text.strip() else error.__class__.__name__
