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

from functools import partial
from itertools import pairwise
from typing import Any, NamedTuple

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.base import Exchange, Polled
from perps_tracker.exchanges.history import (
    Download,
    MarketHistory,
    Windows,
    collect_markets,
    failed_note,
    pick_btc_symbol,
    time_windows,
)
from perps_tracker.exchanges.pacing import Pacer
from perps_tracker.exchanges.parsing import (
    Skips,
    funding,
    funding_series,
    integer,
    join_markets,
    listed,
    num,
    required,
)
from perps_tracker.exchanges.polling import skipped_note
from perps_tracker.model.history import HOUR, Progress, VenueHistory
from perps_tracker.model.liquidation import LONG, SHORT, LiquidationEvent, make_event
from perps_tracker.model.market import Market, VenueSnapshot
from perps_tracker.model.times import utc_second

BTC_CONTRACT = "BTC_USDT"


def _rows(payload: Any) -> list:
    return [row for row in listed(payload) if isinstance(row, dict)]


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
    """One market; funding: the ticker's `funding_rate` (else the contract's) every `funding_interval`
    seconds, next at `funding_next_apply` (Unix seconds, not ms)."""
    mark = _either(row.get("mark_price"), contract.get("mark_price"))
    size, multiplier = num(row.get("total_size")), num(contract.get("quanto_multiplier"))
    interval = num(contract.get("funding_interval"))  # seconds
    return Market(
        symbol=name, base=name.partition("_")[0].upper(), quote="USDT",
        volume_24h_usd=required(row.get("volume_24h_quote"), skipped),
        open_interest_usd=size * multiplier * mark if None not in (size, multiplier, mark) else None,
        last_price=required(row.get("last"), skipped), mark_price=mark, index_price=num(row.get("index_price")),
        **funding(_either(row.get("funding_rate"), contract.get("funding_rate")),
                  interval / 3600.0 if interval is not None else None,
                  next_time_s=contract.get("funding_next_apply")),
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
CONTRACTS = "/api/v4/futures/usdt/contracts"
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


class GateMarket(NamedTuple):
    """One contract's download, in the shape `collect_markets` sums."""

    candles: list[Candle]
    open_interest: list[tuple[int, float]] | ExchangeError  # an error only for a BTC contract (optional there)
    long_share: dict[int, float]


def candle_windows(contract: str) -> Windows:
    """`candlesticks` windows of at most `CANDLE_POINTS` points; `limit` may not be sent with `from`/`to`."""
    return Windows(CANDLE_POINTS, lambda lo, hi: {"contract": contract, "interval": "1h", "from": lo, "to": hi})


def stat_windows(contract: str) -> Windows:
    """`contract_stats` windows of at most `STATS_LIMIT` points. `to` is not in Gate's docs: sent so that
    a venue cutting full pages from either end still gives every point."""
    return Windows(STATS_LIMIT, lambda lo, hi: {"contract": contract, "interval": "1h", "from": lo, "to": hi,
                                                "limit": STATS_LIMIT})


class Gateio(Exchange):
    id = "gateio"
    kind = "CEX"
    liq_window = 3600  # seconds per liq_orders request; Gate refuses longer windows
    liq_page = 1000  # rows per liq_orders page, Gate's maximum
    liq_pages = 20  # pages per window: a guard against paging without end
    history_rate: float | None = HISTORY_RATE  # requests per second and endpoint in `history` (None: unpaced)
    history_workers = 8  # contracts read at once in `history`

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        got = self.parallel({
            "contracts": lambda: self.get(CONTRACTS),
            "tickers": lambda: self.get("/api/v4/futures/usdt/tickers"),
        })
        contracts = self.parse("contracts", parse_contracts, got["contracts"])
        markets = self.parse("tickers", parse_tickers, got["tickers"], contracts, skipped)
        return self.summarize(markets, long_share=parse_long_share(contracts.get(BTC_CONTRACT)),
                              records_skipped=skipped.count)

    def poll_liquidations(self, start_ms: int, end_ms: int, symbols: int) -> Polled:
        """Liquidations with event time in [start_ms, end_ms] from `liq_orders`, one window of at
        most an hour after another. One request covers every contract: `symbols` is not needed."""
        contracts = self.parse("contracts", parse_contracts, self.get(CONTRACTS))
        skipped = Skips()
        events: dict[tuple, LiquidationEvent] = {}
        for start_s, end_s in liq_windows(start_ms // 1000, end_ms // 1000, self.liq_window):
            for event in self._window_liquidations(start_s, end_s, contracts, skipped):
                if start_ms <= event.event_time_ms <= end_ms:
                    events.setdefault(event.key(), event)
        self.notes += skipped_note(skipped.count)
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
                self.notes.append(f"at least {self.liq_page} liquidations at {utc_second(newest or to)}: some may be missing")
                return events
            to = oldest
        self.notes.append(f"liquidations from {utc_second(start_s)} to {utc_second(to)} not read: over {self.liq_pages} pages")
        return events

    # -- history --------------------------------------------------------------------------------

    def history(self, start: int, end: int, progress: Progress | None = None) -> VenueHistory:
        """Hourly history of [start, end): per trading contract one-hour candlesticks and contract_stats'
        open interest; for the BTC contract its long/short accounts, mark and index candles and funding."""
        d = self.history_download(progress)
        contracts = self.parse("contracts", parse_contracts, d.get(CONTRACTS, unplanned=True))
        if not contracts:
            raise self.error("no included markets in the response")
        names = sorted(contracts)
        candle_pages = len(time_windows(start, end, CANDLE_POINTS))
        d.plan(len(names) * (candle_pages + len(time_windows(start, end, STATS_LIMIT))) + 2 * candle_pages + 1)
        results = d.markets(lambda name: self._market_history(d, name, contracts[name], start, end), names,
                            self.history_workers)
        failures = {n: r for n, r in zip(names, results) if isinstance(r, ExchangeError)}
        volumes = {n: sum(c.quote_volume for c in r.candles) for n, r in zip(names, results) if n not in failures}
        btc = pick_btc_symbol({n: (n.partition("_")[0].upper(), "USDT") for n in names}, volumes, failures)
        btc_market = results[names.index(btc)] if btc else None
        no_oi = btc_market is not None and isinstance(btc_market.open_interest, ExchangeError)
        if no_oi:  # the chosen BTC contract keeps its volume; other BTC contracts without stats are failed markets
            d.note(f"open interest and long/short history unavailable: {btc_market.open_interest.reason}")
            results[names.index(btc)] = btc_market._replace(open_interest=[])
        builder, candles_of, failures = collect_markets(names, results)
        notes = ["open interest is contract_stats' open_interest_usd (Gate's own USD value)"]
        if btc is None:
            notes.append("no BTC perpetual")
        elif not no_oi:
            notes.append("long share from contract_stats lsr_account (long/short account ratio), "
                         "taken to be live's long_users / short_users")
        series = self._btc_series(d, btc, contracts, start, end) if btc else {}
        btc_candles = candles_of.get(btc, [])
        return VenueHistory(
            exchange=self.id, kind=self.kind, start=start, end=end,
            volume_usd=builder.volume, markets=builder.markets, trades=None,
            open_interest_usd=None if no_oi else builder.oi, btc_symbol=btc,
            btc_open={c.t: c.open for c in btc_candles}, btc_close={c.t: c.close for c in btc_candles},
            btc_mark=series.get("mark"), btc_index=series.get("index"), btc_funding=series.get("funding"),
            long_share=None if btc_market is None or no_oi else btc_market.long_share or None,
            symbols=len(names), symbols_failed=builder.failed,
            notes=d.finish(notes=notes + failed_note(failures, len(names))),
        )

    def history_download(self, progress: Progress | None = None) -> Download:
        pacers = {path: Pacer(self.history_rate, burst=1) for path in (CONTRACTS, CANDLES, STATS, FUNDING)}
        return Download(self, progress, pace=lambda path, params: pacers[path].take())

    def market_history(self, d: Download, market: Market, start: int, end: int) -> MarketHistory:
        candles = self._candles(d, market.symbol, start, end)
        closes = {c.t: c.close for c in candles}
        return MarketHistory.read(candles, lambda: open_interest_points(
            d.hourly(STATS, parse_contract_stats, stat_windows(market.symbol), start, end), None, closes, start, end))

    def market_extras(self, d: Download, market: Market, start: int, end: int) -> dict:
        return self._price_calls(d, market.symbol, market.funding_interval_h, start, end, "")

    def _market_history(self, d: Download, name: str, contract: dict, start: int, end: int) -> GateMarket:
        """One contract's candles (their failure fails it) and open interest in USD; a BTC contract's
        failing stats are kept as the error (the chosen one's are optional), another's fail it."""
        candles = self._candles(d, name, start, end)
        try:
            stats = d.hourly(STATS, parse_contract_stats, stat_windows(name), start, end)
        except ExchangeError as e:
            if not name.upper().startswith("BTC_"):
                raise
            return GateMarket(candles, e, {})
        closes = {c.t: c.close for c in candles}
        return GateMarket(candles, open_interest_points(stats, num(contract.get("quanto_multiplier")), closes,
                                                        start, end), long_shares(stats, start, end))

    def _candles(self, d: Download, contract: str, start: int, end: int, volume: bool = True) -> list[Candle]:
        return d.hourly(CANDLES, partial(parse_candlesticks, volume=volume), candle_windows(contract), start, end)

    def _closes(self, d: Download, contract: str, start: int, end: int) -> dict[int, float]:
        """Open time → close of a `mark_`/`index_` contract's candles (they have no volume)."""
        return {c.t: c.close for c in self._candles(d, contract, start, end, volume=False)}

    def _btc_series(self, d: Download, btc: str, contracts: dict, start: int, end: int) -> dict:
        """The BTC contract's mark and index closes and funding per 8 h; each None with a note when it fails."""
        interval = num(contracts[btc].get("funding_interval"))  # seconds
        return d.extras(self._price_calls(d, btc, interval / 3600.0 if interval else None, start, end, "BTC "))

    def _price_calls(self, d: Download, contract: str, interval_h: float | None, start: int, end: int,
                     label: str) -> dict:
        """The contract's mark and index closes and funding per 8 h as `Download.extras` calls."""
        return {
            "mark": (f"{label}mark price history", lambda: self._closes(d, "mark_" + contract, start, end)),
            "index": (f"{label}index price history", lambda: self._closes(d, "index_" + contract, start, end)),
            "funding": (f"{label}funding history", lambda: funding_series(
                self._settlements(d, contract, start - 8 * HOUR, end - 1), interval_h, start, end,
                whole_hours=True, next_spacing=False)),
        }

    def _settlements(self, d: Download, contract: str, lo: int, hi: int, planned: bool = True) -> list[tuple]:
        """Settlements with `lo` ≤ t ≤ `hi`; a full page is split in two halves (whichever end the
        venue cut it from, the halves hold the rest)."""
        payload = d.get(FUNDING, {"contract": contract, "from": lo, "to": hi, "limit": FUNDING_LIMIT},
                        unplanned=not planned)
        rows = d.parse("funding_rate", parse_funding_history, payload)
        if len(payload) < FUNDING_LIMIT or hi - lo < 2 * HOUR:
            return rows
        mid = (lo + hi) // 2
        return (self._settlements(d, contract, lo, mid, planned=False)
                + self._settlements(d, contract, mid + 1, hi, planned=False))
