"""Bybit v5 linear — CEX. Instruments (paged), one tickers call, the BTC account ratio; for
`backfill`, per-symbol klines and open-interest history plus the BTC perpetual's series.

Docs: https://bybit-exchange.github.io/docs/v5/market/instrument
Quirks: errors come inside HTTP 200 bodies (`retCode` ≠ 0); instruments-info is paged by
`nextPageCursor` (over 500 linear symbols); tickers mix USDT perps, USDC perps and dated
futures; `openInterestValue` counts both sides, `singleOpenInterestValue` one side;
`price24hPcnt` is a fraction; funding intervals differ per symbol (1, 2, 4 or 8 h).
"""

from __future__ import annotations

import json
from typing import Any

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.base import Exchange, LiveFeed
from perps_tracker.exchanges.capture import (
    Book,
    Connection,
    Listed,
    Receiver,
    Session,
    VenueCapture,
    batches,
    split_stable,
)
from perps_tracker.exchanges.history import (
    Back,
    Cursor,
    Download,
    MarketHistory,
    collect_markets,
    covers_from,
    failed_note,
    open_interest_usd,
    pages,
    utc,
)
from perps_tracker.exchanges.parsing import (
    Skips,
    field,
    funding,
    integer,
    join_markets,
    listed,
    ms_at,
    ms_rows,
    newest,
    num,
    required,
    stamped_rows,
)
from perps_tracker.exchanges.streams import connection_frames
from perps_tracker.model.history import (
    HOUR,
    Progress,
    VenueHistory,
)
from perps_tracker.model.liquidation import LONG, SHORT, LiquidationEvent, make_event
from perps_tracker.model.market import Market, VenueSnapshot, btc_candidates, top_by_volume
from perps_tracker.model.ticks import BBO, BOOK, BUY, SELL, TRADES, Bbo, Instrument, Trade, trade

SETTLE_COINS = ("USDT", "USDC")
# Websocket limits, https://bybit-exchange.github.io/docs/v5/ws/connect ("Public channel - Args limits",
# "IP Limits"): one public connection's "args" may not exceed 21,000 characters; Spot takes at most 10
# args a subscribe request, and nothing is documented for linear per request (UNVERIFIED: we keep
# Spot's 10); at most 500 new connections per 5 minutes per domain (a few connections with backoff).
SUBSCRIBE_BATCH = 10  # topics per subscribe request
ARGS_CHARS_PER_CONNECTION = 10_000  # under half the documented 21,000: the docs do not say how they count
LIQUIDATION_SIDES = {"Buy": LONG, "Sell": SHORT}  # S=Buy: a long was liquidated (opposite of Binance)


def result_list(payload: Any) -> list:
    """`result.list` of a v5 response (`parsing.listed`)."""
    return listed(payload, "result", "list")


def parse_instruments(payload: Any) -> dict[str, dict]:
    """Included instruments of one instruments-info page, by symbol: active USDT/USDC linear perpetuals.

    Sample::

        {"retCode": 0, "result": {"category": "linear", "nextPageCursor": "first%3DBTCUSDT%26last%3DETHUSDT",
         "list": [{"symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading",
                   "baseCoin": "BTC", "quoteCoin": "USDT", "settleCoin": "USDT", "fundingInterval": 480}]}}
    """
    return included_instruments(result_list(payload))


def included_instruments(rows: list) -> dict[str, dict]:
    """The active USDT/USDC linear perpetuals among instruments-info rows, by symbol."""
    return {
        row["symbol"]: row for row in rows
        if isinstance(row, dict) and row.get("symbol")
        and row.get("contractType") == "LinearPerpetual" and row.get("status") == "Trading"
        and row.get("settleCoin") in SETTLE_COINS
    }


def next_cursor(payload: Any) -> str | None:
    """The cursor of the next page of a cursor-paged endpoint, None on the last page."""
    return payload["result"].get("nextPageCursor") or None


def instruments_page(payload: Any) -> tuple[list, str | None]:
    """The rows and the next cursor of one instruments-info page (sample: `parse_instruments`)."""
    return result_list(payload), next_cursor(payload)


def interval_hours(ticker: dict, instrument: dict) -> float | None:
    """The symbol's funding interval: the ticker's `fundingIntervalHour`, else instruments' minutes / 60."""
    hours = num(ticker.get("fundingIntervalHour"))
    if hours is not None:
        return hours
    minutes = num(instrument.get("fundingInterval"))
    return minutes / 60.0 if minutes is not None else None


def parse_ticker(ticker: dict, instrument: dict, skipped: Skips) -> Market:
    """One included market from its ticker; a missing 24h turnover or last price is None and counted.
    Funding: `fundingRate` as paid every `interval_hours`, next at `nextFundingTime` (ms); the base
    is the instrument's `baseCoin` as listed (`1000PEPE`, `SHIB1000`)."""
    change = num(ticker.get("price24hPcnt"))
    return Market(
        symbol=instrument["symbol"],
        base=str(instrument.get("baseCoin") or "").upper(),
        quote=instrument["settleCoin"],
        volume_24h_usd=required(ticker.get("turnover24h"), skipped),
        open_interest_usd=num(field(ticker, "singleOpenInterestValue", "openInterestValue")),
        last_price=required(ticker.get("lastPrice"), skipped),
        mark_price=num(ticker.get("markPrice")),
        index_price=num(ticker.get("indexPrice")),
        **funding(num(ticker.get("fundingRate")), interval_hours(ticker, instrument), ticker.get("nextFundingTime")),
        price_change_24h_pct=change * 100.0 if change is not None else None,
    )


def parse_tickers(payload: Any, instruments: dict[str, dict], skipped: Skips) -> list[Market]:
    """Markets of the included instruments from `/v5/market/tickers`; other symbols are ignored.

    An included instrument without a ticker is skipped and counted; one whose ticker lacks
    `turnover24h` or `lastPrice` keeps its market, without that value, and the value is counted.

    Sample::

        {"retCode": 0, "result": {"category": "linear", "list": [{"symbol": "BTCUSDT",
         "lastPrice": "84000.5", "indexPrice": "83990", "markPrice": "84001", "price24hPcnt": "-0.0125",
         "openInterestValue": "9000000000", "singleOpenInterestValue": "4500000000",
         "turnover24h": "12000000000.5", "fundingRate": "0.0001", "fundingIntervalHour": "8"}]}}
    """
    tickers = {}
    for row in result_list(payload):
        if isinstance(row, dict) and row.get("symbol"):
            tickers.setdefault(row["symbol"], row)
    return join_markets(tickers, instruments, lambda ticker, instrument: parse_ticker(ticker, instrument, skipped),
                        skipped)


def parse_account_ratio(payload: Any) -> float | None:
    """BTC long share (buyRatio / (buyRatio + sellRatio)) of the newest row of `/v5/market/account-ratio`.

    Sample::

        {"retCode": 0, "result": {"list": [{"symbol": "BTCUSDT", "buyRatio": "0.5426",
         "sellRatio": "0.4574", "timestamp": "1732089600000"}]}}
    """
    row = newest((r for r in result_list(payload) if isinstance(r, dict)), lambda r: r.get("timestamp"))
    return account_share(row) if row is not None else None


def account_share(row: dict) -> float | None:
    """Long accounts' share of one account-ratio row: buyRatio / (buyRatio + sellRatio)
    (buyRatio alone when sellRatio is missing); None without a buyRatio."""
    buy, sell = num(row.get("buyRatio")), num(row.get("sellRatio"))
    if buy is None:
        return None
    if sell is None or buy + sell <= 0:
        return buy
    return buy / (buy + sell)


def parse_all_liquidation(message: Any, skipped: Skips) -> list[LiquidationEvent]:
    """Events of one `allLiquidation.{symbol}` push; [] for pongs and subscription acknowledgements.

    A refused subscription (`"success": false`) raises ExchangeError with Bybit's message.

    Sample::

        {"topic": "allLiquidation.ROSEUSDT", "type": "snapshot", "ts": 1739502303204,
         "data": [{"T": 1739502302929, "s": "ROSEUSDT", "S": "Sell", "v": "20000", "p": "0.04499"}]}
    """
    if not isinstance(message, dict):
        raise ValueError(f"expected an object, got {type(message).__name__}")
    if "op" in message:  # {"success": true, "ret_msg": "pong", "op": "ping"}, subscribe answers
        if message.get("success") is False:
            raise ExchangeError("bybit", f"{message.get('op')} refused: {message.get('ret_msg') or 'no reason given'}")
        return []
    if not str(message.get("topic", "")).startswith("allLiquidation."):
        return []
    rows = message["data"]
    if not isinstance(rows, list):
        raise ValueError("expected data: [...]")
    events = []
    for row in rows:
        side = LIQUIDATION_SIDES.get(row.get("S")) if isinstance(row, dict) else None
        try:
            if side is None:
                raise ValueError("unknown side")
            events.append(make_event("bybit", str(row.get("s") or ""), side, num(row.get("p")), num(row.get("v")),
                                     integer(row.get("T")), "ws"))
        except ValueError:
            skipped()
    return events


# -- history (backfill) ---------------------------------------------------------------------------
# Docs: https://bybit-exchange.github.io/docs/v5/market/kline (also mark-kline, index-kline),
# .../open-interest, .../long-short-ratio, .../history-fund-rate, .../rate-limit.

KLINE_LIMIT = 1000  # kline, mark-price-kline, index-price-kline: limit [1, 1000]
OI_LIMIT = 200  # open-interest: limit [1, 200], cursor paging
RATIO_LIMIT = 500  # account-ratio: limit [1, 500], cursor paging
FUNDING_LIMIT = 200  # funding/history: limit [1, 200]; startTime alone is an error, so page back by endTime
KLINE = "/v5/market/kline"
MARK_KLINE = "/v5/market/mark-price-kline"
INDEX_KLINE = "/v5/market/index-price-kline"
OPEN_INTEREST = "/v5/market/open-interest"
FUNDING_HISTORY = "/v5/market/funding/history"
ACCOUNT_RATIO = "/v5/market/account-ratio"
BTC_RATIO_SYMBOL = "BTCUSDT"  # the account ratio live reads


def parse_history_candles(payload: Any, skipped: Skips) -> list[tuple[int, float, float, float]]:
    """(open time s, open, close, turnover in USD) of each `/v5/market/kline` row; rows come newest
    first, each `[startTime ms, open, high, low, close, volume (base), turnover (quote)]`. A malformed
    row is skipped and counted.

    Sample::

        {"retCode": 0, "result": {"category": "linear", "symbol": "BTCUSDT", "list": [
         ["1795388400000", "84010.5", "84100", "83950", "84050.1", "120.5", "10128362.2"],
         ["1795384800000", "84000", "84020", "83900", "84010.5", "98.25", "8252010.75"]]}}
    """
    return ms_rows(result_list(payload), skipped, 7, lambda row: (num(row[1]), num(row[4]), num(row[6])))


def parse_price_candles(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(open time s, close) of each `/v5/market/mark-price-kline` or `index-price-kline` row
    (`[startTime ms, open, high, low, close]`, newest first); a malformed row is skipped and counted.

    Sample::

        {"retCode": 0, "result": {"category": "linear", "symbol": "BTCUSDT", "list": [
         ["1795388400000", "84012", "84110", "83960", "84061.3"]]}}
    """
    return ms_rows(result_list(payload), skipped, 5, lambda row: num(row[4]))


def parse_open_interest_history(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(time s, open interest in base coin) of `/v5/market/open-interest` rows: one side
    (`singleOpenInterest`) where given, else `openInterest` (both sides), as live prefers
    `singleOpenInterestValue`. A malformed row is skipped and counted.

    Sample::

        {"retCode": 0, "result": {"symbol": "BTCUSDT", "category": "linear", "nextPageCursor": "lastid%3D5",
         "list": [{"openInterest": "108000.5", "singleOpenInterest": "54000.25", "timestamp": "1795388400000"}]}}
    """
    return stamped_rows(result_list(payload), skipped, lambda row: ms_at(row, "timestamp"),
                        lambda row: num(field(row, "singleOpenInterest", "openInterest")))


def parse_account_ratio_history(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(time s, long accounts' share) of `/v5/market/account-ratio` rows, the share as live takes it
    (`account_share`); a malformed row is skipped and counted.

    Sample::

        {"retCode": 0, "result": {"list": [{"symbol": "BTCUSDT", "buyRatio": "0.5426",
         "sellRatio": "0.4574", "timestamp": "1795388400000"}], "nextPageCursor": "lastid%3D2"}}
    """
    return stamped_rows(result_list(payload), skipped, lambda row: ms_at(row, "timestamp"), account_share)


def parse_funding_history(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(settlement time s, rate per the symbol's interval) of `/v5/market/funding/history` rows
    (newest first); a malformed row is skipped and counted.

    Sample::

        {"retCode": 0, "result": {"category": "linear", "list": [{"symbol": "BTCUSDT",
         "fundingRate": "0.0001", "fundingRateTimestamp": "1795363200000"}]}}
    """
    return stamped_rows(result_list(payload), skipped, lambda row: ms_at(row, "fundingRateTimestamp"),
                        lambda row: num(row.get("fundingRate")))


# -- capture (docs/capture-venues.md) --------------------------------------------------------------
# https://bybit-exchange.github.io/docs/v5/websocket/public/trade and .../public/orderbook
# - `publicTrade.{symbol}`: `S` the taker's side (Buy/Sell), `v` in the base coin for linear contracts
#   (1000PEPE units), `i` the trade id, `T` the fill time; several fills a push.
# - `orderbook.{1|50}.{symbol}` (linear: 1, 50, 200, 500 levels): a snapshot, then deltas of absolute sizes
#   (0 deletes); `u` the update id, consecutive per topic: a delta whose `u` is not the last + 1 is a gap
#   (resubscribe for a new snapshot); a snapshot (also `u` = 1 after a service restart) replaces the book.
#   Level 1 (every 10 ms) gives the best bid/offer: a snapshot again when unchanged for 3 s.
# - Same limits as `allLiquidation` above (args characters per connection, 10 topics a request);
#   `{"op": "ping"}` every 20 s.
CAPTURE_BOOK_DEPTH = 50  # orderbook.50: the smallest linear book that holds --depth (≤ 20) levels
TOPIC = {TRADES: "publicTrade.", BBO: "orderbook.1.", BOOK: f"orderbook.{CAPTURE_BOOK_DEPTH}."}


def parse_public_trade(row: dict, recv_ms: int, instrument: Instrument) -> Trade:
    """One fill of a `publicTrade.{symbol}` push's `data`.

    Sample::

        {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1672304486868,
         "data": [{"T": 1672304486865, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "16578.50",
                   "L": "PlusTick", "i": "20f43950-d8dd-5b31-9112-a178eb6023af", "BT": false}]}
    """
    side = row["S"]
    return trade("bybit", instrument.symbol, instrument.coin, row["T"], recv_ms, row["i"],
                 BUY if side == "Buy" else SELL if side == "Sell" else side, float(row["p"]) / instrument.multiplier,
                 float(row["v"]), instrument.coins_per_unit)


def apply_orderbook(book: Book, message: dict) -> str | None:
    """Apply one `orderbook.{depth}.{symbol}` push to `book`; the reason of a sequence gap (the book is then
    invalid until the next snapshot), else None. A delta before any snapshot is ignored.

    Sample::

        {"topic": "orderbook.50.BTCUSDT", "type": "snapshot", "ts": 1672304484978,
         "data": {"s": "BTCUSDT", "b": [["16493.50", "0.006"]], "a": [["16611.00", "0.029"]],
                  "u": 18521288, "seq": 7961638724}, "cts": 1672304484976}
        {"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 1672304484998,
         "data": {"s": "BTCUSDT", "b": [["16493.50", "0"]], "a": [], "u": 18521289, "seq": 7961638725}}
    """
    data, ts = message["data"], int(message["ts"])
    u = int(data["u"])
    if message["type"] == "snapshot":
        book.reset(ts, u, data["b"], data["a"])
        return None
    if not book.valid:
        return None
    if u != book.seq + 1:
        last = book.seq
        book.invalidate()
        return f"sequence gap: update {u} after {last}"
    book.apply(ts, u, data["b"], data["a"])
    return None


class BybitCapture(VenueCapture):
    exchange = "bybit"
    heartbeat = json.dumps({"op": "ping"})

    def __init__(self, instruments, channels, depth):
        super().__init__(instruments, channels, depth)
        self.prefixes = [TOPIC[c] for c in self.channels]
        self.channel_of = {TOPIC[c]: c for c in self.channels}

    def sessions(self, ws_url: str) -> list[Session]:
        chars = lambda symbol: sum(len(p) + len(symbol) + 3 for p in self.prefixes)  # noqa: E731
        sessions = []
        for share in split_stable(list(self.instruments), chars, ARGS_CHARS_PER_CONNECTION):
            topics = [p + s for s in share for p in self.prefixes]
            frames = tuple(json.dumps({"op": "subscribe", "args": list(b)}) for b in batches(topics, SUBSCRIBE_BATCH))
            sessions.append(Session(ws_url + "/v5/public/linear", frames, self.topics(share)))
        return sessions

    def resubscribe(self, symbol: str, channel: str) -> list[str]:
        topic = TOPIC[channel] + symbol
        return [json.dumps({"op": "unsubscribe", "args": [topic]}), json.dumps({"op": "subscribe", "args": [topic]})]

    def handle(self, message, recv_ms: int, conn: Connection, out: Receiver) -> None:
        topic = message.get("topic")
        if topic is None:
            if "op" in message:  # {"success": true, "ret_msg": "pong", "op": "ping"}, subscribe answers
                if message.get("success") is False:
                    raise ExchangeError("bybit", f"{message['op']} refused: {message.get('ret_msg') or 'no reason'}")
                return
            raise ValueError("expected a topic")
        prefix, _, symbol = topic.rpartition(".")
        instrument = self.instruments[symbol]
        if prefix == "publicTrade":
            for row in message["data"]:
                try:
                    out.trade(parse_public_trade(row, recv_ms, instrument))
                except (ValueError, KeyError, TypeError):
                    out.skipped()
            return
        channel = self.channel_of[prefix + "."]
        book = (conn.level1 if channel == BBO else conn.books).get(symbol)
        if book is None:
            book = Book(1 if channel == BBO else CAPTURE_BOOK_DEPTH)
            (conn.level1 if channel == BBO else conn.books)[symbol] = book
        snapshot = message["type"] == "snapshot"
        reason = apply_orderbook(book, message)
        if reason is not None:
            out.gap(symbol, channel, reason)
            return
        if snapshot:
            out.synced(symbol, channel)
        if channel == BBO and book.valid:
            bids, asks = book.top(1, instrument)
            bid, ask = bids[0] if bids else (None, None), asks[0] if asks else (None, None)
            out.bbo(Bbo("bybit", symbol, instrument.coin, book.ts_ms, recv_ms, bid[0], bid[1], ask[0], ask[1]))


class Bybit(Exchange):
    id = "bybit"
    kind = "CEX"
    error_code_field, ok_codes = "retCode", ("0",)  # errors come inside HTTP 200 bodies
    rate_limit_codes = ("10006", "10018")  # "Too many visits", "Exceeded the IP rate limit"

    def instruments(self) -> dict[str, dict]:
        """Every included instrument, following `nextPageCursor` until it is empty."""
        def page(cursor: str | None) -> tuple[list, str | None]:
            params = {"category": "linear", "limit": 1000, **({"cursor": cursor} if cursor else {})}
            return self.fetched("instruments-info", "/v5/market/instruments-info", params, instruments_page)

        return included_instruments(self.follow_cursor("instruments-info", page))

    def long_share(self) -> float | None:
        """BTCUSDT account long share over the last hour; None where the endpoint is missing (404)."""
        params = {"category": "linear", "symbol": "BTCUSDT", "period": "1h", "limit": 1}
        return self.fetched("account-ratio", ACCOUNT_RATIO, params, parse_account_ratio, missing_ok=True)

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        got = self.parallel({
            "instruments": self.instruments,
            "tickers": lambda: self.get("/v5/market/tickers", {"category": "linear"}),
            "long_share": lambda: self.optional("long/short ratio", self.long_share),
        })
        markets = self.parse("tickers", parse_tickers, got["tickers"], got["instruments"], skipped)
        return self.summarize(markets, long_share=got["long_share"], records_skipped=skipped.count)

    def capture_listing(self) -> list[Listed]:
        """The included linear perpetuals (`instruments()`); sizes are in the base coin."""
        return [Listed(symbol, str(row.get("baseCoin") or "").upper()) for symbol, row in self.instruments().items()
                if row.get("baseCoin")]

    def capture(self, instruments, channels, depth) -> BybitCapture:
        return BybitCapture(instruments, channels, depth)

    def live_feed(self, ws_url: str, symbols: int | None = None) -> LiveFeed:
        """`allLiquidation.{symbol}` for every included perpetual (`instruments()`), or for the `symbols`
        with the largest 24 h volume now; over as many connections as `streams.split_topics` needs,
        10 topics a subscribe request, `{"op": "ping"}` every 20 s on each to keep it open."""
        if symbols is None:
            chosen = sorted(self.instruments())
            description = f"all {len(chosen)} linear perpetuals"
        else:
            chosen = self.largest(symbols)
            description = f"top {len(chosen)} by volume"
        if not chosen:
            raise self.error("no included markets in the response: nothing to subscribe to")
        topics = [f"allLiquidation.{symbol}" for symbol in chosen]
        return LiveFeed(url=ws_url + "/v5/public/linear", parse=parse_all_liquidation,
                        connections=connection_frames(topics, ARGS_CHARS_PER_CONNECTION, SUBSCRIBE_BATCH),
                        heartbeat=json.dumps({"op": "ping"}), heartbeat_every=20.0, description=description)

    def largest(self, n: int) -> list[str]:
        """The `n` included perpetuals with the largest 24 h volume now, largest first."""
        got = self.parallel({
            "instruments": self.instruments,
            "tickers": lambda: self.get("/v5/market/tickers", {"category": "linear"}),
        })
        return top_by_volume(self.parse("tickers", parse_tickers, got["tickers"], got["instruments"], Skips()), n)

    # -- history (backfill) -------------------------------------------------------------------

    # Bybit allows 600 gets per 5 s per IP and answers more with a 403 ban of at least 10 min
    # (not retried): stay well under half of it, room for a live snapshot on the same IP.
    history_rate = 50.0  # gets per second, 1/50 s apart (burst 1): 250 per 5 s
    history_workers = 16

    def history(self, start: int, end: int, progress: Progress | None = None) -> VenueHistory:
        """Hourly history of [start, end): per included market (today's instrument list, as `fetch`)
        one-hour klines (`turnover` is USD) and one-sided open interest × price; for the BTC
        perpetual mark and index klines, settled funding and BTCUSDT's account ratio (as live)."""
        d = self.history_download(progress)
        instruments = d.listing(self.instruments)
        hours = max(1, (end - start) // HOUR)
        d.plan(len(instruments) * (pages(hours, KLINE_LIMIT) + pages(hours, OI_LIMIT))
               + 2 * pages(hours, KLINE_LIMIT) + 1 + pages(hours, RATIO_LIMIT))
        symbols = sorted(instruments)
        results = d.markets(lambda symbol: self._market_history(d, symbol, start, end), symbols,
                            self.history_workers)
        builder, candles_of, failures = collect_markets(symbols, results)
        btc = d.btc_market(btc_candidates({symbol: (str(row.get("baseCoin") or "").upper(), row.get("settleCoin"))
                                            for symbol, row in instruments.items()}), candles_of, failures)
        series = self._btc_series(d, btc, instruments, start, end) if btc else {}
        notes = ["no trade counts in Bybit klines",
                 "open interest: one side (singleOpenInterest, base coin) × the hour's close; live takes "
                 "singleOpenInterestValue",
                 "funding: the settled rate of the period containing the hour; live shows the current period's rate"]
        if btc is None:
            notes.append("no BTC perpetual listed: BTC series empty")
        notes += failed_note(failures, len(instruments))
        if (first_oi := covers_from(builder.oi, start)) is not None:
            notes.append(f"open-interest history starts only at {utc(first_oi)}")
        if (first_share := covers_from(series.get("long_share"), start)) is not None:
            notes.append(f"long/short history starts only at {utc(first_share)}")
        return d.venue_history(start, end, builder, candles_of, btc, series, len(instruments), notes)

    def history_download(self, progress: Progress | None = None) -> Download:
        return Download(self, progress, rate=self.history_rate)

    def market_history(self, d: Download, market: Market, start: int, end: int) -> MarketHistory:
        return self._market_history(d, market.symbol, start, end)

    def market_extras(self, d: Download, market: Market, start: int, end: int) -> dict:
        return self._price_calls(d, market.symbol, market.funding_interval_h, start, end)

    def _btc_series(self, d: Download, btc: str, instruments: dict, start: int, end: int) -> dict:
        """The BTC perpetual's mark and index closes, settled funding and the account ratio; each None
        with a note when it fails."""
        return d.extras({**self._price_calls(d, btc, interval_hours({}, instruments[btc]), start, end),
                         "long_share": ("long/short history", lambda: self._long_share(d, start, end))})

    def _price_calls(self, d: Download, symbol: str, interval_h: float | None, start: int, end: int) -> dict:
        """The market's mark and index closes and settled funding as `Download.extras` calls."""
        kline = {"category": "linear", "symbol": symbol, "interval": "60"}
        # `startTime` alone is an error, so settlements page back by `endTime`
        settlements = back(FUNDING_LIMIT, {"category": "linear", "symbol": symbol}, ("startTime", "endTime"))
        return {
            "mark": ("mark price history", lambda: self._closes(d, MARK_KLINE, kline, start, end)),
            "index": ("index price history", lambda: self._closes(d, INDEX_KLINE, kline, start, end)),
            "funding": ("funding history", lambda: d.funding(
                FUNDING_HISTORY, parse_funding_history, settlements, start, end, interval_h,
                what="funding/history", closed=True)),
        }

    def _market_history(self, d: Download, symbol: str, start: int, end: int) -> MarketHistory:
        """One market's klines (their failure fails the market) and open interest in USD."""
        candles = d.hourly(KLINE, parse_history_candles, back(KLINE_LIMIT, {
            "category": "linear", "symbol": symbol, "interval": "60"}), start, end, closed=True)
        pager = cursor(OI_LIMIT, {"category": "linear", "symbol": symbol, "intervalTime": "1h",
                                  "startTime": start * 1000, "endTime": end * 1000 - 1})
        return MarketHistory.read(candles, lambda: open_interest_usd(
            d.hourly(OPEN_INTEREST, parse_open_interest_history, pager, start, end), candles))

    def _closes(self, d: Download, path: str, params: dict, start: int, end: int) -> dict[int, float]:
        """Open time → close of a price kline (mark or index) over [start, end)."""
        return dict(d.hourly(path, parse_price_candles, back(KLINE_LIMIT, params), start, end, closed=True))

    def _long_share(self, d: Download, start: int, end: int) -> dict[int, float]:
        """Time → BTCUSDT long accounts' share (hourly) over [start, end)."""
        return dict(d.hourly(ACCOUNT_RATIO, parse_account_ratio_history, cursor(RATIO_LIMIT, {
            "category": "linear", "symbol": BTC_RATIO_SYMBOL, "period": "1h",
            "startTime": start * 1000, "endTime": end * 1000 - 1}), start, end))


# -- paging declarations (read at call time: tests shrink the limits) -------------------------------------


def rows_of(payload: Any) -> int:
    return len(payload["result"]["list"])


def back(limit: int, params: dict, keys: tuple[str, str] = ("start", "end")) -> Back:
    """Pages newest first between `keys` (ms), each next one ending 1 ms before the oldest row so far."""
    return Back(limit, lambda lo, hi: {**params, keys[0]: lo, keys[1]: hi, "limit": limit}, step=1, scale=1000,
                size=rows_of)


def cursor(limit: int, params: dict) -> Cursor:
    """Pages named by `nextPageCursor`."""
    return Cursor(lambda c: {**params, "limit": limit, **({"cursor": c} if c else {})}, next_cursor, size=rows_of,
                  limit=limit)
