"""Deribit — CEX. JSON-RPC over HTTP GET: two calls give every linear USDC perpetual.

Docs: https://docs.deribit.com/ (api-reference/market-data/public-get_instruments,
public-get_book_summary_by_currency). `GET /api/v2/public/<method>?...` answers
`{"jsonrpc": "2.0", "result": ..., "usIn", "usOut", "usDiff", "testnet"}` or
`{"jsonrpc": "2.0", "error": {"code", "message", "data"?}}` (in HTTP 400, or 200); `rpc` reads either,
and code 10028 (`too_many_requests`) is RateLimited, retried by the HTTP client.

Included (docs/design.md#deribit): `get_instruments?currency=USDC&kind=future` rows with
`settlement_period == "perpetual"`, `is_active` and settled in USDC (`BTC_USDC-PERPETUAL`,
`SOL_USDC-PERPETUAL`, ...). The inverse `BTC-PERPETUAL`/`ETH-PERPETUAL` (`instrument_type` "reversed",
settled in the coin) and dated futures are left out. Per market, from
`get_book_summary_by_currency?currency=USDC&kind=future`: `volume_usd` (USD), `open_interest` (coins for
linear contracts) × `mark_price`, `funding_8h` (already per 8 h: funding accrues continuously, so there is
no settlement time), `price_change` (percent), `last`, `mark_price`, `estimated_delivery_price` (the
index). No trade counts, no public long/short ratio.

Rate limit (docs: articles/rate-limits): credits; a non-matching-engine request costs 500 of 50,000,
refilled at 10,000 a second: 20 requests a second sustained, bursts of 100. These are the documented
per-sub-account defaults; what unauthenticated requests get per IP is not stated (UNVERIFIED). A
snapshot sends two requests; history is paced at 10 a second (half the default), one at a time.

History (`backfill`):
- `get_tradingview_chart_data?instrument_name&start_timestamp&end_timestamp&resolution=60` (ms): arrays
  `ticks` (candle open times, ms), `open`, `high`, `low`, `close`, `volume` (base coin) and `cost`
  (quote currency: USDC ≈ USD for these markets), `status` "ok" or "no_data". USD volume is `cost`;
  a candle without it falls back to `volume` × `close`, an approximation. The newest candle may still
  be open: candles are kept only once closed. How many candles one answer may hold is not documented
  (UNVERIFIED): windows of 720 hours, each asked with both bounds.
- `get_funding_rate_history?instrument_name&start_timestamp&end_timestamp` (ms): hourly rows
  `{timestamp, interest_1h, interest_8h, index_price, prev_index_price}`; `timestamp` ends the hour.
  The funding per 8 h at hour H is `interest_8h` (the same quantity as live's `funding_8h`); the
  index close of the hour opening at H − 1 h is that row's `index_price`. Windows of 720 hours (UNVERIFIED).
- No open-interest, mark-price or long/short history.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, NamedTuple

from perps_tracker.errors import ExchangeError, RateLimited
from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.capture import (
    Connection,
    Listed,
    Receiver,
    Session,
    VenueCapture,
    batches,
    book_depth,
    levels,
)
from perps_tracker.exchanges.history import (
    Download,
    MarketHistory,
    Windows,
    collect_markets,
    failed_note,
    pick_btc_symbol,
    settlement_hour,
)
from perps_tracker.exchanges.parsing import Skips, funding, join_markets, num, required
from perps_tracker.model.history import HOUR, Progress, VenueHistory
from perps_tracker.model.market import Market, VenueSnapshot
from perps_tracker.model.options import OptionQuote
from perps_tracker.model.ticks import BBO, BOOK, BUY, SELL, TRADES, Bbo, Trade, trade
from perps_tracker.model.ticks import Instrument as TickInstrument  # `Instrument` here is the listing's NamedTuple

API = "/api/v2/public/"
WS_PATH = "/ws/api/v2"  # appended to the configured `venues.deribit.ws_url` (docs/design.md#deribit)
INSTRUMENTS, SUMMARY = "get_instruments", "get_book_summary_by_currency"
CANDLES, FUNDING = "get_tradingview_chart_data", "get_funding_rate_history"
LINEAR = {"currency": "USDC", "kind": "future"}
QUOTES = ("USDC", "USDT")  # linear perpetuals the snapshot includes (docs/design.md#venues-and-units)
RATE_LIMIT_CODES = ("10028",)  # too_many_requests (docs: articles/errors, articles/rate-limits)


def result(payload: Any) -> Any:
    """The `result` of a JSON-RPC answer; ValueError when there is none (an error object is `check`'s)."""
    if not isinstance(payload, dict) or "result" not in payload:
        raise ValueError(f"expected a JSON-RPC object with a result, got {type(payload).__name__}")
    return payload["result"]


def rows_of(payload: Any) -> list:
    """The `result` list of a JSON-RPC answer."""
    rows = result(payload)
    if not isinstance(rows, list):
        raise ValueError(f"expected a result list, got {type(rows).__name__}")
    return rows


def base_of(name: str) -> str:
    """The base coin of an instrument name: `SOL_USDC-PERPETUAL` → SOL, `BTC-PERPETUAL` → BTC."""
    return name.split("-")[0].split("_")[0].upper()


def error_message(error: Any) -> str:
    """One line from a JSON-RPC error object: `Invalid params: currency must be one of ... (code -32602)`."""
    if not isinstance(error, dict):
        return f"error {str(error)[:100]}"
    text = str(error.get("message") or "error").strip()
    data = error.get("data")
    if isinstance(data, dict) and data.get("reason"):
        text += f": {' '.join(str(data[k]) for k in ('param', 'reason') if data.get(k))}"
    return f"{text} (code {error['code']})" if error.get("code") is not None else text


class Instrument(NamedTuple):
    base: str
    quote: str


def parse_instruments(payload: Any) -> dict[str, Instrument]:
    """Included instruments by name: active linear perpetuals settled in USDC.

    Sample::

        {"jsonrpc": "2.0", "result": [{"instrument_name": "SOL_USDC-PERPETUAL", "kind": "future",
          "settlement_period": "perpetual", "is_active": true, "instrument_type": "linear",
          "base_currency": "SOL", "quote_currency": "USDC", "settlement_currency": "USDC",
          "counter_currency": "USDC", "contract_size": 1, "expiration_timestamp": 32503708800000}],
         "usIn": 1795388400123456, "usOut": 1795388400125456, "usDiff": 2000, "testnet": false}
    """
    included = {}
    for row in rows_of(payload):
        if not isinstance(row, dict) or not row.get("instrument_name"):
            continue
        if (row.get("kind", "future") != "future" or row.get("settlement_period") != "perpetual"
                or row.get("is_active") is not True or row.get("instrument_type") == "reversed"):
            continue
        name = str(row["instrument_name"])
        quote = str(row.get("quote_currency") or "").upper()
        settled = str(row.get("settlement_currency") or quote).upper()
        if quote not in QUOTES or settled != "USDC":
            continue  # inverse contracts settle in the coin
        included[name] = Instrument(str(row.get("base_currency") or base_of(name)).upper(), quote)
    return included


def _market(row: dict, instrument: Instrument, skipped: Skips) -> Market:
    mark, oi = num(row.get("mark_price")), num(row.get("open_interest"))
    return Market(
        symbol=str(row["instrument_name"]), base=instrument.base, quote=instrument.quote,
        volume_24h_usd=required(row.get("volume_usd"), skipped),
        open_interest_usd=oi * mark if oi is not None and mark is not None else None,
        last_price=num(row.get("last")), mark_price=required(row.get("mark_price"), skipped),
        index_price=num(row.get("estimated_delivery_price")),
        **funding(num(row.get("funding_8h")), 8.0),  # already per 8 h; funding accrues continuously
        price_change_24h_pct=num(row.get("price_change")),  # percent
    )


def parse_book_summary(payload: Any, instruments: dict[str, Instrument], skipped: Skips) -> list[Market]:
    """Markets of the included instruments from their book summaries; other rows (inverse, dated) are
    ignored. An included instrument without a summary is skipped and counted; a missing `volume_usd` or
    `mark_price` is None and counted, the market kept.

    Sample::

        {"jsonrpc": "2.0", "result": [{"instrument_name": "BTC_USDC-PERPETUAL", "base_currency": "BTC",
          "quote_currency": "USDC", "volume": 1200.5, "volume_usd": 100842000.0, "open_interest": 850.25,
          "mark_price": 84010.0, "last": 84000.0, "price_change": -1.25, "estimated_delivery_price": 83990.5,
          "funding_8h": 0.0001, "current_funding": 0.00001, "high": 85000.0, "low": 83000.0,
          "bid_price": 83995.0, "ask_price": 84005.0, "mid_price": 84000.0, "creation_timestamp": 1795388400000}],
         "usIn": 1795388400123456, "usOut": 1795388400125456, "usDiff": 2000, "testnet": false}
    """
    summaries = {}
    for row in rows_of(payload):
        if isinstance(row, dict) and row.get("instrument_name"):
            summaries.setdefault(str(row["instrument_name"]), row)
    return join_markets(summaries, instruments, lambda row, instrument: _market(row, instrument, skipped), skipped)


# -- history (`backfill`) ----------------------------------------------------------------------------

WINDOW_HOURS = 720  # rows a candle or funding request asks for (UNVERIFIED: the docs state no maximum)
HISTORY_RATE = 10.0  # requests a second: half the documented 20 (500 credits each, 10,000 a second)


class Candle(NamedTuple):
    t: int  # open time, Unix seconds
    open: float
    close: float
    volume_usd: float  # `cost` (USDC); else base volume × close


def parse_candles(payload: Any, skipped: Skips) -> list[Candle]:
    """One-hour candles from `get_tradingview_chart_data` (index-aligned arrays); a candle without a
    time, open, close or any volume is skipped and counted; `status` "no_data" is no candles.

    Sample::

        {"jsonrpc": "2.0", "result": {"status": "ok", "ticks": [1795384800000], "open": [84010.5],
          "high": [84100.0], "low": [83900.1], "close": [84050.2], "volume": [15.25], "cost": [1281750.5]},
         "usIn": 1795388400123456, "usOut": 1795388400125456, "usDiff": 2000, "testnet": false}
    """
    data = result(payload)
    if not isinstance(data, dict):
        raise ValueError(f"expected a result object, got {type(data).__name__}")
    if data.get("status") == "no_data":
        return []
    ticks = data.get("ticks")
    if not isinstance(ticks, list):
        raise ValueError("expected a result with a ticks list")
    columns = {}
    for key in ("open", "close", "volume", "cost"):
        column = data.get(key)
        columns[key] = column if isinstance(column, list) and len(column) == len(ticks) else [None] * len(ticks)
    candles = []
    for i, tick in enumerate(ticks):
        t, o, c = num(tick), num(columns["open"][i]), num(columns["close"][i])
        cost, volume = num(columns["cost"][i]), num(columns["volume"][i])
        usd = cost if cost is not None else (volume * c if volume is not None and c is not None else None)
        if t is None or o is None or c is None or usd is None:
            skipped()
            continue
        candles.append(Candle(int(t) // 1000, o, c, usd))
    return candles


class FundingRow(NamedTuple):
    t: int  # the hour the row ends, Unix seconds
    interest_8h: float | None
    index_price: float | None


def parse_funding_history(payload: Any, skipped: Skips) -> list[FundingRow]:
    """Hourly rows of `get_funding_rate_history`, their time rounded to the whole hour; a row without a
    time, or without both `interest_8h` and `index_price`, is skipped and counted.

    Sample::

        {"jsonrpc": "2.0", "result": [{"timestamp": 1795388400000, "index_price": 84050.2,
          "prev_index_price": 84010.5, "interest_8h": 0.0001, "interest_1h": 0.0000125}],
         "usIn": 1795388400123456, "usOut": 1795388400125456, "usDiff": 2000, "testnet": false}
    """
    rows = []
    for row in rows_of(payload):
        t = num(row.get("timestamp")) if isinstance(row, dict) else None
        rate = num(row.get("interest_8h")) if t is not None else None
        index = num(row.get("index_price")) if t is not None else None
        if t is None or (rate is None and index is None):
            skipped()
            continue
        rows.append(FundingRow(settlement_hour(int(t)), rate, index))
    return rows


# -- the options market (docs/options.md) ----------------------------------------------------------

DVOL = "get_volatility_index_data"


class OptionTerms(NamedTuple):
    strike: float
    kind: str  # call or put
    expiry: int  # Unix seconds


def parse_option_instruments(payload: Any) -> dict[str, OptionTerms]:
    """Option names → their terms, from `get_instruments?kind=option` (active ones; a row without a strike,
    type or expiry is left out).

    Sample::

        {"jsonrpc": "2.0", "result": [{"instrument_name": "BTC-27DEC26-100000-C", "kind": "option",
          "option_type": "call", "strike": 100000.0, "expiration_timestamp": 1798358400000,
          "is_active": true, "base_currency": "BTC", "settlement_period": "month"}], ...}
    """
    terms = {}
    for row in rows_of(payload):
        if not isinstance(row, dict) or not row.get("instrument_name") or row.get("is_active") is False:
            continue
        strike, expiry, kind = num(row.get("strike")), num(row.get("expiration_timestamp")), row.get("option_type")
        if strike is None or strike <= 0 or expiry is None or kind not in ("call", "put"):
            continue
        terms[str(row["instrument_name"])] = OptionTerms(strike, kind, int(expiry) // 1000)
    return terms


def parse_option_summary(payload: Any, terms: dict[str, OptionTerms], skipped: Skips) -> list[OptionQuote]:
    """The chain: one OptionQuote per option of `terms` with a book summary (`get_book_summary_by_currency?
    kind=option`: `open_interest` and `volume` in coins, `mark_iv` in %, `underlying_price` the expiry's
    forward). A summary of an unknown option is ignored; a row without a name is skipped and counted;
    a missing figure stays None (that option is then left out of what needs it).

    Sample::

        {"jsonrpc": "2.0", "result": [{"instrument_name": "BTC-27DEC26-100000-C", "open_interest": 512.3,
          "volume": 40.1, "mark_iv": 52.4, "underlying_price": 85120.5, "underlying_index": "BTC-27DEC26",
          "mark_price": 0.0521, "bid_price": 0.051, "ask_price": 0.053}], ...}
    """
    quotes = []
    for row in rows_of(payload):
        name = row.get("instrument_name") if isinstance(row, dict) else None
        if not name:
            skipped()
            continue
        t = terms.get(str(name))
        if t is None:
            continue
        quotes.append(OptionQuote(str(name), t.strike, t.kind, t.expiry, num(row.get("open_interest")),
                                  num(row.get("volume")), num(row.get("mark_iv")), num(row.get("underlying_price"))))
    return quotes


def parse_dvol(payload: Any, skipped: Skips) -> dict[int, float]:
    """Candle open time (Unix seconds) → close of `get_volatility_index_data` (`data`: [[ms, open, high,
    low, close]]); a malformed candle is skipped and counted.

    Sample::

        {"jsonrpc": "2.0", "result": {"data": [[1795384800000, 54.1, 54.9, 53.8, 54.6]], "continuation": null}}
    """
    data = result(payload)
    rows = data.get("data") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ValueError("expected a result with a data list")
    got = {}
    for row in rows:
        t = num(row[0]) if isinstance(row, list) and len(row) >= 5 else None
        close = num(row[4]) if t is not None else None
        if t is None or close is None:
            skipped()
            continue
        got[int(t) // 1000] = close
    return got


def once(call: Callable[[], Any]) -> Callable[[], Any]:
    """`call` run at most once however many threads ask; later callers get its result (or its error)."""
    lock, got = threading.Lock(), []

    def run() -> Any:
        with lock:
            if not got:
                try:
                    got.append((True, call()))
                except Exception as e:  # noqa: BLE001 - kept and raised again to every caller
                    got.append((False, e))
        ok, value = got[0]
        if not ok:
            raise value
        return value

    return run


# -- capture (docs/capture-venues.md) --------------------------------------------------------------
# JSON-RPC over `/ws/api/v2` (https://docs.deribit.com/articles/notifications): `public/subscribe` with a list
# of channels; notifications are {"method": "subscription", "params": {"channel", "data"}}.
# - `trades.{instrument}.100ms`: `direction` the taker's side, `amount` in the base coin for linear
#   futures (USD only for the inverse BTC-PERPETUAL, never read here), `trade_id`
#   (https://docs.deribit.com/subscriptions/trades/tradesinstrument_nameinterval).
# - `quote.{instrument}`: best bid/ask price and amount (base coin).
# - `book.{instrument}.none.{1|10|20}.100ms`: the best 1, 10 or 20 levels, whole, every 100 ms, amounts
#   in the base coin for linear futures (https://docs.deribit.com/subscriptions/orderbook/bookinstrument_namegroupdepthinterval).
# - Heartbeat: `public/set_heartbeat` {interval: 30} once connected; the server then sends
#   {"method": "heartbeat", "params": {"type": "test_request"}}, to be answered with `public/test`, or closes.
CAPTURE_DEPTHS = (1, 10, 20)
CHANNELS_PER_REQUEST = 50  # channels in one public/subscribe (no documented limit; UNVERIFIED)
HEARTBEAT_S = 30


def parse_trade_notification(row: dict, recv_ms: int, instrument: TickInstrument) -> Trade:
    """One trade of a `trades.{instrument}.100ms` notification's `data`.

    Sample::

        {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": "trades.BTC_USDC-PERPETUAL.100ms",
         "data": [{"trade_seq": 30289432, "trade_id": "USDC-48079254", "timestamp": 1590484156350,
                   "tick_direction": 0, "price": 8950.0, "mark_price": 8948.9, "instrument_name":
                   "BTC_USDC-PERPETUAL", "index_price": 8955.88, "direction": "sell", "amount": 0.01}]}}
    """
    side = row["direction"]
    return trade("deribit", instrument.symbol, instrument.coin, row["timestamp"], recv_ms, row["trade_id"],
                 BUY if side == "buy" else SELL if side == "sell" else side,
                 float(row["price"]) / instrument.multiplier, float(row["amount"]), instrument.coins_per_unit)


def parse_quote(d: dict, recv_ms: int, instrument: TickInstrument) -> Bbo:
    """A `quote.{instrument}` notification's `data`.

    Sample::

        {"timestamp": 1550658624149, "instrument_name": "BTC_USDC-PERPETUAL", "best_bid_price": 3914.97,
         "best_bid_amount": 4.0, "best_ask_price": 3996.61, "best_ask_amount": 0.5}
    """
    m, q = instrument.multiplier, instrument.coins_per_unit
    bid, ask = d.get("best_bid_price"), d.get("best_ask_price")
    return Bbo("deribit", instrument.symbol, instrument.coin, int(d["timestamp"]), recv_ms,
               None if bid is None else float(bid) / m, None if bid is None else float(d["best_bid_amount"]) * q,
               None if ask is None else float(ask) / m, None if ask is None else float(d["best_ask_amount"]) * q)


class DeribitCapture(VenueCapture):
    exchange = "deribit"
    max_depth = max(CAPTURE_DEPTHS)

    def __init__(self, instruments, channels, depth):
        super().__init__(instruments, channels, depth)
        book = f"none.{book_depth(CAPTURE_DEPTHS, depth)}.100ms"
        self.patterns = [{TRADES: "trades.{}.100ms", BBO: "quote.{}", BOOK: "book.{}." + book}[c] for c in self.channels]
        self.ids = 1

    def sessions(self, ws_url: str) -> list[Session]:
        channels = [p.format(s) for s in self.instruments for p in self.patterns]
        frames = tuple(json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "public/subscribe",
                                   "params": {"channels": list(b)}})
                       for i, b in enumerate(batches(channels, CHANNELS_PER_REQUEST)))
        return [Session(ws_url + WS_PATH, frames, self.topics(self.instruments))]

    def opened(self, conn: Connection) -> list[str]:
        return [json.dumps({"jsonrpc": "2.0", "id": 0, "method": "public/set_heartbeat",
                            "params": {"interval": HEARTBEAT_S}})]

    def handle(self, message, recv_ms: int, conn: Connection, out: Receiver) -> None:
        method = message.get("method")
        if method == "subscription":
            params = message["params"]
            kind, _, rest = params["channel"].partition(".")
            data = params["data"]
            if kind == "trades":
                instrument = self.instruments[rest.rpartition(".")[0]]
                for row in data:
                    try:
                        out.trade(parse_trade_notification(row, recv_ms, instrument))
                    except (ValueError, KeyError, TypeError):
                        out.skipped()
            elif kind == "quote":
                out.bbo(parse_quote(data, recv_ms, self.instruments[rest]))
            elif kind == "book":
                symbol = self.instruments[data["instrument_name"]].symbol
                conn.snapshot(symbol).replace(int(data["timestamp"]), levels(data["bids"]), levels(data["asks"]))
        elif method == "heartbeat":
            if message.get("params", {}).get("type") == "test_request":
                self.ids += 1
                out.send(json.dumps({"jsonrpc": "2.0", "id": 10_000 + self.ids, "method": "public/test", "params": {}}))
        elif "error" in message:
            raise ExchangeError("deribit", f"refused: {error_message(message['error'])}")
        elif "result" not in message:
            raise ValueError("expected a notification or an answer")


class Deribit(Exchange):
    id = "deribit"
    kind = "CEX"
    rate_limit_codes = RATE_LIMIT_CODES
    history_rate: float | None = HISTORY_RATE  # requests a second in `history` (None or 0: unpaced)
    history_workers = 4
    funding_history_settled = False  # funding accrues continuously: its history is interest_8h every hour

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.clock: Callable[[], float] = time.time  # Unix seconds: which candles are closed

    def check(self, payload: Any) -> None:
        """A JSON-RPC error object (HTTP 200 or 400) is an ExchangeError naming its message, reason and
        code; `too_many_requests` (10028) is RateLimited."""
        error = payload.get("error") if isinstance(payload, dict) else None
        if error is None:
            return
        message = error_message(error)
        if isinstance(error, dict) and str(error.get("code")) in self.rate_limit_codes:
            raise RateLimited(self.id, f"rate limited: {message}")
        raise self.error(message)

    def rpc(self, method: str, params: dict | None = None) -> Any:
        """The `result` of the public method `method` (GET /api/v2/public/<method>), errors translated.
        Other readers (`kind=option` book summaries) call it too."""
        return self.parse(method, result, self.get(API + method, params))

    def capture_listing(self) -> list[Listed]:
        """The linear USDC perpetuals (`parse_instruments`): amounts are in the base coin."""
        instruments = self.parse(INSTRUMENTS, parse_instruments, self.get(API + INSTRUMENTS, LINEAR))
        return [Listed(name, instrument.base) for name, instrument in instruments.items()]

    def capture(self, instruments, channels, depth) -> DeribitCapture:
        return DeribitCapture(instruments, channels, depth)

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        got = self.parallel({
            "instruments": lambda: self.get(API + INSTRUMENTS, LINEAR),
            "summary": lambda: self.get(API + SUMMARY, LINEAR),
        })
        instruments = self.parse(INSTRUMENTS, parse_instruments, got["instruments"])
        markets = self.parse(SUMMARY, parse_book_summary, got["summary"], instruments, skipped)
        return self.summarize(markets, records_skipped=skipped.count)

    # -- the options market --------------------------------------------------------------------------

    def options_chain(self, currency: str, now: int) -> tuple[list[OptionQuote], float | None]:
        """`currency`'s option chain and DVOL at `now` (Unix seconds): the instruments, their book summaries
        and the newest DVOL close of the last two hours, read at once. A failed DVOL read is None (noted);
        a failed chain read raises."""
        option = {"currency": currency, "kind": "option"}
        got = self.parallel({
            "instruments": lambda: self.get(API + INSTRUMENTS, option),
            "summary": lambda: self.get(API + SUMMARY, option),
            "dvol": lambda: self.optional("DVOL", lambda: self.get(API + DVOL, {
                "currency": currency, "start_timestamp": (now - 2 * HOUR) * 1000, "end_timestamp": now * 1000,
                "resolution": "3600"})),
        })
        terms = self.parse(INSTRUMENTS, parse_option_instruments, got["instruments"])
        quotes = self.parse(SUMMARY, parse_option_summary, got["summary"], terms, Skips())
        dvol = self.parse(DVOL, parse_dvol, got["dvol"], Skips()) if got["dvol"] is not None else {}
        return quotes, dvol[max(dvol)] if dvol else None

    def dvol_history(self, currency: str, start: int, end: int) -> dict[int, float]:
        """Hour H → DVOL at H (the close of the hourly candle that opened at H − 1 h) for H in (start, end]."""
        def query(lo: int, hi: int) -> dict:
            return {"currency": currency, "start_timestamp": lo, "end_timestamp": hi, "resolution": "3600"}

        d = self.history_download()
        rows = d.series(DVOL, API + DVOL, lambda payload, skipped: sorted(parse_dvol(payload, skipped).items()),
                        Windows(WINDOW_HOURS, query, scale=1000), (start - HOUR) * 1000, end * 1000, planned=None)
        return {t + HOUR: close for t, close in rows if start <= t + HOUR <= end}

    # -- history ------------------------------------------------------------------------------------

    def history(self, start: int, end: int, progress: Progress | None = None) -> VenueHistory:
        """Hourly history of [start, end): every included perpetual's 1 h candles; for the BTC one also
        its funding per 8 h and index closes (see the module doc)."""
        d = self.history_download(progress)
        instruments = self.parse(INSTRUMENTS, parse_instruments, d.get(API + INSTRUMENTS, LINEAR, unplanned=True))
        if not instruments:
            raise self.error("no included markets in the response")
        symbols = sorted(instruments)
        pages = len(windows(start, end))
        btc_guess = pick_btc_symbol(instruments, {}, {})
        d.plan(len(symbols) * pages + (pages if btc_guess else 0))
        results = d.markets(lambda s: self._market_history(d, s, start, end), symbols, self.history_workers,
                            first=btc_guess)
        builder, candles_of, failures = collect_markets(symbols, results)
        volumes = {s: sum(c.volume_usd for c in candles) for s, candles in candles_of.items()}
        btc = pick_btc_symbol(instruments, volumes, failures)
        notes = list(HISTORY_NOTES)
        series = d.extras(self._funding_calls(d, btc, start, end, "BTC ")) if btc else {}
        if btc is None:
            notes.append("no BTC perpetual: no BTC price or funding history")
        return d.venue_history(start, end, builder, candles_of, btc, series, len(symbols),
                               notes + failed_note(failures, len(symbols)), open_interest=False)

    def history_download(self, progress: Progress | None = None) -> Download:
        return Download(self, progress, rate=self.history_rate)

    def market_history(self, d: Download, market: Market, start: int, end: int) -> MarketHistory:
        return self._market_history(d, market.symbol, start, end)

    def market_extras(self, d: Download, market: Market, start: int, end: int) -> dict:
        return self._funding_calls(d, market.symbol, start, end, "")

    def _market_history(self, d: Download, symbol: str, start: int, end: int) -> MarketHistory:
        """One perpetual's closed 1 h candles opening in [start, end) (no open-interest history exists)."""
        def query(lo: int, hi: int) -> dict:
            return {"instrument_name": symbol, "start_timestamp": lo, "end_timestamp": hi, "resolution": "60"}

        candles = d.hourly(API + CANDLES, parse_candles, Windows(WINDOW_HOURS, query, scale=1000), start, end,
                           what=CANDLES, complete_until=self.clock() - HOUR)
        return MarketHistory(candles, [])

    def _funding_calls(self, d: Download, symbol: str, start: int, end: int, label: str) -> dict:
        """The perpetual's funding per 8 h (hour → `interest_8h`) and index closes (open time → the
        `index_price` ending that hour) as `Download.extras` calls, read from one download."""
        def query(lo: int, hi: int) -> dict:
            return {"instrument_name": symbol, "start_timestamp": lo, "end_timestamp": hi}

        # rows ending the hours start + 1 h .. end: the index closes of [start, end); funding of hours in [start, end)
        rows = once(lambda: d.series(FUNDING, API + FUNDING, parse_funding_history,
                                     Windows(WINDOW_HOURS, query, scale=1000), start * 1000, (end + HOUR) * 1000,
                                     planned=None))
        return {
            "funding": (f"{label}funding history", lambda: {
                r.t: r.interest_8h for r in rows() if start <= r.t < end and r.interest_8h is not None} or None),
            "index": (f"{label}index price history", lambda: {
                r.t - HOUR: r.index_price for r in rows() if start <= r.t - HOUR < end and r.index_price is not None}
                or None),
        }


def windows(start: int, end: int) -> list[tuple[int, int]]:
    """The request windows of a series over [start, end) (for the plan)."""
    return Windows(WINDOW_HOURS, lambda lo, hi: {}).windows(start, end)


HISTORY_NOTES = (
    ("volume is each candle's cost (quote volume, USDC ≈ USD); a candle without one counts base volume × "
     "close, an approximation"),
    "no open-interest history: open interest is not rebuilt",
    "BTC price is the last trade (1 h candle close); live uses the last trade too",
    "funding per 8 h is the venue's interest_8h at each hour, as live's funding_8h",
    "no mark-price history",
    "no long/short ratio",
)
