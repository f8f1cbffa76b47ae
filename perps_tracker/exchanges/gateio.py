"""Gate.io v4 USDT futures — CEX. Contracts and tickers of the USDT-settled perpetuals.

Docs: https://www.gate.io/docs/developers/apiv4/en/#futures
`/futures/usdt/...` lists only USDT-settled linear perpetuals (dated futures live under
`/delivery/`). Sizes are in contracts: OI = `total_size` × `quanto_multiplier` × `mark_price`.
`funding_interval` is in seconds, `change_percentage` already in percent. The long share comes from
the BTC_USDT contract's `long_users` / `short_users`. Errors are HTTP errors with
`{"label", "message"}`, never inside a 200 body.
"""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import pairwise
from typing import Any

from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.parsing import Skips, funding_8h, integer, num
from perps_tracker.liquidation import LONG, SHORT, LiquidationEvent, make_event
from perps_tracker.market import Market, VenueSnapshot

BTC_CONTRACT = "BTC_USDT"


def _rows(payload: Any) -> list:
    if not isinstance(payload, list):
        raise ValueError(f"expected a list, got {type(payload).__name__}")
    return [row for row in payload if isinstance(row, dict)]


def _trading(contract: dict) -> bool:
    """Not delisting, `status` trading (when given) and linear (`type` direct, when given)."""
    if contract.get("in_delisting") is True:
        return False
    status, kind = contract.get("status"), contract.get("type")
    return status in (None, "", "trading") and kind in (None, "", "direct")


def parse_contracts(payload: Any) -> dict[str, dict]:
    """Trading contracts by name.

    Sample::

        [{"name": "BTC_USDT", "type": "direct", "quanto_multiplier": "0.0001", "funding_interval": 28800,
          "funding_rate": "0.0001", "mark_price": "84010", "index_price": "83990", "long_users": 6000,
          "short_users": 4000, "in_delisting": false, "status": "trading"}, ...]
    """
    return {row["name"]: row for row in _rows(payload) if row.get("name") and _trading(row)}


def parse_long_share(contract: dict | None) -> float | None:
    """long_users / (long_users + short_users) of one contract, None without users."""
    if contract is None:
        return None
    long, short = num(contract.get("long_users")), num(contract.get("short_users"))
    if long is None or short is None or long < 0 or short < 0 or long + short == 0:
        return None
    return long / (long + short)


def _either(primary: Any, fallback: Any) -> float | None:
    """The first of two raw numbers that is present."""
    value = num(primary)
    return value if value is not None else num(fallback)


def _market(name: str, row: dict, contract: dict, volume: float) -> Market:
    mark = _either(row.get("mark_price"), contract.get("mark_price"))
    size, multiplier = num(row.get("total_size")), num(contract.get("quanto_multiplier"))
    interval = num(contract.get("funding_interval"))  # seconds
    return Market(
        symbol=name, base=name.partition("_")[0].upper(), quote="USDT", volume_24h_usd=volume,
        open_interest_usd=size * multiplier * mark if None not in (size, multiplier, mark) else None,
        last_price=num(row.get("last")), mark_price=mark, index_price=num(row.get("index_price")),
        funding_rate_8h=funding_8h(_either(row.get("funding_rate"), contract.get("funding_rate")),
                                   interval / 3600.0 if interval is not None else None),
        price_change_24h_pct=num(row.get("change_percentage")),
    )


def parse_tickers(payload: Any, contracts: dict[str, dict], skipped: Skips) -> list[Market]:
    """Markets from the tickers of trading contracts.

    Sample::

        [{"contract": "BTC_USDT", "last": "84005.5", "change_percentage": "-1.5", "total_size": "120000000.5",
          "volume_24h_quote": "3000000000.25", "mark_price": "84010", "index_price": "83990",
          "funding_rate": "0.0001"}, ...]
    """
    markets = []
    for row in _rows(payload):
        name = str(row.get("contract"))
        contract = contracts.get(name)
        if contract is None:
            continue
        volume = num(row.get("volume_24h_quote"))
        if volume is None:
            skipped()
            continue
        markets.append(_market(name, row, contract, volume))
    return markets


def parse_liq_orders(payload: Any, contracts: dict[str, dict], skipped: Skips) -> list[LiquidationEvent]:
    """Events of one `liq_orders` page.

    `size` is in contracts (may be fractional): quantity = |size| × `quanto_multiplier`; `size > 0`
    liquidated a long (`order_size` has the opposite sign and is not used). Price is `fill_price`,
    else `order_price`; time is `time_ms`, else `time` (seconds). Rows of contracts that are not
    trading (`parse_contracts`) are ignored; malformed rows are skipped and counted.

    Sample::

        [{"time": 1548654951, "contract": "BTC_USDT", "size": 600, "order_price": "3405",
          "fill_price": "3424", "left": 0}]
    """
    events = []
    for row in _rows(payload):
        name = str(row.get("contract") or "")
        contract = contracts.get(name)
        if contract is None:
            continue
        size, multiplier = num(row.get("size")), num(contract.get("quanto_multiplier"))
        seconds = num(row.get("time"))
        time_ms = integer(row.get("time_ms")) or (int(seconds * 1000) if seconds is not None else None)
        try:
            if not size or not multiplier:
                raise ValueError("no size")
            events.append(make_event("gateio", name, LONG if size > 0 else SHORT,
                                     _either(row.get("fill_price"), row.get("order_price")),
                                     abs(size) * multiplier, time_ms, "rest"))
        except ValueError:
            skipped()
    return events


def liq_windows(start_s: int, end_s: int, width: int) -> list[tuple[int, int]]:
    """`(from, to)` windows of at most `width` seconds covering [start_s, end_s], each starting
    at the second the previous one ends (asked twice; its events are dropped as duplicates)."""
    if end_s < start_s:
        return []
    bounds = [*range(start_s, end_s, width), end_s]
    return list(pairwise(bounds)) or [(start_s, end_s)]


def time_span(payload: list) -> tuple[int | None, int | None]:
    """The oldest and newest `time` (seconds) of a `liq_orders` page.

    Sample::

        [{"time": 1548654951, "contract": "BTC_USDT", ...}, {"time": 1548654900, ...}]
    """
    times = [t for t in (integer(row.get("time")) for row in _rows(payload)) if t is not None]
    return (min(times), max(times)) if times else (None, None)


def _utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class Gateio(Exchange):
    id = "gateio"
    kind = "CEX"
    name = "Gate.io v4 USDT futures"
    base_url = "https://api.gateio.ws"
    liquidation_sources = ("rest",)
    liq_window = 3600  # seconds per liq_orders request; Gate refuses longer windows
    liq_page = 1000  # rows per liq_orders page, Gate's maximum
    liq_pages = 20  # pages per window: a guard against paging without end

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        got = self.parallel({
            "contracts": lambda: self.get("/api/v4/futures/usdt/contracts"),
            "tickers": lambda: self.get("/api/v4/futures/usdt/tickers"),
        })
        contracts = self.parse("contracts", parse_contracts, got["contracts"])
        markets = self.parse("tickers", parse_tickers, got["tickers"], contracts, skipped)
        return self.summarize(markets, long_share=parse_long_share(contracts.get(BTC_CONTRACT)),
                              records_skipped=skipped.count)

    def poll_liquidations(self, start_ms: int, end_ms: int, symbols: int) -> list[LiquidationEvent]:
        """Liquidations with event time in [start_ms, end_ms] from `liq_orders`, one window of at
        most an hour after another. One request covers every contract: `symbols` is not needed."""
        contracts = self.parse("contracts", parse_contracts, self.get("/api/v4/futures/usdt/contracts"))
        skipped = Skips()
        events: dict[tuple, LiquidationEvent] = {}
        for start_s, end_s in liq_windows(start_ms // 1000, end_ms // 1000, self.liq_window):
            for event in self._window_liquidations(start_s, end_s, contracts, skipped):
                if start_ms <= event.event_time_ms <= end_ms:
                    events.setdefault(event.key(), event)
        if skipped.count:
            self.notes.append(f"{skipped.count} malformed liquidation record{'s' if skipped.count != 1 else ''} skipped")
        return sorted(events.values(), key=lambda e: e.event_time_ms)

    def _window_liquidations(self, start_s: int, end_s: int, contracts: dict[str, dict],
                             skipped: Skips) -> list[LiquidationEvent]:
        """The events of one window (`from`, `to` inclusive), newest first. A full page is followed
        by one ending at its oldest second, so that second comes twice: the caller drops duplicates."""
        events, to = [], end_s
        for _ in range(self.liq_pages):
            page = self.get("/api/v4/futures/usdt/liq_orders", {"from": start_s, "to": to, "limit": self.liq_page})
            events += self.parse("liq_orders", parse_liq_orders, page, contracts, skipped)
            if len(page) < self.liq_page:
                return events
            oldest, newest = time_span(page)
            if oldest is None or oldest == newest:
                self.notes.append(f"at least {self.liq_page} liquidations at {_utc(newest or to)}: some may be missing")
                return events
            to = oldest
        self.notes.append(f"liquidations from {_utc(start_s)} to {_utc(to)} not read: over {self.liq_pages} pages")
        return events
