"""Bitget v2 USDT futures — CEX. Contracts, tickers and funding intervals, one call each.

Docs: https://www.bitget.com/api-doc/contract/market/Get-All-Symbols-Contracts
`productType=USDT-FUTURES` mixes perpetuals with dated contracts: a symbol is included only when
its contract is `symbolType=perpetual` and `symbolStatus=normal` (not listed/maintain/limit_open/
restrictedAPI/off). `usdtVolume` is USD, `holdingAmount` is base coin, `change24h` a fraction.
Funding intervals (1, 2, 4 or 8 h) come from `current-fund-rate`, else the contract's `fundInterval`.
Errors may arrive inside HTTP 200 with a `code` other than "00000". The account long/short ratio
ignores `limit` and returns about 30 rows, oldest first.

History (`backfill`): per market, one-hour candles from `history-candles`; for BTCUSDT also mark and
index candles, settled funding and the account long/short ratio (last ~30 hours only). No
open-interest history exists. Requests are paced under Bitget's 20 per second per IP.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.history import (
    Download,
    MarketHistory,
    Windows,
    collect_markets,
    failed_note,
    pick_btc_symbol,
    time_windows,
)
from perps_tracker.exchanges.parsing import (
    Skips,
    funding,
    funding_series,
    join_markets,
    long_share_of,
    ms_at,
    ms_rows,
    newest,
    num,
    required,
    stamped_rows,
)
from perps_tracker.model.history import Progress, VenueHistory
from perps_tracker.model.market import Market, VenueSnapshot

PRODUCT = {"productType": "USDT-FUTURES"}
DEFAULT_INTERVAL_HOURS = 8.0


class Contract(NamedTuple):
    base: str
    quote: str
    interval_hours: float | None  # the contract's own `fundInterval`


class Funding(NamedTuple):
    rate: float | None
    interval_hours: float | None
    next_update: Any = None  # `nextUpdate`: the next settlement, Unix ms


def _rows(payload: Any) -> list:
    """The `data` list of a Bitget answer."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ValueError(f"expected an object with a data list, got {type(payload).__name__}")
    return payload["data"]


def parse_contracts(payload: Any) -> dict[str, Contract]:
    """Included contracts by symbol: perpetual and trading normally.

    Sample::

        {"code": "00000", "data": [{"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT",
          "symbolType": "perpetual", "symbolStatus": "normal", "deliveryTime": "", "fundInterval": "8"}]}
    """
    contracts = {}
    for row in _rows(payload):
        if not isinstance(row, dict) or not row.get("symbol") or not row.get("baseCoin"):
            continue
        if row.get("symbolType") != "perpetual" or row.get("symbolStatus") != "normal":
            continue
        quote = str(row.get("quoteCoin") or "USDT").upper()
        contracts[row["symbol"]] = Contract(str(row["baseCoin"]).upper(), quote, num(row.get("fundInterval")))
    return contracts


def parse_funding(payload: Any) -> dict[str, Funding]:
    """Current funding rate, interval (hours) and next settlement (`nextUpdate`, ms) by symbol.

    Sample::

        {"code": "00000", "data": [{"symbol": "BTCUSDT", "fundingRate": "0.000068",
          "fundingRateInterval": "8", "nextUpdate": "1743062400000"}]}
    """
    return {
        row["symbol"]: Funding(num(row.get("fundingRate")), num(row.get("fundingRateInterval")), row.get("nextUpdate"))
        for row in _rows(payload) if isinstance(row, dict) and row.get("symbol")
    }


def _market(row: dict, contract: Contract, current: Funding | None, skipped: Skips) -> Market:
    """One market; funding from `current-fund-rate` (`current`), else the ticker's rate and the
    contract's interval (else 8 h); the next settlement only from `current-fund-rate`."""
    mark, oi, change = num(row.get("markPrice")), num(row.get("holdingAmount")), num(row.get("change24h"))
    rate = current.rate if current and current.rate is not None else num(row.get("fundingRate"))
    interval = (current.interval_hours if current else None) or contract.interval_hours or DEFAULT_INTERVAL_HOURS
    return Market(
        symbol=row["symbol"], base=contract.base, quote=contract.quote,
        volume_24h_usd=required(row.get("usdtVolume"), skipped),
        open_interest_usd=oi * mark if oi is not None and mark is not None else None,
        last_price=required(row.get("lastPr"), skipped), mark_price=mark, index_price=num(row.get("indexPrice")),
        **funding(rate, interval, current.next_update if current else None),
        price_change_24h_pct=change * 100.0 if change is not None else None,
    )


def parse_tickers(payload: Any, contracts: dict[str, Contract], funding: dict[str, Funding],
                  skipped: Skips) -> list[Market]:
    """Markets of the included contracts from their tickers; tickers of other symbols are ignored.

    A contract without a ticker is skipped and counted; a missing `usdtVolume` or `lastPr` is None
    and counted, the market kept.

    Sample::

        {"code": "00000", "data": [{"symbol": "BTCUSDT", "lastPr": "84000.5", "change24h": "-0.0125",
          "usdtVolume": "5000000000.5", "markPrice": "84010", "indexPrice": "83990.25",
          "fundingRate": "0.000125", "holdingAmount": "45000.125", "deliveryStatus": "", "ts": "1763800000000"}]}
    """
    tickers = {}
    for row in _rows(payload):
        if isinstance(row, dict) and row.get("symbol"):
            tickers.setdefault(str(row["symbol"]), row)
    return join_markets(tickers, contracts,
                        lambda row, contract: _market(row, contract, funding.get(row["symbol"]), skipped), skipped)


def parse_long_short(payload: Any) -> float | None:
    """The newest account long/short ratio R (rows come oldest first; order is not trusted).

    Sample::

        {"code": "00000", "data": [{"longAccountRatio": "0.6491", "shortAccountRatio": "0.3509",
          "longShortAccountRatio": "1.85", "ts": "1763798400000"}, ...]}
    """
    row = newest((r for r in _rows(payload) if isinstance(r, dict)), lambda r: r.get("ts"))
    if row is None:
        return None
    ratio = num(row.get("longShortAccountRatio"))
    if ratio is None:
        long, short = num(row.get("longAccountRatio")), num(row.get("shortAccountRatio"))
        ratio = long / short if long is not None and short else None
    return ratio


# -- history (`backfill`) -----------------------------------------------------------------------
#
# Docs: contract/market Get-History-Candle-Data, Get-History-Mark-Candle-Data,
# Get-History-Index-Candle-Data (limit ≤ 200, startTime/endTime in ms, at most 90 days apart),
# Get-History-Funding-Rate (pageSize ≤ 100, pageNo; no time parameters, newest first) and
# Account-Long-Short (no time range: about the last 30 rows). 20 requests/s per IP (1/s for
# long/short). No open-interest history endpoint.

HISTORY_LIMIT = 200  # rows per history-(mark-|index-)candles request, the documented maximum
FUNDING_PAGE = 100  # history-fund-rate pageSize, the documented maximum
FUNDING_PAGES = 50  # a guard against paging without end
HISTORY_RATE = 15.0  # requests per second, 1/15 s apart (burst 1): three quarters of Bitget's 20 per IP
CONTRACTS = "/api/v2/mix/market/contracts"
CANDLES = "/api/v2/mix/market/history-candles"
MARK_CANDLES = "/api/v2/mix/market/history-mark-candles"
INDEX_CANDLES = "/api/v2/mix/market/history-index-candles"
FUNDING = "/api/v2/mix/market/history-fund-rate"
RATIO = "/api/v2/mix/market/account-long-short"


class Candle(NamedTuple):
    t: int  # open time, Unix seconds
    open: float
    close: float
    quote_volume: float  # USDT


def parse_history_candles(payload: Any, skipped: Skips) -> list[Candle]:
    """One-hour candles from history-candles: [open time ms, open, high, low, close, base volume,
    quote volume], all strings; a row without time, open, close or quote volume is skipped.

    Sample::

        {"code": "00000", "data": [["1795384800000", "84010.5", "84100", "83900.1", "84050.2",
          "1520.25", "127781250.5"]]}
    """
    rows = ms_rows(_rows(payload), skipped, 7, lambda row: (num(row[1]), num(row[4]), num(row[6])))
    return [Candle(*row) for row in rows]


def parse_price_candles(payload: Any, skipped: Skips) -> dict[int, float]:
    """{open time s: close} from history-mark-candles / history-index-candles (same rows as candles).

    Sample::

        {"code": "00000", "data": [["1795384800000", "84020", "84110", "83910", "84060.8", "0", "0"]]}
    """
    return dict(ms_rows(_rows(payload), skipped, 5, lambda row: num(row[4])))


def parse_funding_history(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(settlement time s, settled rate) from history-fund-rate, newest first.

    Sample::

        {"code": "00000", "data": [{"symbol": "BTCUSDT", "fundingRate": "0.0001", "fundingTime": "1795363200000"}]}
    """
    return stamped_rows(_rows(payload), skipped, lambda row: ms_at(row, "fundingTime"),
                        lambda row: num(row.get("fundingRate")))


def parse_long_short_history(payload: Any, skipped: Skips) -> dict[int, float]:
    """{time s: long accounts' share} from account-long-short: R / (1 + R) with R the account
    long/short ratio, as live (`parse_long_short`, `summarize`).

    Sample::

        {"code": "00000", "data": [{"longAccountRatio": "0.6491", "shortAccountRatio": "0.3509",
          "longShortAccountRatio": "1.85", "ts": "1795384800000"}]}
    """
    return dict(stamped_rows(_rows(payload), skipped, lambda row: ms_at(row, "ts"),
                             lambda row: long_share_of(parse_long_short({"data": [row]}))))


class Bitget(Exchange):
    id = "bitget"
    kind = "CEX"
    error_code_field, ok_codes, rate_limit_codes = "code", ("00000",), ("429",)  # errors may come in HTTP 200
    history_rate: float | None = HISTORY_RATE  # requests per second in `history` (None: unpaced)
    history_workers = 8  # markets read at once in `history`

    def long_short_ratio(self) -> float | None:
        payload = self.get(RATIO, {"symbol": "BTCUSDT", "period": "1h"}, missing_ok=True)
        return None if payload is None else self.parse("account-long-short", parse_long_short, payload)

    def funding(self) -> dict[str, Funding]:
        payload = self.get("/api/v2/mix/market/current-fund-rate", PRODUCT, missing_ok=True)
        return {} if payload is None else self.parse("current-fund-rate", parse_funding, payload)

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        got = self.parallel({
            "contracts": lambda: self.get(CONTRACTS, PRODUCT),
            "tickers": lambda: self.get("/api/v2/mix/market/tickers", PRODUCT),
            "funding": lambda: self.optional("funding intervals", self.funding),
            "ratio": lambda: self.optional("long/short ratio", self.long_short_ratio),
        })
        contracts = self.parse("contracts", parse_contracts, got["contracts"])
        markets = self.parse("tickers", parse_tickers, got["tickers"], contracts, got["funding"] or {}, skipped)
        return self.summarize(markets, long_short_ratio=got["ratio"], records_skipped=skipped.count)

    # -- history --------------------------------------------------------------------------------

    def history(self, start: int, end: int, progress: Progress | None = None) -> VenueHistory:
        """Hourly history of [start, end): per included contract one-hour history candles; for BTCUSDT
        mark and index candles, settled funding and the account long/short ratio (its last ~30 hours)."""
        d = self.history_download(progress)
        contracts = self.parse("contracts", parse_contracts, d.get(CONTRACTS, PRODUCT, unplanned=True))
        if not contracts:
            raise self.error("no included markets in the response")
        symbols = sorted(contracts)
        pages = len(time_windows(start, end, HISTORY_LIMIT))
        d.plan(len(symbols) * pages + 2 * pages + 2)  # + mark, index, funding, long/short
        results = d.markets(lambda symbol: self._market_history(d, symbol, start, end), symbols, self.history_workers)
        builder, candles_of, failures = collect_markets(symbols, results)
        volumes = {s: sum(c.quote_volume for c in candles) for s, candles in candles_of.items()}
        btc = pick_btc_symbol({s: (c.base, c.quote) for s, c in contracts.items()}, volumes, failures)
        notes = ["no open-interest history: open interest is not rebuilt"]
        if btc is None:
            notes.append("no BTC perpetual")
        else:
            notes.append("long/short history covers only the last ~30 hours (account-long-short has no time "
                         "range): earlier hours have none")
        series = self._btc_series(d, btc, contracts[btc], start, end) if btc else {}
        btc_candles = candles_of.get(btc, [])
        return VenueHistory(
            exchange=self.id, kind=self.kind, start=start, end=end,
            volume_usd=builder.volume, markets=builder.markets, trades=None, open_interest_usd=None,
            btc_symbol=btc, btc_open={c.t: c.open for c in btc_candles}, btc_close={c.t: c.close for c in btc_candles},
            btc_mark=series.get("mark"), btc_index=series.get("index"), btc_funding=series.get("funding"),
            long_share=series.get("long_share"), symbols=len(symbols), symbols_failed=builder.failed,
            notes=d.finish(notes=notes + failed_note(failures, len(symbols))),
        )

    def _market_history(self, d: Download, symbol: str, start: int, end: int) -> MarketHistory:
        """One contract's candles (no open-interest history exists)."""
        return MarketHistory(self._candles(d, CANDLES, parse_history_candles, symbol, start, end), [])

    def _candles(self, d: Download, path: str, parser, symbol: str, start: int, end: int) -> list:
        """One-hour candles (or closes) of `symbol` opening in [start, end), a window of at most
        `HISTORY_LIMIT` a request."""
        return d.hourly(path, parser, candle_windows(symbol), start, end)

    def history_download(self, progress: Progress | None = None) -> Download:
        return Download(self, progress, rate=self.history_rate)

    def market_history(self, d: Download, market: Market, start: int, end: int) -> MarketHistory:
        return self._market_history(d, market.symbol, start, end)

    def market_extras(self, d: Download, market: Market, start: int, end: int) -> dict:
        return self._price_calls(d, market.symbol, market.funding_interval_h, start, end, "")

    def _btc_series(self, d: Download, btc: str, contract: Contract, start: int, end: int) -> dict:
        """BTCUSDT's mark and index closes, funding per 8 h and long share; each None with a note when it fails."""
        return d.extras({
            **self._price_calls(d, btc, contract.interval_hours, start, end, "BTC "),
            "long_share": ("BTC long/short history", lambda: {
                t: share for t, share in self._long_share(d, btc) if start <= t < end} or None),
        })

    def _price_calls(self, d: Download, symbol: str, interval_h: float | None, start: int, end: int,
                     label: str) -> dict:
        """The contract's mark and index closes and funding per 8 h as `Download.extras` calls."""
        return {
            "mark": (f"{label}mark price history", lambda: dict(
                self._candles(d, MARK_CANDLES, parse_price_candles, symbol, start, end))),
            "index": (f"{label}index price history", lambda: dict(
                self._candles(d, INDEX_CANDLES, parse_price_candles, symbol, start, end))),
            "funding": (f"{label}funding history", lambda: funding_series(
                self._settlements(d, symbol, start), interval_h or DEFAULT_INTERVAL_HOURS, start, end,
                whole_hours=True, next_spacing=False)),
        }

    def _settlements(self, d: Download, symbol: str, start: int) -> list[tuple[int, float]]:
        """history-fund-rate pages (numbered, newest first) until a settlement older than the window's first
        period (its spacing gives that period's interval) or the end of the history."""
        rows: list[tuple[int, float]] = []
        for page in range(1, FUNDING_PAGES + 1):
            payload = d.get(FUNDING, {**PRODUCT, "symbol": symbol, "pageSize": FUNDING_PAGE, "pageNo": page},
                            unplanned=page > 1)
            got = d.parse("history-fund-rate", parse_funding_history, payload)
            rows += got
            if len(_rows(payload)) < FUNDING_PAGE or (got and min(t for t, _ in got) < start):
                return rows
        d.note(f"funding history beyond {FUNDING_PAGES} pages not read")
        return rows

    def _long_share(self, d: Download, symbol: str) -> list[tuple[int, float]]:
        payload = d.get(RATIO, {"symbol": symbol, "period": "1h"})
        return d.parse("account-long-short", parse_long_short_history, payload)


def candle_windows(symbol: str) -> Windows:
    """History candle windows (ms) of at most `HISTORY_LIMIT` one-hour rows."""
    return Windows(HISTORY_LIMIT, lambda lo, hi: {**PRODUCT, "symbol": symbol, "granularity": "1H", "startTime": lo,
                                                  "endTime": hi, "limit": HISTORY_LIMIT}, scale=1000)
