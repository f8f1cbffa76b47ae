"""Shared fixtures: every test runs in its own working directory, config home and
environment, so nothing reads the real home directory, database or PERPS_TRACKER_* vars."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from perps_tracker.storage.models import (
    ExchangeSnapshot,
    MarketSnapshot,
    SentimentFactors,
)

# Rich fixes a console's width when it is made if COLUMNS is set then, and otherwise reads COLUMNS
# at each print; colour is decided when it is made. So the consoles are made here, with none of
# these set: every test sees an 80-column console that is not a terminal unless it sets COLUMNS
# for its run (CliRunner's env), whatever the shell running pytest exports.
for _name in ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR"):
    os.environ.pop(_name, None)
import perps_tracker.render.output  # noqa: E402,F401 - the consoles, made now


LOOPBACK = {"127.0.0.1", "::1", "localhost", "", None}


@pytest.fixture(autouse=True)
def loopback_only(request, monkeypatch):
    """Tests reach loopback only: a name lookup of any other host fails as an unknown host would (a
    test that forgot a fake URL fails instead of asking a real venue). `-m live` tests are exempt."""
    import socket

    if request.node.get_closest_marker("live"):
        return
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach loopback only, not {name}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("PERPS_TRACKER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "test.db"


POSTGRES_ENV = "PERPS_TEST_POSTGRES_URL"


def postgres_url() -> str:
    """An empty PostgreSQL database for this test, or a skip without $PERPS_TEST_POSTGRES_URL. Each
    pytest-xdist worker gets its own database (`<name>_gw0`, ... created on first use), so workers
    running at once never reset each other's schema."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"set {POSTGRES_ENV} (e.g. postgresql+psycopg://user@localhost/db) to run on PostgreSQL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = make_url(base)
    if worker:
        name = f"{url.database}_{worker}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = url.set(database=name)
    url = url.render_as_string(hide_password=False)
    _reset_postgres(url)
    return url


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, db_path):
    """An empty database at the current schema: SQLite, and PostgreSQL when $PERPS_TEST_POSTGRES_URL is set."""
    from perps_tracker.storage.db import open_database

    if request.param == "sqlite":
        url = str(db_path)
    else:
        url = postgres_url()
    db = open_database(url)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_only(database):
    if database.engine.dialect.name != "sqlite":
        pytest.skip("SQLite-specific")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def ts(*args) -> int:
    return int(utc(*args).timestamp())


def add_snapshot(db, timestamp: int, *, composite: float | None = 0.1, venues=None, source="live") -> int:
    """Insert a market snapshot with one row per venue (`venues`: id -> status) and factors."""
    from sqlalchemy.orm import Session

    venues = {"binance": "ok", "bybit": "ok"} if venues is None else venues
    with Session(db.engine) as session, session.begin():
        snap = MarketSnapshot(
            timestamp=timestamp, taken_at=timestamp + 42, source=source,
            exchanges_ok=sum(s == "ok" for s in venues.values()),
            exchanges_failed=sum(s != "ok" for s in venues.values()),
            total_volume_usd=1.0e11, composite_score=composite,
            sentiment=None if composite is None else "NEUTRAL", strength="NEUTRAL",
        )
        session.add(snap)
        session.flush()
        for venue, status in venues.items():
            session.add(ExchangeSnapshot(
                snapshot_id=snap.id, exchange=venue, kind="CEX", status=status,
                error=None if status == "ok" else "timeout", volume_24h_usd=5.0e10 if status == "ok" else None,
                records_skipped=0,
            ))
        session.add(SentimentFactors(snapshot_id=snap.id, funding=0.2, price=0.1, missing="oi_price"))
        return snap.id


@pytest.fixture
def fake():
    """The loopback fake of the venues (no routes installed: call fake.install(...))."""
    from tests.fakes import FakeVenues

    with FakeVenues() as server:
        yield server


@pytest.fixture
def venues_env(fake, monkeypatch, database):
    """All nine venues on the fake (retries without waiting), the test database (SQLite and PostgreSQL)
    in the environment the CLI reads; returns the database."""
    fake.install()
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PERPS_TRACKER_DB", database.url)
    monkeypatch.setenv("PERPS_TRACKER_BACKOFF", "0")
    monkeypatch.setenv("PERPS_TRACKER_RETRIES", "1")
    return database


@pytest.fixture
def client():
    """The shared HTTP client with fast test timings (no retry sleeps)."""
    from perps_tracker.exchanges.http import HttpClient, HttpSettings

    c = HttpClient(HttpSettings(connect_timeout=2.0, read_timeout=2.0, retries=2, backoff=0.0))
    yield c
    c.close()


def event_tuples(events) -> list[tuple]:
    """LiquidationEvents as comparable tuples."""
    return [(e.exchange, e.symbol, e.side, e.price, e.quantity, e.value_usd, e.event_time_ms, e.source)
            for e in events]


def expected_events(venue: str, rows, source: str = "rest", times=()) -> list[tuple]:
    """Hand-computed (symbol, side, price, quantity, usd, time) rows as event tuples (`times`: only those)."""
    return [(venue, s, side, pytest.approx(p), pytest.approx(q), pytest.approx(usd), t, source)
            for s, side, p, q, usd, t in rows if not times or t in times]


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium over DevTools (tests/browser.py), one per test process; the test is skipped
    when the system has no chromium (`apt-get install chromium`; .ci/run installs it)."""
    from tests.browser import CHROMIUM_ENV, DEFAULT_BINARY, Browser, chromium_binary

    if chromium_binary() is None:
        pytest.skip(f"no headless browser: install chromium ({DEFAULT_BINARY}, e.g. `apt-get install chromium`) "
                    f"or set ${CHROMIUM_ENV}")
    with Browser.start() as b:
        yield b


@pytest.fixture
def page(browser):
    """A fresh tab (1280 × 900) for one test, closed after it."""
    tab = browser.new_page()
    yield tab
    tab.close()
