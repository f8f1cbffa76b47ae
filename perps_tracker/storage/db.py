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

Reads go through `Database.reading()`, a `Reader` running plain SQL with `:name` parameters, the
same text on every backend: a SQLite database opened read-only is read with the standard library's
`sqlite3` (so a command like `stats` never imports SQLAlchemy, whose import alone costs more than
the command), any other through SQLAlchemy `text()` on the engine. SQLAlchemy itself is imported
only when an engine is made: by `open_database`, for a server database, or when a read command
asks for `Database.engine`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping
from urllib.parse import quote, urlencode

from perps_tracker.errors import DatabaseError
from perps_tracker.storage import DEFAULT_DB

if TYPE_CHECKING:  # imported where an engine is made
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000

# The revisions in storage/migrations/versions, oldest first (a test checks them against
# Alembic). Add a new revision here; bump READABLE_SINCE when it adds a table or column the
# read commands use.
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011")
SCHEMA_HEAD = REVISIONS[-1]
READABLE_SINCE = "0011"  # capture_gaps (`stats` reads it), after 0010's report tables and 0009's options_snapshots
log = logging.getLogger(__name__)
PG_LOCK_KEY = 0x7065_7270  # pg_advisory_xact_lock key serialising perps-tracker's schema and snapshot writes


def resolve_url(db: str) -> str:
    """A path becomes an absolute `sqlite:///` URL (relative to the working directory); URLs pass."""
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def _plain_sqlite(url: str) -> tuple[str | None, str] | None:
    """(database, the URL as SQLAlchemy renders it) of a `sqlite://` URL with no host, no query string
    and nothing in its path that SQLAlchemy versions quote or unquote differently (`%`, `:`, `@`...),
    without importing SQLAlchemy; None for any other URL (`make_url` reads those)."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("sqlite", "sqlite+pysqlite") or "?" in rest or (rest and not rest.startswith("/")):
        return None
    database = rest[1:] if rest else None
    if database is not None and quote(database, safe=" +/") != database:
        return None
    return database, f"{scheme}://" + ("" if database is None else "/" + database)


def display_url(url: str) -> str:
    """The URL with any password hidden, for messages and output."""
    plain = _plain_sqlite(url)
    if plain is not None:
        return plain[1]
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

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
    plain = _plain_sqlite(url)
    if plain is not None:
        backend, database = "sqlite", plain[0]
    else:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            sa_url = make_url(url)
        except ArgumentError:
            raise DatabaseError(f"not a valid database path or URL: {db}") from None
        backend, database = sa_url.get_backend_name(), sa_url.database
    path = None
    if backend == "sqlite" and database not in (None, "", ":memory:"):
        path = Path(database)
    return Location(url, path)


class Reader(ABC):
    """Plain SQL with `:name` parameters (the same text on SQLite and PostgreSQL), rows as tuples."""

    dialect: str  # "sqlite", "postgresql", ...: for the few reads that take a faster way on one backend

    @abstractmethod
    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        """Every row of `sql`."""

    @abstractmethod
    def batches(self, sql: str, params: Mapping[str, Any] | None = None, size: int = 20_000
                ) -> tuple[list[str], Iterator[list[tuple]]]:
        """The column names of `sql` and its rows `size` at a time, read as they are consumed (a
        server-side cursor on PostgreSQL): flat memory whatever the number of rows."""

    def tables(self) -> list[str]:
        """The tables of the database (of its default schema)."""
        return [name for (name,) in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")]

    def row(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple | None:
        """The first row, or None."""
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        first = self.row(sql, params)
        return first[0] if first else None


class _SqliteReader(Reader):
    """Through the standard library's sqlite3 connection: no SQLAlchemy."""

    dialect = "sqlite"

    def __init__(self, con: sqlite3.Connection):
        self._con = con

    def rows(self, sql, params=None):
        return self._con.execute(sql, params or {}).fetchall()

    def batches(self, sql, params=None, size=20_000):
        cursor = self._con.execute(sql, params or {})
        return [d[0] for d in cursor.description], iter(lambda: cursor.fetchmany(size), [])


class _EngineReader(Reader):
    """Through SQLAlchemy `text()` on a connection of any backend."""

    def __init__(self, conn: "Connection"):
        self._conn = conn
        self.dialect = conn.dialect.name

    def rows(self, sql, params=None):
        from sqlalchemy import text

        return [tuple(r) for r in self._conn.execute(text(sql), dict(params or {}))]

    def batches(self, sql, params=None, size=20_000):
        from sqlalchemy import text

        result = self._conn.execution_options(stream_results=True, yield_per=size).execute(
            text(sql), dict(params or {}))
        return list(result.keys()), (list(map(tuple, part)) for part in result.partitions(size))

    def tables(self):
        if self._conn.dialect.name == "sqlite":
            return super().tables()
        from sqlalchemy import inspect

        return inspect(self._conn).get_table_names()


@dataclass
class Database:
    """An open database: URL, the SQLite file (None for other backends), schema state, and either an
    engine or (a SQLite file opened read-only) a sqlite3 connection, the engine then made on first use."""

    url: str
    path: Path | None
    revision: str | None
    previous_revision: str | None
    action: str  # "created", "upgraded", "current" or "read" (opened read-only)
    _engine: "Engine | None" = field(default=None, repr=False)
    _sqlite: sqlite3.Connection | None = field(default=None, repr=False)
    _sqlite_uri: tuple[str, dict[str, str]] | None = field(default=None, repr=False)  # (file: URI, query) of _sqlite

    @property
    def engine(self) -> "Engine":
        """The SQLAlchemy engine (for a SQLite file opened read-only: one opened the same way)."""
        if self._engine is None:
            from sqlalchemy.engine import URL

            assert self._sqlite_uri is not None
            uri, query = self._sqlite_uri
            self._engine = make_engine(URL.create("sqlite", database=uri, query={**query, "uri": "true"}),
                                       read_only=True)
        return self._engine

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """A `Reader` for plain SQL: the read-only sqlite3 connection if there is one, else the engine's."""
        if self._sqlite is not None:
            yield _SqliteReader(self._sqlite)
        else:
            with self.engine.connect() as conn:
                yield _EngineReader(conn)

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
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._engine is not None:
            self._engine.dispose()

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


def make_engine(url: "str | URL", *, read_only: bool = False) -> "Engine":
    """An engine for `url`; SQLite connections get the busy timeout and foreign keys,
    and with `read_only` PostgreSQL sessions default to read-only transactions."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

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


def _schema_state(reader: Reader) -> tuple[str | None, bool]:
    """(the stored schema revision or None, whether the database holds any table besides it),
    with plain SQL: no Alembic import on the common path."""
    tables = reader.tables()
    if "alembic_version" not in tables:
        return None, bool(tables)
    version = reader.scalar("SELECT version_num FROM alembic_version")
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
def write_lock(engine: "Engine") -> Iterator["Connection"]:
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


def _upgrade(conn: "Connection") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def _migrate(engine: "Engine", where: str) -> tuple[str, str | None, str]:
    with engine.connect() as conn:
        current, has_tables = _schema_state(_EngineReader(conn))
    _refuse_unknown(current, has_tables, where)
    if current != SCHEMA_HEAD:
        with write_lock(engine) as conn:
            current, has_tables = _schema_state(_EngineReader(conn))  # again, now that no one else can be migrating
            _refuse_unknown(current, has_tables, where)
            if current != SCHEMA_HEAD:
                _upgrade(conn)
    if engine.dialect.name == "sqlite":
        _ensure_wal(engine)
    if current == SCHEMA_HEAD:
        return SCHEMA_HEAD, current, "current"
    return SCHEMA_HEAD, current, "created" if current is None else "upgraded"


def _ensure_wal(engine: "Engine") -> None:
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
    from sqlalchemy.exc import SQLAlchemyError

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
    return Database(location.url, location.path, revision, previous, action, _engine=engine)


def _read_only_ways(location: Location) -> list[Database]:
    """How to open `location` read-only, in order (nothing is connected yet for a server database):
    a SQLite file through sqlite3 with `mode=ro`, then with `immutable=1` for a file whose directory
    cannot hold the shared-memory file a WAL reader needs (no writer can be running there without one)."""
    if location.path is None:
        return [Database(location.url, None, None, None, "read", _engine=make_engine(location.url, read_only=True))]
    uri = f"file:{quote(str(location.path))}"
    return [Database(location.url, location.path, None, None, "read", _sqlite_uri=(uri, query))
            for query in ({"mode": "ro"}, {"immutable": "1"})]


def _connect_sqlite(db: Database) -> None:
    """Open the read-only sqlite3 connection of `db`, with the pragmas its engine's would get."""
    uri, query = db._sqlite_uri
    db._sqlite = sqlite3.connect(f"{uri}?{urlencode(query)}", uri=True)
    _read_only_pragmas(db._sqlite, None)


def open_for_reading(db: str) -> Database:
    """Open an existing `db` read-only: no migration, nothing written. Raises DatabaseError for a
    missing database, a foreign or newer one, or one too old to read (naming `perps-tracker init`)."""
    location = locate(db)
    check_location(location, create=False, mkdir=False)
    error: Exception | None = None
    for k, database in enumerate(_read_only_ways(location)):
        log.info("database %s: opening read-only%s", location.where, " as immutable" if k else "")
        try:
            if database._sqlite_uri is not None:
                _connect_sqlite(database)
            with database.reading() as reader:
                current, has_tables = _schema_state(reader)
        except Exception as e:
            database.dispose()
            if not is_database_error(e):
                raise
            error = e
            log.info("database %s: cannot open it so: %s", location.where, one_line(e))
            continue
        try:
            _check_readable(current, has_tables, location.where)
        except DatabaseError:
            database.dispose()
            raise
        log.info("database schema %s: read-only, no migration", current)
        database.revision = database.previous_revision = current
        return database
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
    except Exception as e:
        if not is_database_error(e):
            raise
        raise DatabaseError(f"{what} failed: {one_line(e)}") from e


def is_database_error(error: BaseException) -> bool:
    """Whether `error` is the database's (SQLAlchemy's, or sqlite3's where it is read directly)."""
    if isinstance(error, sqlite3.Error):
        return True
    exc = sys.modules.get("sqlalchemy.exc")  # not imported: nothing of SQLAlchemy's ran
    return exc is not None and isinstance(error, exc.SQLAlchemyError)


def one_line(error: BaseException | None) -> str:
    """The driver's message without SQLAlchemy's statement dump and links."""
    if error is None:
        return "unknown error"
    orig = getattr(error, "orig", None)
    text = str(orig) if orig is not None else str(error)
    return text.strip().splitlines()[0] if text.strip() else error.__class__.__name__
