"""Binance USDⓈ-M futures — CEX. Instruments, 24 h tickers, premium index (mark, index, funding),
funding intervals, per-symbol open interest and the BTC account long/short ratio.

Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api
Quirks:
- Only `contractType == "PERPETUAL"` with `status == "TRADING"` is a live perpetual; TRADIFI_PERPETUAL,
  "PERPETUAL DELIVERING", "" (pending) and the quarterlies are not.
- `fundingInfo` lists only the symbols with adjusted funding settings; all others pay every 8 h.
- Open interest is one request per symbol (weight 1, base units: × mark price). The budget is
  2400 weight per minute per IP (`exchangeInfo`'s `rateLimits`), the minute's use is in
  `X-MBX-USED-WEIGHT-1M`; past it come 429, then 418 (an IP ban). The fan-out starts as soon as
  `exchangeInfo` answers, as many at a time as the minute's weight left has room for (at most 128).
- Errors come with HTTP 4xx and `{"code": -1121, "msg": "Invalid symbol."}`, never inside a 200.

History (`backfill`, on the engine of perps_tracker.exchanges.history): per included symbol, 1 h
`klines` (weight by `limit`: 2 for 100–499, the least weight per candle, so windows of 499 hours) and
`/futures/data/openInterestHist` (USD in `sumOpenInterestValue`); for BTC, mark/index price klines,
`fundingRate` (paged forward by `startTime`, rows keyed in ms) and the account long/short ratio. The
`/futures/data` endpoints keep only the last 30 days (an older `startTime` is refused) and allow
1000 requests per 5 min per IP (UNVERIFIED): they are paced apart from the weight budget.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable, Mapping

from perps_tracker.exchanges.base import Exchange, LiveFeed
from perps_tracker.exchanges.capture import (
    Connection,
    Listed,
    Receiver,
    Session,
    VenueCapture,
    book_depth,
    levels,
    split_stable,
)
from perps_tracker.exchanges.history import (
    Download,
    Forward,
    MarketHistory,
    Windows,
    collect_markets,
    hour_pages,
    kept_volume_notes,
)
from perps_tracker.exchanges.pacing import PAUSE_SHARE, MinuteWeight, Pacer, PerSymbol
from perps_tracker.exchanges.parsing import (
    Skips,
    funding,
    funding_8h,
    integer,
    join_markets,
    listed,
    long_share_of,
    ms_at,
    ms_rows,
    newest,
    num,
    required,
    stamped_rows,
)
from perps_tracker.model.history import HOUR, Progress, VenueHistory
from perps_tracker.model.liquidation import LONG, SHORT, LiquidationEvent, make_event
from perps_tracker.model.market import Market, VenueSnapshot, btc_candidates
from perps_tracker.model.ticks import BBO, BOOK, BUY, SELL, TRADES, Bbo, Instrument, Trade, trade

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
DOCUMENTED_WEIGHT = 2400  # per minute per IP, when exchangeInfo's rateLimits does not say
WEIGHT_PAUSE_AT = round(DOCUMENTED_WEIGHT * PAUSE_SHARE)  # 2000 of 2400
SNAPSHOT_WEIGHT = 52  # ticker/24hr 40, premiumIndex 10, exchangeInfo 1, fundingInfo 1: sent beside the fan-out
MAX_PAUSE = 65.0  # a longer hold (an IP ban's Retry-After) skips the remaining requests instead
DEFAULT_FUNDING_HOURS = 8.0
OPEN_INTEREST = "/fapi/v1/openInterest"

# History (backfill)
KLINES = "/fapi/v1/klines"
MARK_KLINES = "/fapi/v1/markPriceKlines"
INDEX_KLINES = "/fapi/v1/indexPriceKlines"
FUNDING_HISTORY = "/fapi/v1/fundingRate"
OPEN_INTEREST_HISTORY = "/futures/data/openInterestHist"
FUTURES_DATA = "/futures/data/"  # paced by request count, apart from the weight budget
PRICE_KLINES = (KLINES, MARK_KLINES, INDEX_KLINES)  # weight by `limit` (kline_weight)
KLINES_PAGE = 499  # candles per request: weight 2, the least weight per candle (limit 1000 costs 5)
DATA_PAGE = 500  # /futures/data rows per request (documented max)
FUNDING_PAGE = 1000  # fundingRate rows per request (documented max)
DATA_DAYS = 30  # /futures/data keeps the last 30 days; an older startTime is refused
DATA_MARGIN = 300  # seconds kept clear of that edge, for clock skew against the venue
WEIGHT_PER_SECOND, WEIGHT_BURST = 30.0, 200.0  # at most 2000 of the 2400 weight in any minute
DATA_PER_SECOND, DATA_BURST = 3.0, 50.0  # at most 950 in any 5 min, of 1000 per IP (UNVERIFIED)

Instruments = Mapping[str, tuple[str, str]]  # symbol -> (base, quote)


def parse_exchange_info(payload: Any, quotes: tuple[str, ...], skipped: Skips) -> dict[str, tuple[str, str]]:
    """The included symbols of `exchangeInfo` → (base, quote): live linear perpetuals quoted in `quotes`.

    Sample::

        {"timezone": "UTC", "serverTime": 1764072000000, "rateLimits": [...],
         "symbols": [{"symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL",
                      "deliveryDate": 4133404800000, "status": "TRADING", "baseAsset": "BTC",
                      "quoteAsset": "USDT", "marginAsset": "USDT"}, ...]}
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("symbols"), list):
        raise ValueError("expected an object with a 'symbols' list")
    included = {}
    for row in payload["symbols"]:
        if not isinstance(row, dict) or not isinstance(row.get("symbol"), str):
            skipped()
            continue
        if row.get("contractType") != "PERPETUAL" or row.get("status") != "TRADING":
            continue
        if row.get("quoteAsset") not in quotes:
            continue
        if not row.get("baseAsset"):
            skipped()
            continue
        included[row["symbol"]] = (str(row["baseAsset"]).upper(), row["quoteAsset"])
    return included


def parse_weight_limit(payload: Any) -> float | None:
    """The request weight allowed per minute per IP, from `exchangeInfo`'s `rateLimits`; None when it
    lists none (the caller keeps its default).

    Sample: ``"rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
    "limit": 2400}, {"rateLimitType": "ORDERS", ...}]``
    """
    limits = payload.get("rateLimits") if isinstance(payload, dict) else None
    for row in limits if isinstance(limits, list) else ():
        if (isinstance(row, dict) and row.get("rateLimitType") == "REQUEST_WEIGHT"
                and row.get("interval") == "MINUTE"):
            limit, minutes = num(row.get("limit")), num(row.get("intervalNum", 1))
            if limit and limit > 0 and minutes and minutes > 0:
                return limit / minutes
    return None


def parse_rows(payload: Any) -> dict[str, dict]:
    """Rows of an all-symbols endpoint (`ticker/24hr`, `premiumIndex`) keyed by `symbol`.

    Samples::

        ticker/24hr:  [{"symbol": "BTCUSDT", "priceChange": "-3282.00", "priceChangePercent": "-3.760",
                        "lastPrice": "84000.10", "volume": "178571.500", "quoteVolume": "15000000000.50",
                        "count": 3500000, "openTime": 1763985600000, "closeTime": 1764072000000}, ...]
        premiumIndex: [{"symbol": "BTCUSDT", "markPrice": "83990.00", "indexPrice": "83950.00",
                        "lastFundingRate": "0.00010000", "interestRate": "0.00010000",
                        "nextFundingTime": 1764086400000, "time": 1764072000000}, ...]
    """
    return {row["symbol"]: row for row in listed(payload)
            if isinstance(row, dict) and isinstance(row.get("symbol"), str)}


def parse_funding_info(payload: Any) -> dict[str, float]:
    """Funding interval in hours per symbol from `fundingInfo` (absent symbols: 8 h).

    Sample (Binance; AsterDEX has `fundingFeeCap`/`fundingFeeFloor`/`interestRate`/`time` instead)::

        [{"symbol": "1000PEPEUSDT", "adjustedFundingRateCap": "0.02", "adjustedFundingRateFloor": "-0.02",
          "fundingIntervalHours": 4, "disclaimer": false}]
    """
    intervals = {}
    for row in listed(payload):
        hours = num(row.get("fundingIntervalHours")) if isinstance(row, dict) else None
        if hours is not None and hours > 0 and isinstance(row.get("symbol"), str):
            intervals[row["symbol"]] = hours
    return intervals


def parse_open_interest(payload: Any) -> float | None:
    """Open interest in base units from `openInterest?symbol=X`.

    Sample:: {"openInterest": "10659.509", "symbol": "BTCUSDT", "time": 1589437530011}
    """
    if not isinstance(payload, dict):
        raise ValueError(f"expected an object, got {type(payload).__name__}")
    return num(payload.get("openInterest"))


def parse_long_short_ratio(payload: Any) -> float | None:
    """R = `longShortRatio` of the newest row by `timestamp` (order and `limit` not trusted).

    Sample::

        [{"symbol": "BTCUSDT", "longShortRatio": "1.5000", "longAccount": "0.6000",
          "shortAccount": "0.4000", "timestamp": 1764072000000}]
    """
    if payload is None:  # 404: the venue has no such endpoint
        return None
    row = newest((r for r in listed(payload) if isinstance(r, dict)), lambda r: r.get("timestamp"))
    return None if row is None else num(row.get("longShortRatio"))


def build_markets(instruments: Instruments, tickers: Mapping[str, dict], premium: Mapping[str, dict],
                  intervals: Mapping[str, float] | None, open_interest: Mapping[str, float] | None,
                  skipped: Skips) -> list[Market]:
    """One Market per included instrument, from the other endpoints' rows keyed by symbol.

    Rows of symbols that are not included are ignored. An instrument without a ticker row is
    skipped and counted; a missing `quoteVolume` or `lastPrice` is None and counted, the market kept.
    Funding: `lastFundingRate` as paid, every `intervals[symbol]` hours (8 when not listed), next at
    `nextFundingTime` (ms). `intervals` None: intervals unknown, so the interval and the 8-hour rate
    are left out (the rate as paid stays). `open_interest` None: the venue
    gives none; a symbol missing from it (its request failed) or without a mark price keeps the
    market, without OI, and is counted.
    """
    def market(ticker: dict, instrument: tuple[str, str]) -> Market:
        symbol, prem = ticker["symbol"], premium.get(ticker["symbol"], {})
        mark = num(prem.get("markPrice"))
        hours = None if intervals is None else intervals.get(symbol, DEFAULT_FUNDING_HOURS)
        return Market(
            symbol=symbol,
            base=instrument[0],
            quote=instrument[1],
            volume_24h_usd=required(ticker.get("quoteVolume"), skipped),
            open_interest_usd=_open_interest_usd(open_interest, symbol, mark, skipped),
            last_price=required(ticker.get("lastPrice"), skipped),
            mark_price=mark,
            index_price=num(prem.get("indexPrice")),
            **funding(num(prem.get("lastFundingRate")), hours, prem.get("nextFundingTime")),
            price_change_24h_pct=num(ticker.get("priceChangePercent")),
            num_trades_24h=integer(ticker.get("count")),
        )

    return join_markets(tickers, instruments, market, skipped)


def _open_interest_usd(open_interest: Mapping[str, float] | None, symbol: str, mark: float | None,
                       skipped: Skips) -> float | None:
    if open_interest is None:
        return None
    amount = open_interest.get(symbol)
    if amount is None or mark is None:
        skipped()
        return None
    return amount * mark


OPEN_INTEREST_FAN_OUT = PerSymbol("open interest", OPEN_INTEREST, "openInterest", parse_open_interest,
                                  longest=MAX_PAUSE, reserve=SNAPSHOT_WEIGHT)


class WeightBudget(MinuteWeight):
    """Binance's per-IP minute: `X-MBX-USED-WEIGHT-1M`, held past 2000 of 2400 until `exchangeInfo`'s
    `rateLimits` says otherwise (`documented`)."""

    header, default_limit, venue = WEIGHT_HEADER, WEIGHT_PAUSE_AT, "binance"


FORCE_ORDER_SIDES = {"SELL": LONG, "BUY": SHORT}  # the liquidation order sells a long's position


def parse_force_order(message: Any, skipped: Skips | None = None, exchange: str = "binance") -> list[LiquidationEvent]:
    """One `forceOrder` push of `!forceOrder@arr` as an event; other messages give [].
    One event per message: a malformed one raises ValueError (`skipped` is not used).

    Quantity is the filled `z` (else the order's `q`), price the average fill `ap` (else `p`),
    the time the order's `T` (else the event's `E`). `S=SELL` liquidated a long.

    Sample::

        {"e": "forceOrder", "E": 1568014460893, "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT",
         "f": "IOC", "q": "0.014", "p": "9910", "ap": "9910", "X": "FILLED", "l": "0.014",
         "z": "0.014", "T": 1568014460893}}
    """
    if not isinstance(message, dict):
        raise ValueError(f"expected an object, got {type(message).__name__}")
    if isinstance(message.get("data"), dict):  # a combined stream wraps the event: {"stream", "data"}
        message = message["data"]
    if message.get("e") != "forceOrder":
        return []  # {"result": null, "id": 1} and the like
    order = message["o"]
    side = FORCE_ORDER_SIDES.get(order.get("S"))
    if side is None:
        raise ValueError(f"unknown side {order.get('S')!r}")
    quantity = num(order.get("z")) or num(order.get("q"))
    price = num(order.get("ap")) or num(order.get("p"))
    time_ms = integer(order.get("T")) or integer(message.get("E"))
    return [make_event(exchange, str(order.get("s") or ""), side, price, quantity, time_ms, "ws")]


def kline_weight(limit: int) -> int:
    """Request weight of a klines call (also mark/index price klines) by its `limit`."""
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


# -- history parsers: each gives {time in Unix seconds: value}; a malformed row is skipped and counted --


def parse_history_candles(payload: Any, skipped: Skips) -> dict[int, tuple[float, float, float, int | None]]:
    """One-hour `klines` → open time → (open, close, quote volume USD, trades).

    Sample (openTime, open, high, low, close, volume (base), closeTime, quoteVolume, count,
    takerBuyBaseVolume, takerBuyQuoteVolume, ignore)::

        [[1795388400000, "84010.50", "84100.00", "83950.10", "84050.20", "1234.567", 1795391999999,
          "103765432.10", 45678, "600.100", "50432100.50", "0"]]
    """
    def candle(row: list) -> tuple | None:  # the trade count may be missing
        o, c, quote = num(row[1]), num(row[4]), num(row[7])
        return (o, c, quote, integer(row[8])) if quote is None or quote >= 0 else None

    rows = ms_rows(listed(payload), skipped, 9, candle, optional=1)
    return {t: tuple(values) for t, *values in rows}


def parse_price_candles(payload: Any, skipped: Skips) -> dict[int, float]:
    """One-hour `markPriceKlines` / `indexPriceKlines` → open time → close.

    Sample (openTime, open, high, low, close, ignore, closeTime, ignore...)::

        [[1795388400000, "84020.10", "84110.00", "83960.00", "84060.30", "0", 1795391999999, "0", 3600, "0", "0",
          "0"]]
    """
    def close(row: list) -> float | None:
        value = num(row[4])
        return value if value is not None and value > 0 else None

    return dict(ms_rows(listed(payload), skipped, 5, close))


def parse_funding_history(payload: Any, skipped: Skips, symbol: str | None = None) -> dict[int, float]:
    """`fundingRate` → settlement time in **milliseconds** (the paging cursor) → settled rate per interval.
    Rows of another symbol than `symbol` are ignored.

    Sample (ascending; Aster's rows have no markPrice)::

        [{"symbol": "BTCUSDT", "fundingTime": 1795363200000, "fundingRate": "0.00010000", "markPrice": "84012.30"}]
    """
    rows = [r for r in listed(payload) if not (isinstance(r, dict) and symbol and r.get("symbol") not in (None, symbol))]
    return dict(stamped_rows(rows, skipped, lambda row: integer(row.get("fundingTime")) if isinstance(row, dict) else None,
                             lambda row: num(row.get("fundingRate"))))


def parse_open_interest_history(payload: Any, skipped: Skips) -> dict[int, float]:
    """`openInterestHist` → time → open interest in USD (`sumOpenInterestValue`; `sumOpenInterest` is base units).

    Sample::

        [{"symbol": "BTCUSDT", "sumOpenInterest": "80123.456", "sumOpenInterestValue": "6730370304.00",
          "timestamp": 1795388400000}]
    """
    def usd(row: dict) -> float | None:
        value = num(row.get("sumOpenInterestValue"))
        return value if value is None or value >= 0 else None

    return dict(stamped_rows(listed(payload), skipped, lambda row: ms_at(row, "timestamp"), usd))


def parse_long_short_history(payload: Any, skipped: Skips) -> dict[int, float]:
    """`globalLongShortAccountRatio` → time → long accounts' share R / (1 + R), from `longShortRatio` R as live.

    Sample::

        [{"symbol": "BTCUSDT", "longShortRatio": "1.5000", "longAccount": "0.6000", "shortAccount": "0.4000",
          "timestamp": 1795388400000}]
    """
    return dict(stamped_rows(listed(payload), skipped, lambda row: ms_at(row, "timestamp"),
                             lambda row: long_share_of(num(row.get("longShortRatio")))))


# -- capture (docs/capture-venues.md) --------------------------------------------------------------
# https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
# - Combined streams on `/stream?streams=a/b/c` push {"stream": name, "data": event}: subscribed by the URL,
#   so a connection sends nothing (the limit of 10 incoming messages a second is never near).
# - At most 200 streams per connection; a connection lasts 24 h at most (then a reconnect, a recorded gap).
# - The server pings every 3 minutes; the websockets library answers.
# - aggTrade: `q` in the base asset (coins; 1000PEPE units), `m` true = the buyer is the maker, so the
#   taker sold (.../websocket-market-streams/Aggregate-Trade-Streams); `a` the aggregate trade id.
# - bookTicker: best bid `b`/`B`, ask `a`/`A`, `T` the transaction time (.../Individual-Symbol-Book-Ticker-Streams).
# - `<symbol>@depth<5|10|20>@100ms`: the best 5, 10 or 20 levels, whole, every 100 ms (.../Partial-Book-Depth-Streams).
STREAMS_PER_CONNECTION = 200
DEPTHS = (5, 10, 20)


def parse_agg_trade(d: dict, recv_ms: int, instrument: Instrument) -> Trade:
    """One `<symbol>@aggTrade` event as a trade.

    Sample::

        {"e": "aggTrade", "E": 123456789, "s": "BTCUSDT", "a": 5933014, "p": "0.001", "q": "100",
         "f": 100, "l": 105, "T": 123456785, "m": true}
    """
    m = instrument.multiplier
    return trade("binance", instrument.symbol, instrument.coin, d["T"], recv_ms, d["a"], SELL if d["m"] else BUY,
                 float(d["p"]) / m, float(d["q"]), instrument.coins_per_unit)


def parse_book_ticker(d: dict, recv_ms: int, instrument: Instrument) -> Bbo:
    """One `<symbol>@bookTicker` event.

    Sample::

        {"e": "bookTicker", "u": 400900217, "E": 1568014460893, "T": 1568014460891, "s": "BNBUSDT",
         "b": "25.35190000", "B": "31.21000000", "a": "25.36520000", "A": "40.66000000"}
    """
    m, q = instrument.multiplier, instrument.coins_per_unit
    return Bbo("binance", instrument.symbol, instrument.coin, int(d["T"]), recv_ms, float(d["b"]) / m,
               float(d["B"]) * q, float(d["a"]) / m, float(d["A"]) * q)


def parse_partial_depth(d: dict) -> tuple[int, list, list]:
    """(time, bids, asks) of one `<symbol>@depth20@100ms` event: the whole top of the book, best first.

    Sample::

        {"e": "depthUpdate", "E": 1571889248277, "T": 1571889248276, "s": "BTCUSDT", "U": 390497796,
         "u": 390497878, "pu": 390497794, "b": [["7403.89", "0.002"], ["7403.90", "3.906"]],
         "a": [["7405.96", "3.340"], ["7406.63", "4.525"]]}
    """
    return int(d["T"]), levels(d["b"]), levels(d["a"])


class BinanceCapture(VenueCapture):
    exchange = "binance"
    max_depth = max(DEPTHS)

    def __init__(self, instruments, channels, depth):
        super().__init__(instruments, channels, depth)
        suffix = {TRADES: "@aggTrade", BBO: "@bookTicker", BOOK: f"@depth{book_depth(DEPTHS, depth)}@100ms"}
        self.suffixes = [suffix[c] for c in self.channels]

    def sessions(self, ws_url: str) -> list[Session]:
        shares = split_stable(list(self.instruments), lambda _: len(self.suffixes), STREAMS_PER_CONNECTION)
        return [Session(ws_url + "/stream?streams=" + "/".join(s.lower() + x for s in share for x in self.suffixes),
                        (), self.topics(share)) for share in shares]

    def handle(self, message, recv_ms: int, conn: Connection, out: Receiver) -> None:
        try:
            d = message["data"]
        except KeyError:
            if "result" in message or "id" in message:
                return  # {"result": null, "id": 1}
            raise ValueError("expected {stream, data}") from None
        e = d["e"]
        if e == "aggTrade":
            out.trade(parse_agg_trade(d, recv_ms, self.instruments[d["s"]]))
        elif e == "bookTicker":
            out.bbo(parse_book_ticker(d, recv_ms, self.instruments[d["s"]]))
        elif e == "depthUpdate":
            conn.snapshot(self.instruments[d["s"]].symbol).replace(*parse_partial_depth(d))


class Binance(Exchange):
    id = "binance"
    kind = "CEX"
    liquidations_sampled = "at most one liquidation per symbol per second"

    # What the venue can do; a Binance-compatible subclass switches off what it lacks.
    quotes: tuple[str, ...] = ("USDT", "USDC")
    long_short_path: str | None = "/futures/data/globalLongShortAccountRatio"
    _open_interest_history_path: str | None = OPEN_INTEREST_HISTORY
    open_interest_limit = 128  # per-symbol requests in flight at most, whatever room the budget has
    history_workers = 8  # symbols downloading history at once (the pacers set the rate)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = WeightBudget()
        self.budget.venue = self.id  # AsterDEX logs its own name
        self.clock: Callable[[], float] = time.time  # Unix seconds: what is complete, what /futures/data keeps
        self.weight_pacer = Pacer(WEIGHT_PER_SECOND, WEIGHT_BURST)
        self.data_pacer = Pacer(DATA_PER_SECOND, DATA_BURST)

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
        self.budget.sending()
        return super().get(path, params, missing_ok=missing_ok)

    def on_response(self, response) -> None:
        self.budget.observe(response)

    def live_feed(self, ws_url: str, symbols: int | None = None) -> LiveFeed:
        """`!forceOrder@arr`: every symbol on one stream, no subscription; the server pings."""
        return LiveFeed(url=ws_url + "/ws/!forceOrder@arr", parse=lambda m, skipped: parse_force_order(m, skipped, self.id),
                        description="all symbols")

    def capture_listing(self) -> list[Listed]:
        """The included perpetuals of `exchangeInfo` (as `fetch`); sizes are in the base asset."""
        payload = self.get("/fapi/v1/exchangeInfo")
        included = self.parse("exchangeInfo", parse_exchange_info, payload, self.quotes, Skips())
        return [Listed(symbol, base) for symbol, (base, _) in included.items()]

    def capture(self, instruments, channels, depth) -> BinanceCapture:
        if self.id != "binance":
            raise self.error("no real-time capture")
        return BinanceCapture(instruments, channels, depth)

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        got = self.parallel({
            "instruments": lambda: self._instruments_and_open_interest(skipped),
            "ticker": lambda: self.get("/fapi/v1/ticker/24hr"),
            "premium": lambda: self.get("/fapi/v1/premiumIndex"),
            "intervals": lambda: self.optional("funding intervals", lambda: self.fetched(
                "fundingInfo", "/fapi/v1/fundingInfo", None, parse_funding_info)),
            "ratio": lambda: None if self.long_short_path is None else self.maybe(
                "long/short ratio", self.long_short_path, {"symbol": "BTCUSDT", "period": "1h", "limit": 1},
                parse_long_short_ratio),
        })
        instruments, open_interest = got["instruments"]
        tickers = self.parse("ticker/24hr", parse_rows, got["ticker"])
        premium = self.parse("premiumIndex", parse_rows, got["premium"])
        markets = build_markets(instruments, tickers, premium, got["intervals"], open_interest, skipped)
        return self.summarize(markets, long_short_ratio=got["ratio"], records_skipped=skipped.count)

    def _instruments_and_open_interest(self, skipped: Skips):
        """The included instruments, then at once their base-unit open interest (None: no such endpoint)."""
        payload = self.get("/fapi/v1/exchangeInfo")
        instruments = self.parse("exchangeInfo", parse_exchange_info, payload, self.quotes, skipped)
        if (per_minute := parse_weight_limit(payload)) is not None:
            self.budget.documented(per_minute)
        return instruments, OPEN_INTEREST_FAN_OUT.fetch(self, self.budget, list(instruments), self.open_interest_limit)

    # -- history (backfill) ------------------------------------------------------------------

    def history(self, start: int, end: int, progress: Progress | None = None) -> VenueHistory:
        """Hourly history of [start, end): per included market (today's `exchangeInfo`, as `fetch`) 1 h
        klines and, within the last 30 days, `openInterestHist`; for the BTC perpetual mark and index
        klines, settled funding and, within the last 30 days, the account long/short ratio."""
        d = self.history_download(progress)
        payload = d.get("/fapi/v1/exchangeInfo", unplanned=True)
        instruments = self.parse("exchangeInfo", parse_exchange_info, payload, self.quotes, d.skipped)
        if not instruments:
            raise self.error("no included markets in exchangeInfo")
        has_btc = any(base == "BTC" for base, _ in instruments.values())
        now = self.clock()  # /futures/data keeps the last 30 days
        oi_from = d.retained_from("open interest", DATA_DAYS, now, start, end, margin=DATA_MARGIN,
                                  offered=self._open_interest_history_path is not None)
        ratio_from = d.retained_from("long/short", DATA_DAYS, now, start, end, margin=DATA_MARGIN,
                                     offered=self.long_short_path is not None) if has_btc else None
        candle_pages = hour_pages(start, end, KLINES_PAGE)
        d.plan(len(instruments) * (candle_pages + hour_pages(oi_from, end, DATA_PAGE))
               + (2 * candle_pages + 2 + hour_pages(ratio_from, end, DATA_PAGE) if has_btc else 0))
        symbols = list(instruments)
        results = d.markets(lambda symbol: self._market_history(d, symbol, start, end, oi_from), symbols,
                            self.history_workers)
        builder, candles_of, failures = collect_markets(symbols, results, keep_volume=True)
        d.note(*kept_volume_notes(failures, candles_of, len(symbols)))
        btc = d.btc_market(btc_candidates(instruments), candles_of, failures)
        extras = self._btc_extras(d, btc, start, end, ratio_from) if btc else {}
        if btc is None:
            d.note("no BTC perpetual among the included markets")
        h = d.venue_history(start, end, builder, candles_of, btc, extras, len(symbols), (), trades=True,
                            open_interest=oi_from is not None and len(failures) < len(symbols))
        if d.skipped.count == 1:  # Binance's note says "records" for one record too (its tests hold the words)
            h = replace(h, notes=(*h.notes[:-1], "1 malformed history records skipped"))
        return h

    def history_download(self, progress: Progress | None = None) -> Download:
        return Download(self, progress, pace=self._pace)

    def market_history(self, d: Download, market: Market, start: int, end: int) -> MarketHistory:
        oi_from = d.retained_from("open interest", DATA_DAYS, self.clock(), start, end, margin=DATA_MARGIN,
                                  offered=self._open_interest_history_path is not None)
        return self._market_history(d, market.symbol, start, end, oi_from)

    def market_extras(self, d: Download, market: Market, start: int, end: int) -> dict[str, Any]:
        return self._price_calls(d, market.symbol, start, end, market.funding_interval_h)

    def _pace(self, path: str, params: dict) -> None:
        """Before each history request: wait while the weight budget is spent (or a 429 asks to hold),
        then pace /futures/data by its request count and the rest by request weight."""
        if not self.budget.wait(MAX_PAUSE):
            raise self.error(f"request weight budget spent (IP ban?): {path} not requested")
        if path.startswith(FUTURES_DATA):
            self.data_pacer.take()
        else:
            self.weight_pacer.take(kline_weight(params["limit"]) if path in PRICE_KLINES else 1)

    def _hourly(self, d: Download, path: str, parser: Callable, page: int, params: dict, start: int,
                end: int) -> list[tuple]:
        """(time, value) rows of `parser` over [start, end) in windows of `page` hours, each asked with its own
        startTime, endTime and limit, so that one request holds it whichever end the venue would cut.
        Klines keep complete candles only: the one opening at t closed by now."""
        pager = Windows(page + 1, lambda lo, hi: {**params, "startTime": lo, "endTime": hi - 1,
                                                  "limit": (hi - lo) // (HOUR * 1000)}, scale=1000)
        return d.hourly(path, parser, pager, start, end,
                        complete_until=self.clock() - (0 if path.startswith(FUTURES_DATA) else HOUR))

    def _market_history(self, d: Download, symbol: str, start: int, end: int, oi_from: int | None) -> MarketHistory:
        """One market's candles (open time, open, close, quote volume, trades) and open interest (none
        before `oi_from`, or its ExchangeError); its candles failing fails it."""
        candles = self._hourly(d, KLINES, parse_history_candles, KLINES_PAGE, {"symbol": symbol, "interval": "1h"},
                               start, end)
        return MarketHistory.read([(t, *candle) for t, candle in candles], None if oi_from is None else lambda: (
            self._hourly(d, self._open_interest_history_path, parse_open_interest_history, DATA_PAGE,
                         {"symbol": symbol, "period": "1h"}, oi_from, end)))

    def _btc_extras(self, d: Download, symbol: str, start: int, end: int, ratio_from: int | None) -> dict[str, Any]:
        """The BTC perpetual's mark, index, funding and long/short series; each None with a note if it fails."""
        calls = self._price_calls(d, symbol, start, end)
        if ratio_from is not None:
            calls["long_share"] = ("long/short history", lambda: dict(self._hourly(
                d, self.long_short_path, parse_long_short_history, DATA_PAGE, {"symbol": symbol, "period": "1h"},
                ratio_from, end)))
        return d.extras(calls)

    def _price_calls(self, d: Download, symbol: str, start: int, end: int,
                     interval_h: float | None = None) -> dict[str, Any]:
        """The symbol's mark and index closes and settled funding as `Download.extras` calls."""
        def closes(path: str, key: str) -> dict[int, float]:
            return dict(self._hourly(d, path, parse_price_candles, KLINES_PAGE, {key: symbol, "interval": "1h"},
                                     start, end))

        return {
            "mark": ("mark price history", lambda: closes(MARK_KLINES, "symbol")),
            "index": ("index price history", lambda: closes(INDEX_KLINES, "pair")),  # index klines take the pair
            "funding": ("funding history", lambda: self._funding_history(d, symbol, start, end, interval_h)),
        }

    def _funding_history(self, d: Download, symbol: str, start: int, end: int,
                         hours: float | None = None) -> dict[int, float]:
        """Settlement time → rate per 8 h over [start, end), at the symbol's interval (`hours`, else from
        `fundingInfo`, absent: 8 h) as live. `fundingRate` pages forward from `startTime`; its rows are keyed in ms."""
        if hours is None:
            intervals = self.parse("fundingInfo", parse_funding_info, d.get("/fapi/v1/fundingInfo"))
            hours = intervals.get(symbol, DEFAULT_FUNDING_HOURS)
        limit = FUNDING_PAGE
        pager = Forward(limit, lambda lo, hi: {"symbol": symbol, "startTime": lo, "endTime": hi, "limit": limit})
        rates = d.series("fundingRate", FUNDING_HISTORY, lambda payload, skipped: parse_funding_history(
            payload, skipped, symbol), pager, start * 1000, end * 1000 - 1)
        d.note(f"funding is each period's settled rate (live sees the predicted one), per 8 h at "
               f"today's interval of {hours:g} h")
        return {t // 1000: funding_8h(rate, hours) for t, rate in rates if start * 1000 <= t < end * 1000}

