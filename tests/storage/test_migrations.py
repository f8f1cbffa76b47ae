"""Schema migrations: upgrades keep rows, models match migrations, unknown schemas are refused untouched."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from perps_tracker.errors import DatabaseError
from perps_tracker.storage.db import (
    MIGRATIONS_DIR,
    REVISIONS,
    SCHEMA_HEAD,
    _script,
    head_revision,
    open_database,
)
from perps_tracker.storage.models import TABLES, Base


def upgrade_to(url: str, revision: str, *, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
    engine.dispose()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def revisions() -> list[str]:
    return [r.revision for r in reversed(list(_script().walk_revisions()))]


def test_revision_chain_is_linear():
    revs = revisions()
    assert revs[0] == "0001" and revs[-1] == head_revision()
    assert len(set(revs)) == len(revs)


def test_known_revisions_match_the_migration_scripts():
    # The schema revision is checked without Alembic; its list must be the scripts' chain.
    assert list(REVISIONS) == revisions() and SCHEMA_HEAD == _script().get_current_head()


def test_fresh_database_is_created_at_head(db_path):
    db = open_database(str(db_path))
    assert (db.action, db.previous_revision, db.revision) == ("created", None, head_revision())
    assert set(TABLES) <= set(inspect(db.engine).get_table_names())
    db.dispose()
    again = open_database(str(db_path))
    assert again.action == "current"
    again.dispose()


@pytest.mark.parametrize("previous", revisions()[:-1])
def test_upgrade_from_previous_revision_keeps_rows(db_path, previous):
    url = f"sqlite:///{db_path}"
    upgrade_to(url, previous)
    con = sqlite3.connect(db_path)
    con.execute(
        "INSERT INTO market_snapshots (id, timestamp, taken_at, source, exchanges_ok, exchanges_failed,"
        " composite_score, sentiment) VALUES (1, 1763805600, 1763805642, 'live', 8, 0, 0.42, 'BULLISH')"
    )
    con.execute(
        "INSERT INTO exchange_snapshots (snapshot_id, exchange, kind, status, volume_24h_usd, records_skipped)"
        " VALUES (1, 'binance', 'CEX', 'ok', 1.5e10, 0)"
    )
    con.execute("INSERT INTO sentiment_factors (snapshot_id, funding, missing) VALUES (1, 0.5, '')")
    con.commit()
    con.close()

    db = open_database(str(db_path))
    assert (db.action, db.previous_revision, db.revision) == ("upgraded", previous, head_revision())
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT composite_score, sentiment FROM market_snapshots")).all() == [(0.42, "BULLISH")]
        assert conn.execute(text("SELECT exchange, volume_24h_usd FROM exchange_snapshots")).all() == [("binance", 1.5e10)]
        assert conn.execute(text("SELECT funding FROM sentiment_factors")).scalar_one() == 0.5
    assert set(TABLES) <= set(inspect(db.engine).get_table_names())
    db.dispose()


def test_models_match_migrations(database):
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_newer_schema_is_refused_and_left_untouched(db_path):
    db = open_database(str(db_path))
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    db.dispose()
    before = digest(db_path)
    with pytest.raises(DatabaseError) as err:
        open_database(str(db_path))
    assert str(err.value) == (
        f"{db_path} has schema revision 9999_from_the_future, newer than this perps-tracker knows "
        f"(latest {head_revision()}); upgrade perps-tracker, the database was not changed"
    )
    assert digest(db_path) == before


def test_foreign_database_is_refused_and_left_untouched(db_path):
    con = sqlite3.connect(db_path)
    con.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO recipes VALUES (1, 'soup')")
    con.commit()
    con.close()
    before = digest(db_path)
    with pytest.raises(DatabaseError, match="holds tables but no perps-tracker schema; refusing to change it"):
        open_database(str(db_path))
    assert digest(db_path) == before
    assert not db_path.with_name(db_path.name + "-wal").exists()


def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(database, sqlite_only):
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 5000


def test_index_revision_downgrades_and_upgrades_again_keeping_events(db_path):
    # 0007 only drops and reorders indexes; its downgrade puts 0006's back, events kept both ways.
    url = f"sqlite:///{db_path}"
    upgrade_to(url, "0007")
    con = sqlite3.connect(db_path)
    con.execute("INSERT INTO liquidations (exchange, symbol, side, price, quantity, value_usd, event_time_ms, source)"
                " VALUES ('okx', 'BTC-USDT-SWAP', 'long', 90000.0, 0.5, 45000.0, 1763805600123, 'ws')")
    con.commit()
    con.close()

    def state():
        engine = create_engine(url)
        found = inspect(engine)
        present = set(found.get_table_names())
        indexes = {t: sorted(i["name"] for i in found.get_indexes(t)) for t in TABLES if t in present}
        key = [u["column_names"] for u in found.get_unique_constraints("liquidations")]
        with engine.connect() as conn:
            events = conn.execute(text("SELECT exchange, value_usd FROM liquidations")).all()
        engine.dispose()
        return indexes, key, events

    at_head = state()
    upgrade_to(url, "0006", down=True)
    indexes, key, events = state()
    assert "ix_liquidations_exchange_time" in indexes["liquidations"]
    assert "ix_exchange_snapshots_snapshot_id" in indexes["exchange_snapshots"]
    assert key == [["exchange", "symbol", "event_time_ms", "side", "price", "quantity"]]
    assert events == [("okx", 45000.0)]
    upgrade_to(url, "0007")
    assert state() == at_head


def test_instrument_revision_creates_the_view_and_a_compact_fact_table(db_path):
    # 0008: instruments, instrument_rows (WITHOUT ROWID on SQLite) and the instrument_snapshots view;
    # its downgrade drops all three and the upgrade makes them again.
    url = f"sqlite:///{db_path}"
    upgrade_to(url, "head")
    con = sqlite3.connect(db_path)
    sql = con.execute("SELECT sql FROM sqlite_master WHERE name = 'instrument_rows'").fetchone()[0]
    assert sql.rstrip().upper().endswith("WITHOUT ROWID")
    con.execute("INSERT INTO instruments (exchange, symbol, coin, multiplier, quote) "
                "VALUES ('binance', '1000PEPEUSDT', 'PEPE', 1000.0, 'USDT')")
    con.execute("INSERT INTO instrument_rows (timestamp, instrument_id, price, funding_rate, funding_interval_h, "
                "funding_rate_8h, backfill) VALUES (1764075600, 1, 0.0000111, 0.00005, 4.0, 0.0001, 0)")
    con.commit()
    assert con.execute("SELECT timestamp, exchange, symbol, coin, multiplier, price, funding_rate_8h, source "
                       "FROM instrument_snapshots").fetchall() == [
        (1764075600, "binance", "1000PEPEUSDT", "PEPE", 1000.0, 0.0000111, 0.0001, "live")]
    con.close()
    upgrade_to(url, "0007", down=True)
    con = sqlite3.connect(db_path)
    names = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    con.close()
    assert not names & {"instruments", "instrument_rows", "instrument_snapshots"}
    upgrade_to(url, "head")
