"""Gate.io v4 USDT futures — CEX. Contracts and tickers of the USDT-settled perpetuals.

Docs: https://www.gate.io/docs/developers/apiv4/en/#futures
`/futures/usdt/...` lists only USDT-settled linear perpetuals (dated futures live under
`/delivery/`). Sizes are in contracts: OI = `total_size` × `quanto_multiplier` × `mark_price`.
`funding_interval` is in seconds, `change_percentage` already in percent. The long share comes from
the BTC_USDT contract's `long_users` / `short_users`. Errors are HTTP errors with
`{"label", "message"}`, never inside a 200 body.

History (`backfill`): per contract, one-hour `candlesticks` (`sum` is the quote volume in USDT)
and hourly `contract_stats` (`open_interest_usd`, and for BTC_USDT `lsr_account`, the long/short
account ratio); for BTC_USDT also `mark_`/`index_` candlesticks and `funding_rate`. Requests are
paced under Gate's 200 per 10 s per endpoint.
"""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import pairwise
from typing import Any, NamedTuple

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.base import Exchange, Polled
from perps_tracker.exchanges.history import pick_btc_symbol, skipped_note, time_windows
from perps_tracker.exchanges.pacing import Pacer, Tally
from perps_tracker.exchanges.parsing import (
    Skips,
    funding_8h,
    funding_series,
    integer,
    join_markets,
    num,
    required,
)
from perps_tracker.model.history import (
    HOUR,
    MARKET_LIST_NOTE,
    HistoryBuilder,
    Progress,
    VenueHistory,
)
from perps_tracker.model.liquidation import LONG, SHORT, LiquidationEvent, make_event
from perps_tracker.model.market import Market, VenueSnapshot

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


def _market(name: str, row: dict, contract: dict, skipped: Skips) -> Market:
    mark = _either(row.get("mark_price"), contract.get("mark_price"))
    size, multiplier = num(row.get("total_size")), num(contract.get("quanto_multiplier"))
    interval = num(contract.get("funding_interval"))  # seconds
    return Market(
        symbol=name, base=name.partition("_")[0].upper(), quote="USDT",
        volume_24h_usd=required(row.get("volume_24h_quote"), skipped),
        open_interest_usd=size * multiplier * mark if None not in (size, multiplier, mark) else None,
        last_price=required(row.get("last"), skipped), mark_price=mark, index_price=num(row.get("index_price")),
        funding_rate_8h=funding_8h(_either(row.get("funding_rate"), contract.get("funding_rate")),
                                   interval / 3600.0 if interval is not None else None),
        price_change_24h_pct=num(row.get("change_percentage")),
    )


def parse_tickers(payload: Any, contracts: dict[str, dict], skipped: Skips) -> list[Market]:
    """Markets of the trading contracts from their tickers; tickers of other contracts are ignored.

    A contract without a ticker is skipped and counted; a missing `volume_24h_quote` or `last` is
    None and counted, the market kept.

    Sample::

        [{"contract": "BTC_USDT", "last": "84005.5", "change_percentage": "-1.5", "total_size": "120000000.5",
          "volume_24h_quote": "3000000000.25", "mark_price": "84010", "index_price": "83990",
          "funding_rate": "0.0001"}, ...]
    """
    tickers = {}
    for row in _rows(payload):
        if row.get("contract"):
            tickers.setdefault(str(row["contract"]), row)
    return join_markets(tickers, contracts,
                        lambda row, contract: _market(contract["name"], row, contract, skipped), skipped)


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



# -- history (`backfill`) -----------------------------------------------------------------------
#
# Docs (gateapi FuturesApi): candlesticks — `from`/`to` in seconds, at most 2000 points per query,
# `limit` may not be combined with them; contract_stats — `contract`, `from`, `interval`, `limit`
# (default 30, maximum undocumented); funding_rate — `contract`, `from`/`to` in seconds, `limit`
# (default 100). 200 requests per 10 s per endpoint.

CANDLE_POINTS = 2000  # points per candlesticks query, the documented maximum
STATS_LIMIT = 100  # rows per contract_stats query: the maximum is undocumented, so a cautious page
FUNDING_LIMIT = 100  # rows per funding_rate query (the documented default)
HISTORY_RATE = 15.0  # requests per second and endpoint, 1/15 s apart (burst 1): three quarters of Gate's 200 per 10 s
CANDLES = "/api/v4/futures/usdt/candlesticks"
STATS = "/api/v4/futures/usdt/contract_stats"
FUNDING = "/api/v4/futures/usdt/funding_rate"


class Candle(NamedTuple):
    t: int  # open time, Unix seconds
    open: float
    close: float
    quote_volume: float | None  # USDT (`sum`); None for mark_/index_ candles


class Stat(NamedTuple):
    t: int  # Unix seconds
    oi_usd: float | None
    oi_contracts: float | None
    long_short: float | None  # lsr_account: long / short accounts


def parse_candlesticks(payload: Any, skipped: Skips, volume: bool = True) -> list[Candle]:
    """One-hour candles: `t` (open time, s), `o`, `c` and, with `volume`, `sum` (quote volume, USDT;
    `v` is in contracts); a row missing one of them is skipped.

    Sample::

        [{"t": 1795384800, "v": 15202500, "c": "84050.2", "h": "84100", "l": "83900.1", "o": "84010.5",
          "sum": "127781250.5"}]
    """
    candles = []
    for row in _rows(payload):
        t, o, c = integer(row.get("t")), num(row.get("o")), num(row.get("c"))
        quote = num(row.get("sum")) if volume else None
        if t is None or o is None or c is None or (volume and quote is None):
            skipped()
            continue
        candles.append(Candle(t, o, c, quote))
    return candles


def parse_contract_stats(payload: Any, skipped: Skips) -> list[Stat]:
    """Points of `contract_stats` (JSON numbers): `time` (s), `open_interest_usd`, `open_interest`
    (contracts) and `lsr_account`; a row without time or any open interest is skipped.

    Sample::

        [{"time": 1795384800, "lsr_taker": 1.02, "lsr_account": 1.5, "long_liq_size": 0, "short_liq_size": 0,
          "open_interest": 125000000, "open_interest_usd": 1050000000.5, "top_lsr_account": 1.1,
          "top_lsr_size": 0.95}]
    """
    stats = []
    for row in _rows(payload):
        t = integer(row.get("time"))
        usd, size = num(row.get("open_interest_usd")), num(row.get("open_interest"))
        if t is None or (usd is None and size is None):
            skipped()
            continue
        stats.append(Stat(t, usd, size, num(row.get("lsr_account"))))
    return stats


def parse_funding_history(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(settlement time s, settled rate) from `funding_rate`, newest first.

    Sample::

        [{"t": 1795363200, "r": "0.0001"}]
    """
    rows = []
    for row in _rows(payload):
        t, rate = integer(row.get("t")), num(row.get("r"))
        if t is None or rate is None:
            skipped()
            continue
        rows.append((t, rate))
    return rows


def open_interest_points(stats: list[Stat], multiplier: float | None, closes: dict[int, float],
                         start: int, end: int) -> list[tuple[int, float]]:
    """(time, USD) in [start, end): `open_interest_usd`, else contracts × multiplier × the price at that
    time (the close of the candle ending then)."""
    points = []
    for s in stats:
        if not start <= s.t < end:
            continue
        usd = s.oi_usd
        if usd is None and s.oi_contracts is not None and multiplier:
            close = closes.get(s.t - HOUR)
            usd = s.oi_contracts * multiplier * close if close is not None else None
        if usd is not None:
            points.append((s.t, usd))
    return points


def long_shares(stats: list[Stat], start: int, end: int) -> dict[int, float]:
    """{time: long share} from `lsr_account` R: R / (1 + R), in [start, end)."""
    return {s.t: s.long_short / (1 + s.long_short) for s in stats
            if start <= s.t < end and s.long_short is not None and s.long_short >= 0}


class MarketHistory(NamedTuple):
    candles: dict[int, Candle]
    stats: list[Stat] | ExchangeError  # an error only for a BTC contract (optional there)
    skipped: int


class Gateio(Exchange):
    id = "gateio"
    kind = "CEX"
    name = "Gate.io v4 USDT futures"
    base_url = "https://api.gateio.ws"
    liquidation_sources = ("rest",)
    liq_window = 3600  # seconds per liq_orders request; Gate refuses longer windows
    liq_page = 1000  # rows per liq_orders page, Gate's maximum
    liq_pages = 20  # pages per window: a guard against paging without end
    history_rate: float | None = HISTORY_RATE  # requests per second and endpoint in `history` (None: unpaced)
    history_workers = 8  # contracts read at once in `history`

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

    def poll_liquidations(self, start_ms: int, end_ms: int, symbols: int) -> Polled:
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
        return Polled(sorted(events.values(), key=lambda e: e.event_time_ms), notes=tuple(self.notes))

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

    # -- history --------------------------------------------------------------------------------

    def _call(self, path: str, params: dict) -> Any:
        self._pacers[path].take()
        try:
            return self.get(path, params)
        finally:
            self._tally.finished()

    def _candles(self, contract: str, windows: list[tuple[int, int]], skipped: Skips,
                 volume: bool = True) -> dict[int, Candle]:
        out: dict[int, Candle] = {}
        for lo, hi in windows:
            payload = self._call(CANDLES, {"contract": contract, "interval": "1h", "from": lo, "to": hi})
            for c in self.parse("candlesticks", parse_candlesticks, payload, skipped, volume):
                if lo <= c.t < hi:
                    out[c.t] = c
        return out

    def _stats(self, contract: str, windows: list[tuple[int, int]], skipped: Skips) -> list[Stat]:
        """Hourly stats, one window of at most `STATS_LIMIT` points per request. `to` is not in Gate's
        docs: sent so that a venue cutting full pages from either end still gives every point."""
        out: dict[int, Stat] = {}
        for lo, hi in windows:
            payload = self._call(STATS, {"contract": contract, "interval": "1h", "from": lo, "to": hi,
                                         "limit": STATS_LIMIT})
            for s in self.parse("contract_stats", parse_contract_stats, payload, skipped):
                if lo <= s.t < hi:
                    out[s.t] = s
        return [out[t] for t in sorted(out)]

    def _market_history(self, name: str, windows: list[tuple[int, int]],
                        stat_windows: list[tuple[int, int]]) -> MarketHistory:
        skipped = Skips()
        candles = self._candles(name, windows, skipped)
        try:
            stats: list[Stat] | ExchangeError = self._stats(name, stat_windows, skipped)
        except ExchangeError as e:
            if not name.upper().startswith("BTC_"):
                raise
            stats = e
        return MarketHistory(candles, stats, skipped.count)

    def _funding(self, contract: str, lo: int, hi: int, skipped: Skips) -> list[tuple[int, float]]:
        """Settlements with `lo` ≤ t ≤ `hi`; a full page is split in two halves (whichever end the
        venue cut it from, the halves hold the rest)."""
        payload = self._call(FUNDING, {"contract": contract, "from": lo, "to": hi, "limit": FUNDING_LIMIT})
        rows = self.parse("funding_rate", parse_funding_history, payload, skipped)
        if len(payload) < FUNDING_LIMIT or hi - lo < 2 * HOUR:
            return rows
        mid = (lo + hi) // 2
        self._tally.plan(2)
        return self._funding(contract, lo, mid, skipped) + self._funding(contract, mid + 1, hi, skipped)

    def history(self, start: int, end: int, progress: Progress | None = None) -> VenueHistory:
        self._tally = Tally(progress)
        self._pacers = {path: Pacer(self.history_rate, burst=1)
                        for path in ("/api/v4/futures/usdt/contracts", CANDLES, STATS, FUNDING)}
        self._tally.plan(1)
        contracts = self.parse("contracts", parse_contracts, self._call("/api/v4/futures/usdt/contracts", {}))
        if not contracts:
            raise self.error("no included markets in the response")
        windows = time_windows(start, end, CANDLE_POINTS)
        stat_windows = time_windows(start, end, STATS_LIMIT)
        names = sorted(contracts)
        self._tally.plan(len(names) * (len(windows) + len(stat_windows)) + 2 * len(windows) + 1)
        results = self.fan_out(lambda n: self._market_history(n, windows, stat_windows), names,
                               self.history_workers)

        failures: dict[str, ExchangeError] = {}
        done: dict[str, MarketHistory] = {}
        for name, result in zip(names, results):
            if isinstance(result, ExchangeError):
                failures[name] = result
            else:
                done[name] = result
        volumes = {n: sum(c.quote_volume or 0.0 for c in r.candles.values()) for n, r in done.items()}
        btc = pick_btc_symbol({n: (n.partition("_")[0].upper(), "USDT") for n in names}, volumes, failures)
        for name, result in list(done.items()):  # another BTC contract without stats is a failed market
            if name != btc and isinstance(result.stats, ExchangeError):
                failures[name] = result.stats
                del done[name]

        builder, skipped = HistoryBuilder(), Skips()
        skipped(sum(r.skipped for r in done.values()))
        oi_ok = True
        for name, result in done.items():
            builder.add_candles((t, c.quote_volume, None) for t, c in result.candles.items())
            if isinstance(result.stats, ExchangeError):
                oi_ok = False
                self.notes.append(f"open interest and long/short history unavailable: {result.stats.reason}")
                continue
            closes = {t: c.close for t, c in result.candles.items()}
            builder.add_open_interest(open_interest_points(
                result.stats, num(contracts[name].get("quanto_multiplier")), closes, start, end))
        notes = [MARKET_LIST_NOTE, "open interest is contract_stats' open_interest_usd (Gate's own USD value)"]
        mark = index = funding = shares = None
        if btc is None:
            notes.append("no BTC perpetual")
            self._tally.plan(-(2 * len(windows) + 1))
        else:
            if not isinstance(done[btc].stats, ExchangeError):
                shares = long_shares(done[btc].stats, start, end) or None
                notes.append("long share from contract_stats lsr_account (long/short account ratio), "
                             "taken to be live's long_users / short_users")
            mark = self.optional("BTC mark price history", lambda: {
                t: c.close for t, c in self._candles("mark_" + btc, windows, skipped, volume=False).items()})
            index = self.optional("BTC index price history", lambda: {
                t: c.close for t, c in self._candles("index_" + btc, windows, skipped, volume=False).items()})
            settled = self.optional("BTC funding history",
                                    lambda: self._funding(btc, start - 8 * HOUR, end - 1, skipped))
            interval = num(contracts[btc].get("funding_interval"))  # seconds
            funding = None if settled is None else funding_series(
                settled, interval / 3600.0 if interval else None, start, end,
                whole_hours=True, next_spacing=False)
        btc_candles = done[btc].candles if btc else {}
        return VenueHistory(
            exchange=self.id, kind=self.kind, start=start, end=end,
            volume_usd=builder.volume, markets=builder.markets, trades=None,
            open_interest_usd=builder.oi if oi_ok else None,
            btc_symbol=btc,
            btc_open={t: c.open for t, c in btc_candles.items()},
            btc_close={t: c.close for t, c in btc_candles.items()},
            btc_mark=mark, btc_index=index, btc_funding=funding, long_share=shares,
            symbols=len(names), symbols_failed=len(failures),
            notes=tuple(notes + self.notes + skipped_note(skipped.count)),
        )
