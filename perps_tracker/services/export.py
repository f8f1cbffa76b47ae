"""`export`: a table's rows, or a per-instrument command's result for every stored hour, over a range."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from perps_tracker.errors import TrackerError
from perps_tracker.model import kinds, values
from perps_tracker.model.instruments import (
    DEFAULT_MIN_VOLUME,
    CoinVenue,
    SectorLine,
    by_coin,
    coin_view,
    funding_opportunities,
    sector_lines,
)
from perps_tracker.storage.export import EXPORTABLE, Export, exported

COMMANDS = ("funding", "sectors", "coin:COIN")
_FUNDING_LEG = (("exchange", "str"), ("symbol", "str"), ("funding_rate_8h", "float"),
                ("funding_interval_h", "float"), ("volume_24h_usd", "float"))
FUNDING_COLUMNS = [("timestamp", "int"), ("coin", "str"), *((f"short_{n}", k) for n, k in _FUNDING_LEG),
                   *((f"long_{n}", k) for n, k in _FUNDING_LEG), ("spread_8h", "float"), ("apr_pct", "float"),
                   ("intervals_differ", "bool")]


def targets() -> tuple[str, ...]:
    return (*EXPORTABLE, *COMMANDS)


@contextmanager
def export_target(rt, target: str, lo: int, hi: int) -> Iterator[Export]:
    """The rows of a table, or of `funding`, `sectors` or `coin:COIN` for every stored hour, in [lo, hi)."""
    if target in EXPORTABLE:
        with exported(rt.reader(), target, lo, hi) as export:
            yield export
        return
    name, _, arg = target.partition(":")
    if name not in ("funding", "sectors", "coin") or (name == "coin") != bool(arg):
        raise TrackerError(f"cannot export {target!r}: choose a table ({', '.join(EXPORTABLE)}) "
                           f"or a command ({', '.join(COMMANDS)})")
    coins = rt.coins()
    if name == "funding":
        columns = FUNDING_COLUMNS

        def rows(hour, hour_rows):
            return [(hour, o.coin, *values(o.short).values(), *values(o.long).values(), o.spread_8h, o.apr_pct,
                     o.intervals_differ) for o in funding_opportunities(hour_rows, DEFAULT_MIN_VOLUME)]
    elif name == "sectors":
        columns = [("timestamp", "int"), *kinds(SectorLine)]

        def rows(hour, hour_rows):
            return [(hour, *values(s).values()) for s in sector_lines(hour_rows, coins)]
    else:
        coin = arg.strip().upper()
        columns = [("timestamp", "int"), *kinds(CoinVenue)]

        def rows(hour, hour_rows):
            members = by_coin(hour_rows).get(coin, [])
            return [(hour, *values(v).values()) for v in coin_view(coin, "", hour, members).venues] if members else []

    only = [arg.strip().upper()] if name == "coin" else None
    yield Export([c for c, _ in columns], [k for _, k in columns], _per_hour(rt, lo, hi, only, rows))


def _per_hour(rt, lo: int, hi: int, coins, rows) -> Iterator[list[tuple]]:
    from perps_tracker.storage.instruments import read_hour, stored_hours

    for hour in stored_hours(rt.reader(), lo, hi):
        found = rows(hour, read_hour(rt.reader(), hour, coins)[1])
        if found:
            yield found
