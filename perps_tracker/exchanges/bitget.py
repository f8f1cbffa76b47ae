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

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.history import pick_btc_symbol, skipped_note, time_windows
from perps_tracker.exchanges.pacing import Pacer, Tally
from perps_tracker.exchanges.parsing import (
    Skips,
    funding_8h,
    funding_series,
    integer,
    join_markets,
    newest,
    num,
    required,
)
from perps_tracker.model.history import (
    MARKET_LIST_NOTE,
    HistoryBuilder,
    Progress,
    VenueHistory,
)
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
    """Current funding rate and interval (hours) by symbol.

    Sample::

        {"code": "00000", "data": [{"symbol": "BTCUSDT", "fundingRate": "0.000068",
          "fundingRateInterval": "8", "nextUpdate": "1743062400000"}]}
    """
    return {
        row["symbol"]: Funding(num(row.get("fundingRate")), num(row.get("fundingRateInterval")))
        for row in _rows(payload) if isinstance(row, dict) and row.get("symbol")
    }


def _market(row: dict, contract: Contract, funding: Funding | None, skipped: Skips) -> Market:
    mark, oi, change = num(row.get("markPrice")), num(row.get("holdingAmount")), num(row.get("change24h"))
    rate = funding.rate if funding and funding.rate is not None else num(row.get("fundingRate"))
    interval = (funding.interval_hours if funding else None) or contract.interval_hours or DEFAULT_INTERVAL_HOURS
    return Market(
        symbol=row["symbol"], base=contract.base, quote=contract.quote,
        volume_24h_usd=required(row.get("usdtVolume"), skipped),
        open_interest_usd=oi * mark if oi is not None and mark is not None else None,
        last_price=required(row.get("lastPr"), skipped), mark_price=mark, index_price=num(row.get("indexPrice")),
        funding_rate_8h=funding_8h(rate, interval),
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
    candles = []
    for row in _rows(payload):
        t = integer(row[0]) if isinstance(row, list) and len(row) >= 7 else None
        values = (num(row[1]), num(row[4]), num(row[6])) if t is not None else (None,)
        if t is None or None in values:
            skipped()
            continue
        candles.append(Candle(t // 1000, *values))
    return candles


def parse_price_candles(payload: Any, skipped: Skips) -> dict[int, float]:
    """{open time s: close} from history-mark-candles / history-index-candles (same rows as candles).

    Sample::

        {"code": "00000", "data": [["1795384800000", "84020", "84110", "83910", "84060.8", "0", "0"]]}
    """
    closes = {}
    for row in _rows(payload):
        t = integer(row[0]) if isinstance(row, list) and len(row) >= 5 else None
        close = num(row[4]) if t is not None else None
        if close is None:
            skipped()
            continue
        closes[t // 1000] = close
    return closes


def parse_funding_history(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(settlement time s, settled rate) from history-fund-rate, newest first.

    Sample::

        {"code": "00000", "data": [{"symbol": "BTCUSDT", "fundingRate": "0.0001", "fundingTime": "1795363200000"}]}
    """
    rows = []
    for row in _rows(payload):
        t = integer(row.get("fundingTime")) if isinstance(row, dict) else None
        rate = num(row.get("fundingRate")) if t is not None else None
        if rate is None:
            skipped()
            continue
        rows.append((t // 1000, rate))
    return rows


def parse_long_short_history(payload: Any, skipped: Skips) -> dict[int, float]:
    """{time s: long accounts' share} from account-long-short: R / (1 + R) with R the account
    long/short ratio, as live (`parse_long_short`, `summarize`).

    Sample::

        {"code": "00000", "data": [{"longAccountRatio": "0.6491", "shortAccountRatio": "0.3509",
          "longShortAccountRatio": "1.85", "ts": "1795384800000"}]}
    """
    shares = {}
    for row in _rows(payload):
        t = integer(row.get("ts")) if isinstance(row, dict) else None
        ratio = parse_long_short({"data": [row]}) if t is not None else None
        if ratio is None or ratio < 0:
            skipped()
            continue
        shares[t // 1000] = ratio / (1 + ratio)
    return shares


class Bitget(Exchange):
    id = "bitget"
    kind = "CEX"
    name = "Bitget v2 USDT futures"
    base_url = "https://api.bitget.com"
    error_code_field, ok_codes, rate_limit_codes = "code", ("00000",), ("429",)  # errors may come in HTTP 200
    history_rate: float | None = HISTORY_RATE  # requests per second in `history` (None: unpaced)
    history_workers = 8  # markets read at once in `history`

    def long_short_ratio(self) -> float | None:
        payload = self.get("/api/v2/mix/market/account-long-short", {"symbol": "BTCUSDT", "period": "1h"},
                           missing_ok=True)
        return None if payload is None else self.parse("account-long-short", parse_long_short, payload)

    def funding(self) -> dict[str, Funding]:
        payload = self.get("/api/v2/mix/market/current-fund-rate", PRODUCT, missing_ok=True)
        return {} if payload is None else self.parse("current-fund-rate", parse_funding, payload)

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        got = self.parallel({
            "contracts": lambda: self.get("/api/v2/mix/market/contracts", PRODUCT),
            "tickers": lambda: self.get("/api/v2/mix/market/tickers", PRODUCT),
            "funding": lambda: self.optional("funding intervals", self.funding),
            "ratio": lambda: self.optional("long/short ratio", self.long_short_ratio),
        })
        contracts = self.parse("contracts", parse_contracts, got["contracts"])
        markets = self.parse("tickers", parse_tickers, got["tickers"], contracts, got["funding"] or {}, skipped)
        return self.summarize(markets, long_short_ratio=got["ratio"], records_skipped=skipped.count)

    # -- history --------------------------------------------------------------------------------

    def _call(self, path: str, params: dict) -> Any:
        self._pacer.take()
        try:
            return self.get(path, params)
        finally:
            self._tally.finished()

    def _candle_pages(self, path: str, symbol: str, windows: list[tuple[int, int]], parse, skipped: Skips) -> dict:
        out: dict[int, Any] = {}
        for lo, hi in windows:
            payload = self._call(path, {**PRODUCT, "symbol": symbol, "granularity": "1H", "startTime": lo * 1000,
                                        "endTime": hi * 1000, "limit": HISTORY_LIMIT})
            rows = self.parse(path.rsplit("/", 1)[-1], parse, payload, skipped)
            items = rows.items() if isinstance(rows, dict) else ((c.t, c) for c in rows)
            out.update((t, v) for t, v in items if lo <= t < hi)
        return out

    def _market(self, symbol: str, windows: list[tuple[int, int]]) -> tuple[dict[int, Candle], int]:
        skipped = Skips()
        candles = self._candle_pages("/api/v2/mix/market/history-candles", symbol, windows, parse_history_candles,
                                     skipped)
        return candles, skipped.count

    def _funding(self, symbol: str, start: int, skipped: Skips) -> list[tuple[int, float]]:
        """history-fund-rate pages, newest first, until a settlement older than the window's first
        period (its spacing gives that period's interval) or the end of the history."""
        rows: list[tuple[int, float]] = []
        for page in range(1, FUNDING_PAGES + 1):
            if page > 1:
                self._tally.plan(1)
            payload = self._call("/api/v2/mix/market/history-fund-rate",
                                 {**PRODUCT, "symbol": symbol, "pageSize": FUNDING_PAGE, "pageNo": page})
            got = self.parse("history-fund-rate", parse_funding_history, payload, skipped)
            rows += got
            if len(_rows(payload)) < FUNDING_PAGE or (got and min(t for t, _ in got) < start):
                return rows
        self.notes.append(f"funding history beyond {FUNDING_PAGES} pages not read")
        return rows

    def _long_short(self, symbol: str, skipped: Skips) -> dict[int, float]:
        payload = self._call("/api/v2/mix/market/account-long-short", {"symbol": symbol, "period": "1h"})
        return self.parse("account-long-short", parse_long_short_history, payload, skipped)

    def history(self, start: int, end: int, progress: Progress | None = None) -> VenueHistory:
        self._tally, self._pacer = Tally(progress), Pacer(self.history_rate, burst=1)
        self._tally.plan(1)
        contracts = self.parse("contracts", parse_contracts, self._call("/api/v2/mix/market/contracts", PRODUCT))
        if not contracts:
            raise self.error("no included markets in the response")
        windows = time_windows(start, end, HISTORY_LIMIT)
        symbols = sorted(contracts)
        self._tally.plan(len(symbols) * len(windows) + 2 * len(windows) + 2)  # + mark, index, funding, long/short
        results = self.fan_out(lambda s: self._market(s, windows), symbols, self.history_workers)

        builder, skipped = HistoryBuilder(), Skips()
        failures: dict[str, ExchangeError] = {}
        volumes: dict[str, float] = {}
        for symbol, result in zip(symbols, results):
            if isinstance(result, ExchangeError):
                failures[symbol] = result
                continue
            candles, bad = result
            skipped(bad)
            builder.add_candles((t, c.quote_volume, None) for t, c in candles.items())
            volumes[symbol] = sum(c.quote_volume for c in candles.values())
        btc = pick_btc_symbol({s: (c.base, c.quote) for s, c in contracts.items()}, volumes, failures)
        notes = [MARKET_LIST_NOTE, "no open-interest history: open interest is not rebuilt"]
        if btc is None:
            notes.append("no BTC perpetual")
            self._tally.plan(-(2 * len(windows) + 2))
            mark = index = funding = shares = None
        else:
            btc_candles = results[symbols.index(btc)][0]
            mark = self.optional("BTC mark price history", lambda: self._candle_pages(
                "/api/v2/mix/market/history-mark-candles", btc, windows, parse_price_candles, skipped))
            index = self.optional("BTC index price history", lambda: self._candle_pages(
                "/api/v2/mix/market/history-index-candles", btc, windows, parse_price_candles, skipped))
            settled = self.optional("BTC funding history", lambda: self._funding(btc, start, skipped))
            funding = None if settled is None else funding_series(
                settled, contracts[btc].interval_hours or DEFAULT_INTERVAL_HOURS, start, end,
                whole_hours=True, next_spacing=False)
            shares = self.optional("BTC long/short history", lambda: self._long_short(btc, skipped))
            shares = {t: v for t, v in (shares or {}).items() if start <= t < end} or None
            notes.append("long/short history covers only the last ~30 hours (account-long-short has no time "
                         "range): earlier hours have none")
        return VenueHistory(
            exchange=self.id, kind=self.kind, start=start, end=end,
            volume_usd=builder.volume, markets=builder.markets, trades=None, open_interest_usd=None,
            btc_symbol=btc,
            btc_open={t: c.open for t, c in btc_candles.items()} if btc else {},
            btc_close={t: c.close for t, c in btc_candles.items()} if btc else {},
            btc_mark=mark, btc_index=index, btc_funding=funding, long_share=shares,
            symbols=len(symbols), symbols_failed=len(failures),
            notes=tuple(notes + self.notes + skipped_note(skipped.count)),
        )
