"""Open, create and upgrade the database.

Two ways in:

- `open_database(db)` for commands that write: it resolves a path or SQLAlchemy URL, checks
  the location before anything is written, refuses databases it does not understand
  (another program's tables, a newer schema) without altering them, and upgrades an older
  schema through Alembic without losing rows. The upgrade runs under the database's write
  lock (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory lock), so two first runs at once
  create the schema once. SQLite runs with WAL, a busy timeout and foreign keys.
- `open_for_reading(db)` for commands that only read: a read-only connection (SQLite
  `mode=ro`, PostgreSQL read-only transactions), no migration, no WAL switch, so it works
  on a file or directory the user may only read. A database at an older schema is read
  when it has everything the read commands use, otherwise refused with a message naming
  `perps-tracker init`.

The schema revision is read with one plain query; Alembic is imported only to migrate.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from perps_tracker.errors import DatabaseError
from perps_tracker.storage import DEFAULT_DB

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000

# The revisions in storage/migrations/versions, oldest first (a test checks them against
# Alembic). Add a new revision here; bump READABLE_SINCE when it adds a table or column the
# read commands use.
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")
SCHEMA_HEAD = REVISIONS[-1]
READABLE_SINCE = "0006"  # exchange_snapshots.taken_at (0007 only drops and reorders indexes)
log = logging.getLogger(__name__)
PG_LOCK_KEY = 0x7065_7270  # pg_advisory_xact_lock key serialising perps-tracker's schema and snapshot writes


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
class Location:
    """Where a database lives: its URL, the SQLite file (None for other backends), a name for messages."""

    url: str
    path: Path | None

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else display_url(self.url)

    @property
    def exists(self) -> bool:
        """False only for a SQLite file not created yet (a server database is assumed to exist)."""
        return self.path is None or self.path.exists()


def locate(db: str) -> Location:
    """Resolve `db` (a path or URL) without touching it."""
    url = resolve_url(db)
    try:
        sa_url = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"not a valid database path or URL: {db}") from None
    path = None
    if sa_url.get_backend_name() == "sqlite" and sa_url.database not in (None, "", ":memory:"):
        path = Path(sa_url.database)
    return Location(url, path)


@dataclass(frozen=True)
class Database:
    """An open database: engine, URL, the SQLite file (None for other backends) and schema state."""

    engine: Engine
    url: str
    path: Path | None
    revision: str
    previous_revision: str | None
    action: str  # "created", "upgraded", "current" or "read" (opened read-only)

    @property
    def display_url(self) -> str:
        return display_url(self.url)

    @property
    def read_only(self) -> bool:
        return self.action == "read"

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

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.dispose()


def _sqlite_files(path: Path) -> Iterator[Path]:
    yield path
    yield path.with_name(path.name + "-wal")


def check_location(location: Location, *, create: bool, mkdir: bool) -> None:
    """Refuse a SQLite path that cannot hold our database, before anything is created or altered.
    Creates nothing: a missing parent directory is only checked to be creatable (`mkdir`)."""
    path = location.path
    if path is None:
        return
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
        return
    if not create:
        raise DatabaseError(f"no database at {path} (run `perps-tracker init` or `perps-tracker snapshot` first)")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise DatabaseError(f"cannot create database {path}: {parent} is not a directory")
    if parent != path.parent and not mkdir:
        raise DatabaseError(f"cannot create database {path}: directory {path.parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DatabaseError(f"cannot create database {path}: directory {parent} is not writable")


def check_database(db: str, *, create: bool = True, mkdir: bool | None = None) -> bool:
    """Check that `db` can be opened (as `open_database` would) without creating anything;
    whether it exists already (a server database always counts as existing)."""
    location = locate(db)
    check_location(location, create=create, mkdir=(db == DEFAULT_DB) if mkdir is None else mkdir)
    return location.exists


def _make_parent(path: Path) -> None:
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True)
        except OSError as e:
            raise DatabaseError(f"cannot create directory {path.parent}: {e.strerror}") from None


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _read_only_pragmas(dbapi_connection, _record) -> None:
    _sqlite_pragmas(dbapi_connection, _record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


def make_engine(url: str | URL, *, read_only: bool = False) -> Engine:
    """An engine for `url`; SQLite connections get the busy timeout and foreign keys,
    and with `read_only` PostgreSQL sessions default to read-only transactions."""
    name = display_url(str(url)) if isinstance(url, str) else url.render_as_string(hide_password=True)
    kwargs = {}
    if read_only and make_url(url).get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"options": "-c default_transaction_read_only=on"}
    try:
        engine = create_engine(url, **kwargs)
    except ArgumentError:
        raise DatabaseError(f"not a valid database path or URL: {name}") from None
    except ImportError as e:
        raise DatabaseError(f"no driver for {name}: {e} (for PostgreSQL: pip install 'perps-tracker[postgres]')") from None
    except SQLAlchemyError as e:
        raise DatabaseError(f"cannot use {name}: {e}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _read_only_pragmas if read_only else _sqlite_pragmas)
    return engine


# -- schema state ---------------------------------------------------------------------------


def _schema_state(conn: Connection) -> tuple[str | None, bool]:
    """(the stored schema revision or None, whether the database holds any table besides it),
    with plain SQL: no Alembic import on the common path."""
    if conn.dialect.name == "sqlite":
        tables = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").scalars().all()
    else:
        from sqlalchemy import inspect

        tables = inspect(conn).get_table_names()
    if "alembic_version" not in tables:
        return None, bool(tables)
    version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return version, any(t != "alembic_version" for t in tables)


def _refuse_unknown(current: str | None, has_tables: bool, where: str) -> None:
    if current is None and has_tables:
        raise DatabaseError(f"{where} holds tables but no perps-tracker schema; refusing to change it")
    if current is not None and current not in REVISIONS:
        raise DatabaseError(
            f"{where} has schema revision {current}, newer than this perps-tracker knows "
            f"(latest {SCHEMA_HEAD}); upgrade perps-tracker, the database was not changed"
        )


@contextmanager
def write_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction holding the database's write lock from its first statement: SQLite
    `BEGIN IMMEDIATE` (other writers wait up to the busy timeout), PostgreSQL an advisory lock
    held until commit. Commits on success, rolls back on any error."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR))


def head_revision() -> str:
    """The schema revision this version of perps-tracker writes."""
    return SCHEMA_HEAD


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def _migrate(engine: Engine, where: str) -> tuple[str, str | None, str]:
    with engine.connect() as conn:
        current, has_tables = _schema_state(conn)
    _refuse_unknown(current, has_tables, where)
    if current != SCHEMA_HEAD:
        with write_lock(engine) as conn:
            current, has_tables = _schema_state(conn)  # again, now that no one else can be migrating
            _refuse_unknown(current, has_tables, where)
            if current != SCHEMA_HEAD:
                _upgrade(conn)
    if engine.dialect.name == "sqlite":
        _ensure_wal(engine)
    if current == SCHEMA_HEAD:
        return SCHEMA_HEAD, current, "current"
    return SCHEMA_HEAD, current, "created" if current is None else "upgraded"


def _ensure_wal(engine: Engine) -> None:
    """Switch a SQLite file to write-ahead logging (it stays so). The switch needs the file to
    itself: when another process holds it, the next writer to open it makes the switch."""
    from sqlalchemy.exc import OperationalError

    with engine.connect() as conn:
        if conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal":
            return
        try:
            conn.exec_driver_sql("PRAGMA journal_mode = WAL")
        except OperationalError as e:
            log.debug("journal mode left for the next writer: %s", one_line(e))


def open_database(db: str, *, create: bool = True, mkdir: bool | None = None) -> Database:
    """Open `db` (a path or URL) for writing, creating it if `create`, and bring its schema up to date.

    `mkdir`: create a missing parent directory; by default only for the default location.
    """
    location = locate(db)
    mkdir = (db == DEFAULT_DB) if mkdir is None else mkdir
    check_location(location, create=create, mkdir=mkdir)
    if location.path is not None:
        if location.path.exists() and not os.access(location.path, os.W_OK):
            raise DatabaseError(f"database {location.path} is not writable")
        _make_parent(location.path)
    log.info("database %s: opening for writing", display_url(location.url))
    engine = make_engine(location.url)
    try:
        revision, previous, action = _migrate(engine, location.where)
    except DatabaseError:
        engine.dispose()
        raise
    except SQLAlchemyError as e:
        engine.dispose()
        raise DatabaseError(f"cannot open database {location.where}: {one_line(e)}") from None
    log.info("database schema %s: %s", revision,
             {"created": "created", "upgraded": f"migrated from {previous}"}.get(action, "up to date"))
    return Database(engine, location.url, location.path, revision, previous, action)


def _read_only_urls(location: Location) -> list[str | URL]:
    """How to open `location` read-only, in order: SQLite `mode=ro`, then `immutable=1` for a
    file whose directory cannot hold the shared-memory file a WAL reader needs (no writer can be
    running there without one)."""
    if location.path is None:
        return [location.url]
    uri = f"file:{quote(str(location.path))}"
    return [URL.create("sqlite", database=uri, query={"mode": "ro", "uri": "true"}),
            URL.create("sqlite", database=uri, query={"immutable": "1", "uri": "true"})]


def open_for_reading(db: str) -> Database:
    """Open an existing `db` read-only: no migration, nothing written. Raises DatabaseError for a
    missing database, a foreign or newer one, or one too old to read (naming `perps-tracker init`)."""
    location = locate(db)
    check_location(location, create=False, mkdir=False)
    error: Exception | None = None
    for k, url in enumerate(_read_only_urls(location)):
        log.info("database %s: opening read-only%s", location.where, " as immutable" if k else "")
        engine = make_engine(url, read_only=True)
        try:
            with engine.connect() as conn:
                current, has_tables = _schema_state(conn)
        except SQLAlchemyError as e:
            engine.dispose()
            error = e
            log.info("database %s: cannot open it so: %s", location.where, one_line(e))
            continue
        try:
            _check_readable(current, has_tables, location.where)
        except DatabaseError:
            engine.dispose()
            raise
        log.info("database schema %s: read-only, no migration", current)
        return Database(engine, location.url, location.path, current, current, "read")
    raise DatabaseError(f"cannot open database {location.where}: {one_line(error)}") from None


def _check_readable(current: str | None, has_tables: bool, where: str) -> None:
    _refuse_unknown(current, has_tables, where)
    if current is None:
        raise DatabaseError(f"{where} holds no perps-tracker schema yet (run `perps-tracker init`)")
    if REVISIONS.index(current) < REVISIONS.index(READABLE_SINCE):
        raise DatabaseError(f"{where} has schema revision {current}, older than this perps-tracker reads "
                            f"({READABLE_SINCE}): run `perps-tracker init` to upgrade it")


@contextmanager
def guard(what: str) -> Iterator[None]:
    """Turn a database failure into a one-line DatabaseError naming `what` was being done."""
    try:
        yield
    except SQLAlchemyError as e:
        raise DatabaseError(f"{what} failed: {one_line(e)}") from e


def one_line(error: BaseException | None) -> str:
    """The driver's message without SQLAlchemy's statement dump and links."""
    if error is None:
        return "unknown error"
    orig = getattr(error, "orig", None)
    text = str(orig) if orig is not None else str(error)
    return text.strip().splitlines()[0] if text.strip() else error.__class__.__name__
