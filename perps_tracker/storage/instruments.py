"""The per-instrument layer's rows: written with a snapshot (or by `backfill --coins`), read by
`coin`, `funding`, `sectors` and `snapshot`'s watchlist.

Writes go through SQLAlchemy Core on the snapshot's connection (one transaction); reads are plain
SQL through `Database.reading()` (sqlite3 on a SQLite file opened read-only: no SQLAlchemy import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from perps_tracker.model import values
from perps_tracker.model.instruments import TOTALS_FIELDS, InstrumentRow
from perps_tracker.model.times import HOUR
from perps_tracker.storage.db import Database, Reader, guard

if TYPE_CHECKING:  # the writes import SQLAlchemy when they run: the read commands never do on SQLite
    from sqlalchemy import Connection

# The fact columns that come from an InstrumentRow as they are, and those stored in whole dollars.
_FACTS = ("price", "mark_price", "index_price", "funding_rate", "funding_interval_h", "funding_rate_8h",
          "next_funding_time", "price_change_24h_pct")
_DOLLARS = ("volume_24h_usd", "open_interest_usd")
_DIMENSION = ("coin", "multiplier", "quote")

# The view's columns, in InstrumentRow's order (the layer's public column names).
COLUMNS = tuple(values(InstrumentRow(0, "", "", "", 1.0, "", *([None] * 10))).keys())
_FROM = "FROM instrument_rows r JOIN instruments i ON i.id = r.instrument_id"
_SOURCE = "CASE WHEN r.backfill = 1 THEN 'backfill' ELSE 'live' END"


def _select() -> str:
    names = []
    for c in COLUMNS:
        if c in ("exchange", "symbol", "coin", "multiplier", "quote"):
            names.append(f"i.{c}")
        elif c == "source":
            names.append(f"{_SOURCE} AS source")
        else:
            names.append(f"r.{c}")
    return "SELECT " + ", ".join(names)


_SELECT = _select()


def row_of(values_: Sequence) -> InstrumentRow:
    return InstrumentRow(*values_)

HOUR_ROWS_SQL = f"{_SELECT} {_FROM} WHERE r.timestamp = :t ORDER BY i.exchange, i.symbol"


def instrument_ids(conn: "Connection", rows: Iterable[InstrumentRow]) -> dict[tuple[str, str], int]:
    """(exchange, symbol) → instruments.id for `rows`, inserting the new ones and updating a symbol whose
    coin, multiplier or quote changed (an alias added to the config, a relisting)."""
    from sqlalchemy import bindparam, select, update

    from perps_tracker.storage.tables import instruments
    rows = list(rows)
    exchanges = sorted({r.exchange for r in rows})
    known = {}
    if exchanges:
        query = (select(instruments.c.id, instruments.c.exchange, instruments.c.symbol, instruments.c.coin,
                        instruments.c.multiplier, instruments.c.quote)
                 .where(instruments.c.exchange.in_(bindparam("exchanges", expanding=True))))
        known = {(e, s): (i, (c, m, q)) for i, e, s, c, m, q in conn.execute(query, {"exchanges": exchanges})}
    new, changed = [], []
    for r in rows:
        key, dim = (r.exchange, r.symbol), (r.coin, r.multiplier, r.quote)
        if key not in known:
            new.append(dict(exchange=r.exchange, symbol=r.symbol, coin=r.coin, multiplier=r.multiplier, quote=r.quote))
            known[key] = (None, dim)
        elif known[key][1] != dim and known[key][0] is not None:
            changed.append(dict(b_id=known[key][0], coin=r.coin, multiplier=r.multiplier, quote=r.quote))
    if new:
        conn.execute(instruments.insert(), new)
        query = select(instruments.c.id, instruments.c.exchange, instruments.c.symbol).where(
            instruments.c.exchange.in_(bindparam("exchanges", expanding=True)))
        known.update({(e, s): (i, None) for i, e, s in conn.execute(query, {"exchanges": exchanges})})
    if changed:
        conn.execute(update(instruments).where(instruments.c.id == bindparam("b_id"))
                     .values(coin=bindparam("coin"), multiplier=bindparam("multiplier"), quote=bindparam("quote")),
                     changed)
    return {key: ident for key, (ident, _) in known.items()}


def _fact(r: InstrumentRow, ident: int, backfill: bool) -> dict:
    fact = {name: getattr(r, name) for name in _FACTS}
    fact.update({name: None if getattr(r, name) is None else float(round(getattr(r, name))) for name in _DOLLARS})
    return dict(timestamp=r.timestamp, instrument_id=ident, backfill=1 if backfill else 0, **fact)


def replace_venue_rows(conn: "Connection", timestamp: int, by_exchange: Mapping[str, Sequence[InstrumentRow]]
                       ) -> int:
    """A snapshot's rows: each venue in `by_exchange` (it answered in this run) replaces its rows of the
    hour, backfilled or live; the other venues' rows stay. Returns the rows written."""
    from sqlalchemy import text

    from perps_tracker.storage.tables import instrument_rows
    rows = [r for venue_rows in by_exchange.values() for r in venue_rows]
    ids = instrument_ids(conn, rows)
    for exchange in by_exchange:
        conn.execute(text("DELETE FROM instrument_rows WHERE timestamp = :t AND instrument_id IN "
                          "(SELECT id FROM instruments WHERE exchange = :e)"), {"t": timestamp, "e": exchange})
    if rows:
        conn.execute(instrument_rows.insert(), [_fact(r, ids[(r.exchange, r.symbol)], False) for r in rows])
    return len(rows)


def add_backfilled(conn: "Connection", rows: Sequence[InstrumentRow]) -> int:
    """`backfill --coins` rows: an (hour, market) already stored (live or an earlier backfill) is kept.
    Returns the rows added."""
    from sqlalchemy import bindparam, select

    from perps_tracker.storage.tables import instrument_rows
    if not rows:
        return 0
    ids = instrument_ids(conn, rows)
    by_hour: dict[int, set[int]] = {}
    for r in rows:
        by_hour.setdefault(r.timestamp, set()).add(ids[(r.exchange, r.symbol)])
    lo, hi = min(by_hour), max(by_hour)
    wanted = {ident for idents in by_hour.values() for ident in idents}
    query = (select(instrument_rows.c.timestamp, instrument_rows.c.instrument_id)
             .where(instrument_rows.c.timestamp.between(lo, hi),
                    instrument_rows.c.instrument_id.in_(bindparam("ids", expanding=True))))
    stored = set(conn.execute(query, {"ids": sorted(wanted)}).all())
    facts = [_fact(r, ident, True) for r in rows
             if (r.timestamp, ident := ids[(r.exchange, r.symbol)]) not in stored]
    if facts:
        conn.execute(instrument_rows.insert(), facts)
    return len(facts)


def store_backfilled(db: Database, rows: Sequence[InstrumentRow]) -> int:
    """`add_backfilled` in one transaction of its own; returns the rows added."""
    from perps_tracker.storage.db import write_lock

    with guard("storing backfilled instrument rows"), write_lock(db.engine) as conn:
        return add_backfilled(conn, rows)


# -- reads ------------------------------------------------------------------------------------------


def newest_hour(read: Reader) -> int | None:
    """The newest hour with instrument rows (None: none stored)."""
    return read.scalar("SELECT MAX(timestamp) FROM instrument_rows")


def hour_rows(read: Reader, timestamp: int, coins: Sequence[str] | None = None) -> list[InstrumentRow]:
    """The rows of one hour (of `coins` only, when given), by exchange and symbol."""
    if coins is None:
        return [row_of(r) for r in read.rows(HOUR_ROWS_SQL, {"t": timestamp})]
    rows = []
    for coin in coins:  # one seek per market of the coin: (hour, instrument) is the key
        sql = f"{_SELECT} {_FROM} WHERE r.timestamp = :t AND i.coin = :c ORDER BY i.exchange, i.symbol"
        rows += [row_of(r) for r in read.rows(sql, {"t": timestamp, "c": coin})]
    return rows


_FACT_COLUMNS = ", ".join(f"r.{c}" for c in COLUMNS if c not in ("timestamp", "exchange", "symbol", "coin",
                                                                       "multiplier", "quote", "source"))


def _seek(read: Reader, columns: str, ids, since: int, until: int):
    """(timestamp, instrument_id[, `columns`...]) of the rows of instruments `ids` in the hours of
    [since, until]: one key seek per (hour, instrument), 200 hours a statement."""
    if not ids:
        return
    listed = ", ".join(str(int(i)) for i in ids)  # integers from the database itself
    hours = list(range(-(-since // HOUR) * HOUR, until + 1, HOUR))
    extra = f", {columns}" if columns else ""
    for chunk in range(0, len(hours), 200):
        part = hours[chunk:chunk + 200]
        sql = (f"SELECT r.timestamp, r.instrument_id{extra} FROM instrument_rows r WHERE r.timestamp IN "
               f"({', '.join(f':h{n}' for n in range(len(part)))}) AND r.instrument_id IN ({listed})")
        yield from read.rows(sql, {f"h{n}": h for n, h in enumerate(part)})


def coin_points(read: Reader, coin: str, since: int, until: int) -> dict[int, list[tuple]]:
    """hour → the coin's markets in that hour as tuples of `TOTALS_FIELDS`, for the hours in
    [since, until]: one key seek per (hour, market) reading only those columns."""
    ids = [i for i, in read.rows("SELECT id FROM instruments WHERE coin = :c", {"c": coin})]
    hours: dict[int, list[tuple]] = {}
    for t, _, *point in _seek(read, ", ".join(f"r.{c}" for c in TOTALS_FIELDS), ids, since, until):
        hours.setdefault(int(t), []).append(point)
    return hours


def market_hours(db: Database, exchange: str, symbols: Sequence[str], first: int, last: int) -> dict[str, set[int]]:
    """symbol → the hours in [first, last] it has a row for (live or backfilled), for `exchange`'s `symbols`:
    one key seek per (hour, market)."""
    with guard("reading instrument rows"), db.reading() as read:
        wanted = set(symbols)
        ids = {i: s for i, s in read.rows("SELECT id, symbol FROM instruments WHERE exchange = :e", {"e": exchange})
               if s in wanted}
        got: dict[str, set[int]] = {}
        for t, ident in _seek(read, "", ids, first, last):
            got.setdefault(ids[ident], set()).add(int(t))
        return got


def read_hour(db: Database, timestamp: int | None = None, coins: Sequence[str] | None = None
              ) -> tuple[int | None, list[InstrumentRow]]:
    """(hour, rows) of `timestamp`, or of the newest hour stored when None."""
    with guard("reading instrument rows"), db.reading() as read:
        hour = newest_hour(read) if timestamp is None else timestamp
        return hour, ([] if hour is None else hour_rows(read, hour, coins))


def read_coin_points(db: Database, coin: str, since: int, until: int) -> dict[int, list[tuple]]:
    with guard("reading instrument rows"), db.reading() as read:
        return coin_points(read, coin, since, until)


def stored_hours(db: Database, lo: int, hi: int) -> list[int]:
    """The hours in [lo, hi) with instrument rows, oldest first (one step of the key per hour)."""
    hours = []
    with guard("reading instrument rows"), db.reading() as read:
        t = read.scalar("SELECT MIN(timestamp) FROM instrument_rows WHERE timestamp >= :lo AND timestamp < :hi",
                        {"lo": lo, "hi": hi})
        while t is not None:
            hours.append(int(t))
            t = read.scalar("SELECT MIN(timestamp) FROM instrument_rows WHERE timestamp > :t AND timestamp < :hi",
                            {"t": t, "hi": hi})
    return hours
