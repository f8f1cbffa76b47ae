"""OKX v5 swaps — CEX. Instruments and tickers, plus all-swap funding, open interest and mark prices;
for `backfill`, per-swap history candles and open-interest history plus the BTC swap's series.

Docs: https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments
Quirks: errors come inside HTTP 200 bodies (`code` ≠ "0"); SWAP tickers include the
coin-margined `-USD-SWAP` contracts; `volCcy24h` is in the base coin (× last for USD); no
24h % field (from `open24h`); untraded instruments carry `""` prices; funding intervals
differ per symbol (`nextFundingTime − fundingTime`); no index price in the tickers.
"""

from __future__ import annotations

import json
from typing import Any

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.base import Exchange, LiveFeed, Polled
from perps_tracker.exchanges.capture import (
    Book,
    Connection,
    Listed,
    Receiver,
    Session,
    VenueCapture,
    batches,
    levels,
    split_stable,
)
from perps_tracker.exchanges.history import (
    Back,
    Download,
    MarketHistory,
    collect_markets,
    covers_from,
    failed_note,
    hour_pages,
    pages,
    utc,
)
from perps_tracker.exchanges.pacing import PathPacing
from perps_tracker.exchanges.parsing import (
    Skips,
    field,
    funding,
    integer,
    join_markets,
    listed,
    long_share_of,
    ms_at,
    ms_rows,
    newest,
    num,
    pct_change,
    required,
    stamped_rows,
    venue_message,
)
from perps_tracker.exchanges.polling import GroupRead, Page, poll_groups, read_back
from perps_tracker.model.history import (
    HOUR,
    Progress,
    VenueHistory,
)
from perps_tracker.model.liquidation import LONG, SHORT, LiquidationEvent, make_event
from perps_tracker.model.market import Market, VenueSnapshot, btc_candidates, top_by_volume
from perps_tracker.model.ticks import BBO, BOOK, BUY, SELL, TRADES, Bbo, Instrument, Trade, trade
from perps_tracker.model.times import HOUR_MS

SETTLE_CCYS = ("USDT", "USDC")
SWAP = {"instType": "SWAP"}


def data_list(payload: Any) -> list:
    """`data` of a v5 response (`parsing.listed`)."""
    return listed(payload, "data")


def by_inst_id(payload: Any) -> dict[str, dict]:
    """The object rows of `data`, keyed by `instId`."""
    return {row["instId"]: row for row in data_list(payload) if isinstance(row, dict) and row.get("instId")}


def parse_instruments(payload: Any) -> dict[str, dict]:
    """Included swaps by instId: live, linear, settled in USDT or USDC.

    Sample::

        {"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "instFamily": "BTC-USDT",
         "settleCcy": "USDT", "ctType": "linear", "ctVal": "0.01", "ctValCcy": "BTC", "state": "live"}]}
    """
    return {
        inst_id: row for inst_id, row in by_inst_id(payload).items()
        if row.get("settleCcy") in SETTLE_CCYS and row.get("state") == "live"
        and row.get("ctType", "linear") in ("linear", "")
    }


def parse_funding_rates(payload: Any) -> dict[str, dict]:
    """Funding by instId from `funding-rate?instId=ANY`: the Market fields of `parsing.funding`.

    `fundingRate` is the rate of the upcoming settlement, paid at `fundingTime`; the one after is at
    `nextFundingTime`, and the spacing of the two is the instrument's interval (docs-v5 "Get funding
    rate": "use the difference between fundingTime and nextFundingTime to determine the actual
    interval").

    Sample::

        {"code": "0", "data": [{"instId": "BTC-USDT-SWAP", "fundingRate": "0.0001",
         "fundingTime": "1732089600000", "nextFundingTime": "1732118400000"}]}
    """
    rates = {}
    for inst_id, row in by_inst_id(payload).items():
        this, following = num(row.get("fundingTime")), num(row.get("nextFundingTime"))
        hours = (following - this) / HOUR_MS if this is not None and following is not None else None
        rates[inst_id] = funding(num(row.get("fundingRate")), hours, row.get("fundingTime"))
    return rates


def parse_open_interest(payload: Any) -> dict[str, float | None]:
    """Open interest in USD (`oiUsd`) by instId.

    Sample::

        {"code": "0", "data": [{"instId": "BTC-USDT-SWAP", "oi": "2500000", "oiCcy": "25000",
         "oiUsd": "2100000000", "ts": "1732089600000"}]}
    """
    return {inst_id: num(row.get("oiUsd")) for inst_id, row in by_inst_id(payload).items()}


def parse_mark_prices(payload: Any) -> dict[str, float | None]:
    """Mark price by instId.

    Sample::

        {"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "markPx": "84010.2",
         "ts": "1732089600000"}]}
    """
    return {inst_id: num(row.get("markPx")) for inst_id, row in by_inst_id(payload).items()}


def parse_ticker(ticker: dict, instrument: dict, extras: dict[str, dict], skipped: Skips) -> Market:
    """One included market; a missing last price or base-coin volume is counted, and without either
    there is no USD volume."""
    inst_id = ticker["instId"]
    last, volume = required(ticker.get("last"), skipped), required(ticker.get("volCcy24h"), skipped)
    return Market(
        symbol=inst_id,
        base=inst_id.split("-")[0].upper(),
        quote=instrument["settleCcy"],
        volume_24h_usd=volume * last if volume is not None and last is not None else None,
        open_interest_usd=extras["open_interest"].get(inst_id),
        last_price=last,
        mark_price=extras["marks"].get(inst_id),
        index_price=None,
        **extras["funding"].get(inst_id, {}),
        price_change_24h_pct=pct_change(last, num(ticker.get("open24h"))),
    )


def parse_tickers(payload: Any, instruments: dict[str, dict], skipped: Skips, *,
                  funding: dict | None = None, open_interest: dict | None = None,
                  marks: dict | None = None) -> list[Market]:
    """Markets of the included instruments from `market/tickers`; other instIds are ignored.

    An included instrument without a ticker is skipped and counted; a `""` last price or volume
    (an untraded swap) is None and counted, the market kept. `funding` (`parse_funding_rates`),
    `open_interest`, `marks` map instId to values (None: unavailable).

    Sample::

        {"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "last": "84000.1",
         "open24h": "82000", "vol24h": "2500000", "volCcy24h": "25000.5", "ts": "1732089600000"}]}
    """
    extras = {"funding": funding or {}, "open_interest": open_interest or {}, "marks": marks or {}}
    return join_markets(by_inst_id(payload), instruments,
                        lambda ticker, instrument: parse_ticker(ticker, instrument, extras, skipped), skipped)


def parse_long_short_ratio(payload: Any) -> float | None:
    """BTC account long/short ratio R from the newest `[ts, ratio]` row of the rubik endpoint.

    Sample::

        {"code": "0", "data": [["1732089600000", "1.25"], ["1732086000000", "1.31"]]}
    """
    rows = [r for r in data_list(payload) if isinstance(r, (list, tuple)) and len(r) >= 2]
    row = newest(rows, lambda r: r[0])
    return num(row[1]) if row is not None else None


def liquidation_side(detail: dict) -> str:
    """The position liquidated: `posSide` when long/short, else (net mode) `side=sell` liquidated a long."""
    pos_side = detail.get("posSide")
    if pos_side in (LONG, SHORT):
        return pos_side
    side = detail.get("side")
    if side == "sell":
        return LONG
    if side == "buy":
        return SHORT
    raise ValueError(f"no side: posSide {pos_side!r}, side {side!r}")


def parse_liquidation_rows(rows: list, instruments: dict[str, dict], skipped: Skips,
                           source: str) -> list[LiquidationEvent]:
    """Events of `liquidation-orders` rows (REST `data` or a websocket push's `data`).

    `sz` is in contracts: quantity = sz × ctVal of the instrument (`parse_instruments`), price
    the bankruptcy price `bkPx`. Rows of instruments that are not included (coin-margined
    `-USD-SWAP`, not live) are ignored; a malformed detail, or one of an unknown instrument,
    is skipped and counted.

    Sample::

        [{"instId": "BTC-USDT-SWAP", "instFamily": "BTC-USDT", "instType": "SWAP", "uly": "BTC-USDT",
          "details": [{"side": "sell", "posSide": "long", "bkPx": "84000.1", "sz": "2.5",
                       "bkLoss": "0", "ccy": "", "ts": "1732089600000"}]}]
    """
    events = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("details"), list):
            skipped()
            continue
        inst_id = str(row.get("instId") or "")
        instrument = instruments.get(inst_id)
        if instrument is None:
            if not inst_id.endswith("-USDT-SWAP") and not inst_id.endswith("-USDC-SWAP"):
                continue  # coin-margined or not a swap: not an included market
            skipped(len(row["details"]))  # a linear swap we do not know (listed since we looked)
            continue
        contract = num(instrument.get("ctVal"))
        for detail in row["details"]:
            try:
                size = num(detail.get("sz"))
                events.append(make_event("okx", inst_id, liquidation_side(detail), num(detail.get("bkPx")),
                                         size * contract if size is not None and contract else None,
                                         integer(detail.get("ts")), source))
            except (ValueError, AttributeError):
                skipped()
    return events


def parse_liquidation_push(message: Any, instruments: dict[str, dict], skipped: Skips) -> list[LiquidationEvent]:
    """Events of one `liquidation-orders` websocket push; [] for subscription acknowledgements.

    `{"event": "error"}` raises ExchangeError with OKX's message.

    Sample::

        {"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
         "data": [{"instId": "BTC-USDT-SWAP", "details": [{"side": "buy", "posSide": "short",
                   "bkPx": "84100", "sz": "1", "ts": "1732089601000"}]}]}
    """
    if not isinstance(message, dict):
        raise ValueError(f"expected an object, got {type(message).__name__}")
    if message.get("event") == "error":
        raise ExchangeError("okx", f"subscription refused: {venue_message(message) or message.get('code')}")
    if "event" in message:  # subscribe / channel-conn-count acknowledgements
        return []
    rows = message["data"]
    if not isinstance(rows, list):
        raise ValueError("expected data: [...]")
    return parse_liquidation_rows(rows, instruments, skipped, "ws")


def family_of(inst_id: str) -> str:
    """The instrument family of a swap: BTC-USDT-SWAP → BTC-USDT."""
    return inst_id.removesuffix("-SWAP")


def page_extent(rows: list) -> tuple[int, int | None]:
    """How many details a `liquidation-orders` page (`data`) holds, and the oldest `ts` among them.

    Sample::

        [{"instId": "BTC-USDT-SWAP", "details": [{"ts": "1732089600000", ...}, {"ts": "1732089500000", ...}]}]
    """
    details = [detail for row in rows if isinstance(row, dict) and isinstance(row.get("details"), list)
               for detail in row["details"]]
    times = [integer(detail.get("ts")) for detail in details if isinstance(detail, dict)]
    return len(details), min((t for t in times if t is not None), default=None)


# -- history (backfill) ---------------------------------------------------------------------------
# Docs: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-candlesticks-history,
# ...-get-mark-price-candlesticks-history, #trading-statistics-rest-api-get-contract-open-interest-history,
# #trading-statistics-rest-api-get-long-short-ratio, #public-data-rest-api-get-funding-rate-history.

# history-candles: the current docs allow limit 300, older ones 100; 100 is valid under both.
CANDLE_LIMIT = 100
MARK_LIMIT = 100  # history-mark-price-candles: max 100
OI_LIMIT = 100  # rubik open-interest-history: max 100 (latest 1,440 points per period)
FUNDING_LIMIT = 100  # funding-rate-history: 400 in the current docs, 100 in older ones
RATIO_CHUNK = 96 * HOUR  # long-short-account-ratio has no limit parameter: ask 4 days at a time
CANDLES_PATH = "/api/v5/market/history-candles"
MARK_CANDLES_PATH = "/api/v5/market/history-mark-price-candles"
OI_HISTORY_PATH = "/api/v5/rubik/stat/contracts/open-interest-history"
FUNDING_HISTORY_PATH = "/api/v5/public/funding-rate-history"
RATIO_PATH = "/api/v5/rubik/stat/contracts/long-short-account-ratio"
PER_INSTRUMENT = (OI_HISTORY_PATH, FUNDING_HISTORY_PATH)  # rate limit rule: IP + instrument ID


def parse_history_candles(payload: Any, skipped: Skips) -> list[tuple[int, float, float, float]]:
    """(open time s, open, close, volCcyQuote) of `history-candles` rows, newest first, each
    `[ts, o, h, l, c, vol (contracts), volCcy (base), volCcyQuote (quote: USDT/USDC), confirm]`.
    A candle still open (confirm "0") is dropped; a malformed row is skipped and counted.

    Sample::

        {"code": "0", "msg": "", "data": [
         ["1795388400000", "84010.5", "84100", "83950", "84050.1", "12050", "120.5", "10128362.2", "1"]]}
    """
    return ms_rows(data_list(payload), skipped, 8, lambda row: (num(row[1]), num(row[4]), num(row[7])), confirm=8)


def parse_mark_candles(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(open time s, close) of `history-mark-price-candles` rows `[ts, o, h, l, c, confirm]`, newest
    first; a candle still open is dropped, a malformed row skipped and counted.

    Sample::

        {"code": "0", "msg": "", "data": [["1795388400000", "84012", "84110", "83960", "84061.3", "1"]]}
    """
    return ms_rows(data_list(payload), skipped, 5, lambda row: num(row[4]), confirm=5)


def parse_open_interest_history(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(time s, open interest in USD) of rubik `open-interest-history` rows `[ts, oi (contracts),
    oiCcy (coin), oiUsd]`, newest first; `oiUsd` is the field live uses. A malformed row is skipped
    and counted.

    Sample::

        {"code": "0", "msg": "", "data": [["1795388400000", "731377.5", "7313.775", "614722545.1"]]}
    """
    return ms_rows(data_list(payload), skipped, 4, lambda row: num(row[3]))


def parse_long_short_history(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(time s, long accounts' share R / (1 + R)) of rubik `long-short-account-ratio` rows `[ts, R]`
    (ccy=BTC, as live); a malformed row (or a negative R) is skipped and counted.

    Sample::

        {"code": "0", "msg": "", "data": [["1795388400000", "1.25"], ["1795384800000", "1.31"]]}
    """
    return ms_rows(data_list(payload), skipped, 2, lambda row: long_share_of(num(row[1])))


def parse_funding_history(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(settlement time s, settled rate per the swap's interval) of `funding-rate-history` rows:
    `realizedRate` (what was paid), else `fundingRate`; a malformed row is skipped and counted.

    Sample::

        {"code": "0", "msg": "", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP",
         "formulaType": "noRate", "fundingRate": "0.0001", "realizedRate": "0.0001",
         "fundingTime": "1795363200000", "method": "current_period"}]}
    """
    return stamped_rows(data_list(payload), skipped, lambda row: ms_at(row, "fundingTime"),
                        lambda row: num(field(row, "realizedRate", "fundingRate")))


def pacing(rates: dict[str, float]) -> PathPacing:
    """The `pace` hook of OKX's history downloads: each endpoint at its rate, and each instrument apart
    where OKX counts per IP and instrument (`PER_INSTRUMENT`)."""
    return PathPacing(rates, {path: "instId" for path in PER_INSTRUMENT})


# -- capture (docs/capture-venues.md) --------------------------------------------------------------
# https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-trades-channel (and -ws-order-book-channel)
# - Every size is in CONTRACTS for swaps: coins = sz × `ctVal` (public/instruments).
# - `trades`: `side` the taker's side, `tradeId`, `ts` (ms, a string); a push may aggregate fills (`count`).
# - `bbo-tbt`: the best level, tick by tick (every 10 ms); `books5`: the best 5 levels, whole, every 100 ms;
#   `books`: a 400-level snapshot (`action` "snapshot", `prevSeqId` -1), then "update" pushes of absolute
#   sizes (0 deletes) whose `prevSeqId` must be the last `seqId` (else a gap: resubscribe), with a CRC-32
#   `checksum` of the best 25 levels (a mismatch is treated as a gap too).
# - "ping" every 20 s, answered "pong" (OKX closes a connection silent for 30 s); at most 480
#   subscribe/unsubscribe requests an hour per connection; a request's args at most 64 KB.
ARGS_PER_REQUEST = 100  # ~4 KB of args a request, well under the 64 KB limit
ARGS_PER_CONNECTION = 300  # not documented (UNVERIFIED): a few hundred channels per connection
CAPTURE_CHANNEL = {TRADES: "trades", BBO: "bbo-tbt"}
BOOKS_DEPTH = 400  # levels a side of `books`


def parse_trade_push(row: dict, recv_ms: int, instrument: Instrument) -> Trade:
    """One row of a `trades` push's `data` (sz in contracts).

    Sample::

        {"arg": {"channel": "trades", "instId": "BTC-USDT-SWAP"},
         "data": [{"instId": "BTC-USDT-SWAP", "tradeId": "130639474", "px": "42219.9", "sz": "12",
                   "side": "buy", "ts": "1630048897897", "count": "3"}]}
    """
    side = row["side"]
    return trade("okx", instrument.symbol, instrument.coin, int(row["ts"]), recv_ms, row["tradeId"],
                 BUY if side == "buy" else SELL if side == "sell" else side, float(row["px"]) / instrument.multiplier,
                 float(row["sz"]), instrument.coins_per_unit)


def parse_bbo_push(row: dict, recv_ms: int, instrument: Instrument) -> Bbo:
    """One row of a `bbo-tbt` push's `data`: `[price, contracts, "0", orders]` per side.

    Sample::

        {"arg": {"channel": "bbo-tbt", "instId": "BTC-USDT-SWAP"},
         "data": [{"asks": [["42220.1", "55", "0", "2"]], "bids": [["42220", "31", "0", "4"]],
                   "ts": "1670324386802", "seqId": 363996337}]}
    """
    m, q = instrument.multiplier, instrument.coins_per_unit
    bids, asks = row["bids"], row["asks"]
    bid = (float(bids[0][0]) / m, float(bids[0][1]) * q) if bids else (None, None)
    ask = (float(asks[0][0]) / m, float(asks[0][1]) * q) if asks else (None, None)
    return Bbo("okx", instrument.symbol, instrument.coin, int(row["ts"]), recv_ms, *bid, *ask)


def apply_books(book: Book, action: str, row: dict) -> str | None:
    """Apply one `books` push's row to `book`: the reason of a sequence gap or checksum mismatch (the book
    is then invalid until the next snapshot), else None. An update before any snapshot is ignored.

    Sample::

        {"arg": {"channel": "books", "instId": "BTC-USDT-SWAP"}, "action": "snapshot",
         "data": [{"asks": [["8476.98", "415", "0", "13"]], "bids": [["8476.97", "256", "0", "12"]],
                   "ts": "1597026383085", "checksum": -1200119424, "prevSeqId": -1, "seqId": 123456}]}
    """
    ts, seq = int(row["ts"]), int(row["seqId"])
    if action == "snapshot":
        book.reset(ts, seq, row["bids"], row["asks"])
    elif not book.valid:
        return None
    else:
        prev = int(row["prevSeqId"])
        if prev != book.seq:
            last = book.seq
            book.invalidate()
            return f"sequence gap: prevSeqId {prev} after seqId {last}"
        book.apply(ts, seq, row["bids"], row["asks"])
    checksum = row.get("checksum")
    if checksum is not None and book.okx_checksum() != int(checksum):
        book.invalidate()
        return "checksum mismatch"
    return None


class OkxCapture(VenueCapture):
    exchange = "okx"
    heartbeat = "ping"
    ignore = frozenset({"pong"})

    def __init__(self, instruments, channels, depth):
        super().__init__(instruments, channels, depth)
        names = {**CAPTURE_CHANNEL, BOOK: "books5" if depth <= 5 else "books"}
        self.names = [names[c] for c in self.channels]
        self.channel_of = {names[c]: c for c in self.channels}

    def sessions(self, ws_url: str) -> list[Session]:
        sessions = []
        for share in split_stable(list(self.instruments), lambda _: len(self.names), ARGS_PER_CONNECTION):
            args = [{"channel": name, "instId": s} for s in share for name in self.names]
            frames = tuple(json.dumps({"op": "subscribe", "args": list(b)}) for b in batches(args, ARGS_PER_REQUEST))
            sessions.append(Session(ws_url + "/ws/v5/public", frames, self.topics(share)))
        return sessions

    def resubscribe(self, symbol: str, channel: str) -> list[str]:
        arg = [{"channel": next(n for n, c in self.channel_of.items() if c == channel), "instId": symbol}]
        return [json.dumps({"op": "unsubscribe", "args": arg}), json.dumps({"op": "subscribe", "args": arg})]

    def handle(self, message, recv_ms: int, conn: Connection, out: Receiver) -> None:
        arg = message.get("arg")
        if "event" in message:  # subscribe / unsubscribe / channel-conn-count acknowledgements
            if message["event"] == "error":
                raise ExchangeError("okx", f"subscription refused: {venue_message(message) or message.get('code')}")
            return
        name, symbol = arg["channel"], arg["instId"]
        instrument = self.instruments[symbol]
        rows = message["data"]
        if name == "trades":
            for row in rows:
                try:
                    out.trade(parse_trade_push(row, recv_ms, instrument))
                except (ValueError, KeyError, TypeError):
                    out.skipped()
        elif name == "bbo-tbt":
            for row in rows:
                out.bbo(parse_bbo_push(row, recv_ms, instrument))
        elif name == "books5":
            for row in rows:
                conn.snapshot(symbol).replace(int(row["ts"]), levels(row["bids"]), levels(row["asks"]))
        elif name == "books":
            book = conn.book(symbol, BOOKS_DEPTH)
            for row in rows:
                reason = apply_books(book, message["action"], row)
                if reason is not None:
                    out.gap(symbol, BOOK, reason)
                    return
                if message["action"] == "snapshot":
                    out.synced(symbol, BOOK)


class Okx(Exchange):
    id = "okx"
    kind = "CEX"
    error_code_field, ok_codes = "code", ("0",)  # errors come inside HTTP 200 bodies
    rate_limit_codes = ("50011", "50061")  # too many gets (per endpoint / per sub-account)
    liquidations_sampled = "at most one liquidation per contract per second"
    liquidation_page = 100  # details per liquidation-orders page, OKX's maximum
    liquidation_pages = 50  # pages per family: a guard against reading an endless history
    liquidation_limit = 4  # families polled at once; liquidation-orders allows 40 gets / 2 s

    def fetch(self) -> VenueSnapshot:
        got = self.parallel({
            "instruments": lambda: self.fetched("instruments", "/api/v5/public/instruments", SWAP, parse_instruments),
            "tickers": lambda: self.get("/api/v5/market/tickers", SWAP),
            # instId=ANY: every swap's funding in one call (docs-v5/en/#public-data-rest-api-get-funding-rate)
            "funding": lambda: self.maybe("funding rates", "/api/v5/public/funding-rate", {"instId": "ANY"},
                                          parse_funding_rates),
            "open_interest": lambda: self.maybe("open interest", "/api/v5/public/open-interest", SWAP,
                                                parse_open_interest),
            "marks": lambda: self.maybe("mark prices", "/api/v5/public/mark-price", SWAP, parse_mark_prices),
            "ratio": lambda: self.maybe("long/short ratio", "/api/v5/rubik/stat/contracts/long-short-account-ratio",
                                        {"ccy": "BTC", "period": "1H"}, parse_long_short_ratio),
        })
        skipped = Skips()
        markets = self.parse("tickers", parse_tickers, got["tickers"], got["instruments"], skipped,
                             funding=got["funding"], open_interest=got["open_interest"], marks=got["marks"])
        return self.summarize(markets, long_short_ratio=got["ratio"], records_skipped=skipped.count)

    def instruments(self) -> dict[str, dict]:
        return self.fetched("instruments", "/api/v5/public/instruments", SWAP, parse_instruments)

    def capture_listing(self) -> list[Listed]:
        """The included swaps (`instruments()`) with `ctVal`, the coins in one contract: sizes are contracts."""
        listed = []
        for inst_id, row in self.instruments().items():
            contract = num(row.get("ctVal"))
            if contract and contract > 0:
                listed.append(Listed(inst_id, inst_id.split("-")[0].upper(), contract))
        return listed

    def capture(self, instruments, channels, depth) -> OkxCapture:
        return OkxCapture(instruments, channels, depth)

    def live_feed(self, ws_url: str, symbols: int | None = None) -> LiveFeed:
        """`liquidation-orders` for every swap in one subscription; instruments first, for `ctVal`.
        OKX drops a connection silent for 30 s: "ping" every 20 s, answered "pong"."""
        instruments = self.instruments()
        subscribe = json.dumps({"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]})
        return LiveFeed(url=ws_url + "/ws/v5/public",
                        parse=lambda m, skipped: parse_liquidation_push(m, instruments, skipped),
                        subscribe=(subscribe,), heartbeat="ping", heartbeat_every=20.0,
                        ignore=frozenset({"pong"}), description=f"all swaps ({len(instruments)} instruments)")

    def poll_liquidations(self, start_ms: int, end_ms: int, symbols: int) -> Polled:
        """Liquidations with event time in [start_ms, end_ms] from `liquidation-orders`, for the
        `symbols` instrument families (BTC-USDT) with the largest 24 h volume (`polling.poll_groups`:
        a family that fails is noted and left out; when all fail, the first error is raised)."""
        got = self.parallel({"instruments": self.instruments,
                             "tickers": lambda: self.get("/api/v5/market/tickers", SWAP)})
        instruments = got["instruments"]
        markets = self.parse("tickers", parse_tickers, got["tickers"], instruments, Skips())
        return poll_groups(self, top_by_volume(markets, symbols, family_of),
                           lambda family: self._family_liquidations(family, start_ms, end_ms, instruments),
                           start_ms, end_ms, limit=self.liquidation_limit, kind="instrument families")

    def _family_liquidations(self, family: str, start_ms: int, end_ms: int,
                             instruments: dict[str, dict]) -> GroupRead:
        """One family's events from `end_ms` back past `start_ms` (`polling.read_back`), newest first;
        `after=ts` asks for details older than ts (docs-v5/en/#public-data-rest-api-get-liquidation-orders)."""
        def page(after: int, skipped: Skips) -> Page:
            params = {**SWAP, "instFamily": family, "state": "filled", "limit": self.liquidation_page, "after": after}
            rows = self.fetched("liquidation-orders", "/api/v5/public/liquidation-orders", params, data_list)
            events = self.parse("liquidation-orders", parse_liquidation_rows, rows, instruments, skipped, "rest")
            return Page(events, *page_extent(rows))

        return read_back(page, family, start_ms, end_ms, page_size=self.liquidation_page,
                         max_pages=self.liquidation_pages)

    # -- history (backfill) -------------------------------------------------------------------

    # Requests per second, evenly spaced (burst 1), at about 80 % of OKX's documented limits (429s are
    # retried by the client).
    history_rates = {
        CANDLES_PATH: 8.0,  # 20 per 2 s per IP
        MARK_CANDLES_PATH: 4.0,  # 10 per 2 s (one doc copy says 20)
        OI_HISTORY_PATH: 4.0,  # 10 per 2 s per IP + instrument: each instrument has its own pace
        FUNDING_HISTORY_PATH: 4.0,  # 10 per 2 s per IP + instrument
        RATIO_PATH: 2.0,  # 5 per 2 s per IP
    }
    history_workers = 8

    def history(self, start: int, end: int, progress: Progress | None = None) -> VenueHistory:
        """Hourly history of [start, end): per included swap (today's instrument list, as `fetch`)
        one-hour history candles (`volCcyQuote`) and rubik open interest (`oiUsd`); for the BTC swap
        mark-price candles, settled funding and the BTC account long/short ratio (ccy=BTC, as live)."""
        d = self.history_download(progress)
        instruments = d.listing(self.instruments)
        hours = max(1, (end - start) // HOUR)
        d.plan(len(instruments) * (pages(hours, CANDLE_LIMIT) + pages(hours, OI_LIMIT))
               + pages(hours, MARK_LIMIT) + 1 + pages(hours, RATIO_CHUNK // HOUR))
        inst_ids = sorted(instruments)
        results = d.markets(lambda inst_id: self._market_history(d, inst_id, start, end), inst_ids,
                            self.history_workers)
        builder, candles_of, failures = collect_markets(inst_ids, results)
        btc = d.btc_market(btc_candidates({inst_id: (inst_id.split("-")[0].upper(), row.get("settleCcy"))
                                            for inst_id, row in instruments.items()}), candles_of, failures)
        series = d.extras({**self._price_calls(d, btc, start, end),
                           "long_share": ("long/short history", lambda: self._long_share(d, start, end))}) if btc else {}
        notes = ["no trade counts in OKX candles",
                 "volume: candles' volCcyQuote (USDT/USDC taken as USD); live takes volCcy24h × last",
                 "no BTC index price: kept empty, as live has none for OKX",
                 "funding: the settled rate (realizedRate) of the period containing the hour; live shows the "
                 "current period's rate"]
        if btc is None:
            notes.append("no BTC swap listed: BTC series empty")
        notes += failed_note(failures, len(instruments), "swaps")
        if (first_oi := covers_from(builder.oi, start)) is not None:
            notes.append(f"open-interest history starts only at {utc(first_oi)} (OKX keeps the latest 1,440 "
                         "hourly points)")
        return d.venue_history(start, end, builder, candles_of, btc, series, len(instruments), notes)

    def history_download(self, progress: Progress | None = None) -> Download:
        return Download(self, progress, pace=pacing(self.history_rates))

    def market_history(self, d: Download, market: Market, start: int, end: int) -> MarketHistory:
        return self._market_history(d, market.symbol, start, end)

    def market_extras(self, d: Download, market: Market, start: int, end: int) -> dict:
        return self._price_calls(d, market.symbol, start, end)

    def _price_calls(self, d: Download, inst_id: str, start: int, end: int) -> dict:
        """The swap's mark closes and settled funding as `Download.extras` calls (OKX has no index candles)."""
        return {"mark": ("mark price history", lambda: self._mark(d, inst_id, start, end)),
                "funding": ("funding history", lambda: self._funding(d, inst_id, start, end))}

    def _market_history(self, d: Download, inst_id: str, start: int, end: int) -> MarketHistory:
        """One swap's candles (their failure fails the swap) and open interest in USD."""
        candles = d.hourly(CANDLES_PATH, parse_history_candles, back(CANDLE_LIMIT, {"instId": inst_id, "bar": "1H"}),
                           start, end)
        oi_pager = back(OI_LIMIT, {"instId": inst_id, "period": "1H"}, ("begin", "end"))
        return MarketHistory.read(candles, lambda: d.hourly(OI_HISTORY_PATH, parse_open_interest_history, oi_pager,
                                                            start, end))

    def _mark(self, d: Download, inst_id: str, start: int, end: int) -> dict[int, float]:
        """Open time → close of the mark-price candles over [start, end)."""
        return dict(d.hourly(MARK_CANDLES_PATH, parse_mark_candles, back(MARK_LIMIT, {"instId": inst_id, "bar": "1H"}),
                             start, end))

    def _funding(self, d: Download, inst_id: str, start: int, end: int) -> dict[int, float]:
        """Settlement time → settled rate per 8 h over [start, end); read from a day earlier, so the
        first settlement in the window has its spacing."""
        return d.funding(FUNDING_HISTORY_PATH, parse_funding_history, back(FUNDING_LIMIT, {"instId": inst_id}),
                         start, end)

    def _long_share(self, d: Download, start: int, end: int) -> dict[int, float]:
        """Time → BTC long accounts' share over [start, end), `RATIO_CHUNK` at a time (`ratio_pages`).

        OKX keeps 1-hour data for 30 days only: an empty answer is the retention's edge, and an error
        after some rows (an older range refused) keeps what was read (`Download.kept`); both are noted
        when they cut the window short. An error at once, or no row at all, makes the series unavailable.
        """
        got, refused = d.kept("long-short-account-ratio", RATIO_PATH, parse_long_short_history, ratio_pages(),
                              start * 1000, end * 1000 - 1, start, end,
                              planned=hour_pages(start, end, RATIO_CHUNK // HOUR))
        if not got:
            raise self.error("none in this window (OKX keeps 1-hour data for 30 days)")
        if (first := covers_from(got, start)) is not None or refused:
            since = f" (from {utc(first)})" if first is not None else ""
            d.note(f"long/short history covers only the last 30 days{since}")
        return got


# -- paging declarations (read at call time) ----------------------------------------------------------


def back(limit: int, params: dict, keys: tuple[str, str] = ("before", "after")) -> Back:
    """Pages newest first between OKX's exclusive bounds (ms): `keys[0]` (newer than) stays at lo − 1,
    `keys[1]` (older than) starts at hi and moves to the oldest row of each page."""
    return Back(limit, lambda lo, hi: {**params, keys[0]: lo - 1, keys[1]: hi, "limit": limit}, step=0,
                scale=1000, size=lambda payload: len(payload["data"]))


def ratio_pages() -> Back:
    """long-short-account-ratio takes `begin`/`end` (ms, inclusive) but no limit: `RATIO_CHUNK` at a time
    from the newest back, each next chunk ending 1 ms before the oldest row so far, until an empty answer."""
    return Back(None, lambda lo, hi: {"ccy": "BTC", "period": "1H", "begin": max(lo - 1, hi - RATIO_CHUNK * 1000),
                                      "end": hi}, step=1, scale=1000)
