"""Binance USDⓈ-M futures — CEX. Instruments, 24 h tickers, premium index (mark, index, funding),
funding intervals, per-symbol open interest and the BTC account long/short ratio.

Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api
Quirks:
- Only `contractType == "PERPETUAL"` with `status == "TRADING"` is a live perpetual; TRADIFI_PERPETUAL,
  "PERPETUAL DELIVERING", "" (pending) and the quarterlies are not.
- `fundingInfo` lists only the symbols with adjusted funding settings; all others pay every 8 h.
- Open interest is one request per symbol (weight 1, base units: × mark price). The budget is
  2400 weight per minute per IP, the minute's use is in `X-MBX-USED-WEIGHT-1M`; past it come 429,
  then 418 (an IP ban). The fan-out starts as soon as `exchangeInfo` answers, ~50 at a time.
- Errors come with HTTP 4xx and `{"code": -1121, "msg": "Invalid symbol."}`, never inside a 200.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Mapping

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.base import Exchange, LiveFeed
from perps_tracker.exchanges.parsing import Skips, funding_8h, integer, newest, num
from perps_tracker.liquidation import LONG, SHORT, LiquidationEvent, make_event
from perps_tracker.market import Market, VenueSnapshot

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
WEIGHT_PAUSE_AT = 2000  # of 2400 a minute: room for the requests already in flight
PAUSE_MARGIN = 1.0  # seconds past the minute boundary, for clock skew against the venue
MAX_PAUSE = 65.0  # a longer hold (an IP ban's Retry-After) skips the remaining requests instead
DEFAULT_FUNDING_HOURS = 8.0
OPEN_INTEREST = "/fapi/v1/openInterest"

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
    if not isinstance(payload, list):
        raise ValueError(f"expected a list, got {type(payload).__name__}")
    return {row["symbol"]: row for row in payload if isinstance(row, dict) and isinstance(row.get("symbol"), str)}


def parse_funding_info(payload: Any) -> dict[str, float]:
    """Funding interval in hours per symbol from `fundingInfo` (absent symbols: 8 h).

    Sample (Binance; AsterDEX has `fundingFeeCap`/`fundingFeeFloor`/`interestRate`/`time` instead)::

        [{"symbol": "1000PEPEUSDT", "adjustedFundingRateCap": "0.02", "adjustedFundingRateFloor": "-0.02",
          "fundingIntervalHours": 4, "disclaimer": false}]
    """
    if not isinstance(payload, list):
        raise ValueError(f"expected a list, got {type(payload).__name__}")
    intervals = {}
    for row in payload:
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
    if not isinstance(payload, list):
        raise ValueError(f"expected a list, got {type(payload).__name__}")
    row = newest((r for r in payload if isinstance(r, dict)), lambda r: r.get("timestamp"))
    return None if row is None else num(row.get("longShortRatio"))


def build_markets(instruments: Instruments, tickers: Mapping[str, dict], premium: Mapping[str, dict],
                  intervals: Mapping[str, float] | None, open_interest: Mapping[str, float] | None,
                  skipped: Skips) -> list[Market]:
    """One Market per included instrument, from the other endpoints' rows keyed by symbol.

    Rows of symbols that are not included are ignored. An instrument without a usable
    `quoteVolume` is skipped and counted. `intervals` None: intervals unknown, so funding is
    left out. `open_interest` None: the venue gives none; a symbol missing from it (its request
    failed) or without a mark price keeps the market, without OI, and is counted.
    """
    markets = []
    for symbol, (base, quote) in instruments.items():
        ticker, prem = tickers.get(symbol), premium.get(symbol, {})
        volume = num(ticker.get("quoteVolume")) if ticker else None
        if volume is None:
            skipped()
            continue
        mark = num(prem.get("markPrice"))
        hours = None if intervals is None else intervals.get(symbol, DEFAULT_FUNDING_HOURS)
        markets.append(Market(
            symbol=symbol,
            base=base,
            quote=quote,
            volume_24h_usd=volume,
            open_interest_usd=_open_interest_usd(open_interest, symbol, mark, skipped),
            last_price=num(ticker.get("lastPrice")),
            mark_price=mark,
            index_price=num(prem.get("indexPrice")),
            funding_rate_8h=funding_8h(num(prem.get("lastFundingRate")), hours),
            price_change_24h_pct=num(ticker.get("priceChangePercent")),
            num_trades_24h=integer(ticker.get("count")),
        ))
    return markets


def _open_interest_usd(open_interest: Mapping[str, float] | None, symbol: str, mark: float | None,
                       skipped: Skips) -> float | None:
    if open_interest is None:
        return None
    amount = open_interest.get(symbol)
    if amount is None or mark is None:
        skipped()
        return None
    return amount * mark


class WeightBudget:
    """Holds back new requests while the venue's per-minute request weight is nearly spent.

    Binance counts weight per IP per clock minute and reports the minute's total in
    `X-MBX-USED-WEIGHT-1M`. Past `limit`, `wait()` sleeps until the next minute begins; a 429 or
    418 holds requests for its `Retry-After`. `clock` (Unix seconds) and `sleep` are injectable.
    """

    def __init__(self, limit: int = WEIGHT_PAUSE_AT, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep):
        self.limit, self.clock, self.sleep = limit, clock, sleep
        self._lock = threading.Lock()  # guards the readings
        self._gate = threading.Lock()  # one waiting thread sleeps, the others queue behind it
        self._sent = threading.local()
        self._minute: int | None = None
        self._used = 0
        self._hold_until = 0.0

    def sending(self) -> None:
        """Note that this thread sends a request now: its reading counts in this minute."""
        self._sent.at = self.clock()

    def observe(self, response) -> None:
        """Take the used weight (and a 429/418's Retry-After) from a response."""
        now = self.clock()
        sent = getattr(self._sent, "at", None)
        used = integer(response.headers.get(WEIGHT_HEADER))
        with self._lock:
            if used is not None:
                minute = int((now if sent is None else sent) // 60)
                if self._minute is None or minute > self._minute:
                    self._minute, self._used = minute, used
                elif minute == self._minute:  # an older minute's reading is stale
                    self._used = max(self._used, used)
            if response.status_code in (418, 429):
                after = num(response.headers.get("Retry-After"))
                until = now + after if after is not None else _next_minute(now)
                self._hold_until = max(self._hold_until, until)

    def pause(self) -> float:
        """Seconds to wait before the next request fits the budget (0: go)."""
        now = self.clock()
        with self._lock:
            wait = self._hold_until - now
            if self._minute == int(now // 60) and self._used > self.limit:
                wait = max(wait, _next_minute(now) - now)
        return max(wait, 0.0)

    def wait(self, longest: float) -> bool:
        """Sleep until a request fits; False, without sleeping, if that takes over `longest` seconds."""
        with self._gate:
            while (pause := self.pause()) > 0:
                if pause > longest:
                    return False
                self.sleep(pause)
                longest -= pause
            return True


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


def _next_minute(now: float) -> float:
    return (now // 60 + 1) * 60 + PAUSE_MARGIN


class Binance(Exchange):
    id = "binance"
    kind = "CEX"
    name = "Binance USDⓈ-M futures"
    base_url = "https://fapi.binance.com"
    ws_url = "wss://fstream.binance.com"
    liquidation_sources = ("ws",)
    liquidations_sampled = "at most one liquidation per symbol per second"

    # What the venue can do; a Binance-compatible subclass switches off what it lacks.
    quotes: tuple[str, ...] = ("USDT", "USDC")
    long_short_path: str | None = "/futures/data/globalLongShortAccountRatio"
    open_interest_limit = 50  # per-symbol requests in flight at once

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = WeightBudget()
        self._no_open_interest = False

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
        self.budget.sending()
        return super().get(path, params, missing_ok=missing_ok)

    def on_response(self, response) -> None:
        self.budget.observe(response)

    def live_feed(self, ws_url: str, symbols: int) -> LiveFeed:
        """`!forceOrder@arr`: every symbol on one stream, no subscription; the server pings."""
        return LiveFeed(url=ws_url + "/ws/!forceOrder@arr", parse=lambda m, skipped: parse_force_order(m, skipped, self.id),
                        description="all symbols")

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        self._no_open_interest = False
        got = self.parallel({
            "instruments": lambda: self._instruments_and_open_interest(skipped),
            "ticker": lambda: self.get("/fapi/v1/ticker/24hr"),
            "premium": lambda: self.get("/fapi/v1/premiumIndex"),
            "intervals": lambda: self.optional("funding intervals", self._funding_intervals),
            "ratio": lambda: self.optional("long/short ratio", self._long_short_ratio),
        })
        instruments, open_interest = got["instruments"]
        tickers = self.parse("ticker/24hr", parse_rows, got["ticker"])
        premium = self.parse("premiumIndex", parse_rows, got["premium"])
        markets = build_markets(instruments, tickers, premium, got["intervals"], open_interest, skipped)
        return self.summarize(markets, long_short_ratio=got["ratio"], records_skipped=skipped.count)

    def _instruments_and_open_interest(self, skipped: Skips):
        payload = self.get("/fapi/v1/exchangeInfo")
        instruments = self.parse("exchangeInfo", parse_exchange_info, payload, self.quotes, skipped)
        return instruments, self._open_interest(list(instruments))

    def _open_interest(self, symbols: list[str]) -> dict[str, float] | None:
        """Base-unit open interest per symbol; None when the venue has no open-interest endpoint."""
        results = self.fan_out(self._open_interest_of, symbols, limit=self.open_interest_limit)
        if self._no_open_interest:
            self.notes.append(f"open interest unavailable: {OPEN_INTEREST} answered 404")
            return None
        failed = [r for r in results if isinstance(r, ExchangeError)]
        if failed:
            self.notes.append(f"open interest missing for {len(failed)} of {len(symbols)} symbols: {failed[0].reason}")
        return {s: r for s, r in zip(symbols, results) if isinstance(r, float)}

    def _open_interest_of(self, symbol: str) -> float | None:
        if self._no_open_interest:
            return None
        left = self.deadline.remaining() if self.deadline else None
        if not self.budget.wait(MAX_PAUSE if left is None else min(MAX_PAUSE, left)):
            raise self.error("request weight budget spent: open interest not requested")
        payload = self.get(OPEN_INTEREST, {"symbol": symbol}, missing_ok=True)
        if payload is None:
            self._no_open_interest = True  # later symbols are not requested
            return None
        return self.parse("openInterest", parse_open_interest, payload)

    def _funding_intervals(self) -> dict[str, float]:
        return self.parse("fundingInfo", parse_funding_info, self.get("/fapi/v1/fundingInfo"))

    def _long_short_ratio(self) -> float | None:
        if self.long_short_path is None:
            return None
        params = {"symbol": "BTCUSDT", "period": "1h", "limit": 1}
        payload = self.get(self.long_short_path, params, missing_ok=True)
        return self.parse("long/short ratio", parse_long_short_ratio, payload)
