"""Hyperliquid — DEX. One POST gives every perpetual's metadata and live context.

Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals
Funding is paid hourly; prices and volumes are USD (USDC-settled). No public long/short ratio.

History (`backfill`), all through POST /info:
- `candleSnapshot` (docs: info-endpoint#candle-snapshot): one coin's 1 h candles with open time
  `t` in [startTime, endTime] (ms), oldest first, at most 5000 per response and only the most
  recent 5000 candles exist (~208 days at 1 h); paged by moving `startTime` past the newest.
  Candles carry base volume `v` only: USD volume ≈ v × (o + c) / 2, an approximation (live uses
  `dayNtlVlm`). Their trade counts `n` are not used: live snapshots have none for this venue.
- `fundingHistory` (perpetuals#retrieve-historical-funding-rates): settled hourly rates, oldest
  first, at most 500 per response; paged by moving `startTime` past the newest. `time` is a few
  ms after the hour it settles, so it is rounded to the nearest hour.
- No open-interest, mark/oracle-price or long/short history.
- Rate limit (docs: api/rate-limits): 1200 weight per minute per IP; an info request weighs 20,
  plus 1 per 60 candles or per 20 funding rows returned. History is paced at 1000 weight per
  minute (so at most 50 requests a minute), leaving room for a live snapshot on the same IP.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, NamedTuple

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.capture import Connection, Listed, Receiver, Session, VenueCapture, split_stable
from perps_tracker.exchanges.history import (
    Download,
    Forward,
    MarketHistory,
    collect_markets,
    failed_note,
    hourly_funding,
)
from perps_tracker.exchanges.pacing import Pacer
from perps_tracker.exchanges.parsing import (
    Skips,
    funding,
    integer,
    num,
    pct_change,
    required,
)
from perps_tracker.model.history import HOUR, Progress, VenueHistory
from perps_tracker.model.market import Market, VenueSnapshot, pick_btc
from perps_tracker.model.ticks import BBO, BOOK, BUY, SELL, TRADES, Bbo, Instrument, Trade, trade


def venue_base(name: str) -> str:
    """A coin's name as its base, upper case except Hyperliquid's lower-case `k` (1000 coins): `kPEPE`
    stays, as `KPEPE` would read like a coin of its own (KAVA, KAS, KSM are coins)."""
    if name.startswith("k") and name[1:2].isupper():
        return "k" + name[1:].upper()
    return name.upper()


def parse_meta_and_asset_ctxs(payload: Any, skipped: Skips) -> list[Market]:
    """Markets from `metaAndAssetCtxs`, delisted ones left out. A record without a name is skipped
    and counted; a missing `dayNtlVlm` or `markPx` is None and counted, the market kept.

    Sample::

        [{"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 40}, ...]},
         [{"dayNtlVlm": "1169046.29", "funding": "0.0000125", "openInterest": "688.11",
           "prevDayPx": "86300.0", "markPx": "87210.0", "midPx": "87205.5",
           "oraclePx": "87180.0", "premium": "0.0002"}, ...]]
    """
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], dict)
            and isinstance(payload[0].get("universe"), list) and isinstance(payload[1], list)):
        raise ValueError("expected [meta, assetCtxs]")
    universe, contexts = payload[0]["universe"], payload[1]
    if len(universe) != len(contexts):
        raise ValueError(f"{len(universe)} markets but {len(contexts)} contexts")
    markets = []
    for meta, ctx in zip(universe, contexts):
        if not isinstance(meta, dict) or not isinstance(ctx, dict) or not meta.get("name"):
            skipped()
            continue
        if meta.get("isDelisted"):
            continue
        mark, oracle = required(ctx.get("markPx"), skipped), num(ctx.get("oraclePx"))
        oi = num(ctx.get("openInterest"))
        markets.append(Market(
            symbol=meta["name"],
            base=venue_base(str(meta["name"])),
            quote="USD",
            volume_24h_usd=required(ctx.get("dayNtlVlm"), skipped),
            open_interest_usd=oi * oracle if oi is not None and oracle is not None else None,
            last_price=None,
            mark_price=mark,
            index_price=oracle,
            **funding(num(ctx.get("funding")), 1.0),  # hourly; the payload has no next settlement time
            price_change_24h_pct=pct_change(mark, num(ctx.get("prevDayPx"))),
        ))
    return markets


class HourCandle(NamedTuple):
    t: int  # open time, Unix seconds
    open: float
    close: float
    volume_usd: float  # ≈ base volume × (open + close) / 2


def parse_history_candles(payload: Any, skipped: Skips) -> list[HourCandle]:
    """One coin's 1 h candles from `candleSnapshot`; a record without a time, prices or volume is
    skipped and counted.

    Sample::

        [{"t": 1795305600000, "T": 1795309199999, "s": "BTC", "i": "1h", "o": "84012.0",
          "c": "84120.0", "h": "84200.0", "l": "83950.0", "v": "153.24", "n": 4120}, ...]
    """
    if not isinstance(payload, list):
        raise ValueError("expected a list of candles")
    candles = []
    for row in payload:
        t = integer(row.get("t")) if isinstance(row, dict) else None
        o, c, v = (num(row.get(k)) for k in ("o", "c", "v")) if t is not None else (None, None, None)
        if t is None or o is None or c is None or v is None:
            skipped()
            continue
        candles.append(HourCandle(t // 1000, o, c, v * (o + c) / 2))
    return candles


def parse_funding_history(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(time ms, hourly rate) rows from `fundingHistory`; a record without either is skipped and counted.

    Sample::

        [{"coin": "BTC", "fundingRate": "0.0000125", "premium": "0.00031", "time": 1795309200048}, ...]
    """
    if not isinstance(payload, list):
        raise ValueError("expected a list of funding rates")
    rows = []
    for row in payload:
        t = integer(row.get("time")) if isinstance(row, dict) else None
        rate = num(row.get("fundingRate")) if t is not None else None
        if t is None or rate is None:
            skipped()
            continue
        rows.append((t, rate))
    return rows


# -- capture (docs/capture-venues.md) --------------------------------------------------------------
# https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/subscriptions
# - `/ws`; one subscription a message: {"method": "subscribe", "subscription": {"type": "trades", "coin": "BTC"}};
#   answered {"channel": "subscriptionResponse"}; pushes {"channel": "trades" | "bbo" | "l2Book", "data"}.
# - trades: `side` the aggressor's, "B" (bid: a buy) or "A" (ask: a sell); `sz` in the coin (kPEPE units:
#   1000 PEPE); `tid` the trade id. A new subscription first sends recent trades again: dropped by id.
# - bbo: [best bid, best ask], each {px, sz, n} or null. l2Book: up to 20 levels a side, whole, each push.
# - {"method": "ping"} at least once a minute (the server closes a connection silent for 60 s), answered
#   {"channel": "pong"}. Limits (.../websocket#limits, UNVERIFIED for perps): 1000 subscriptions per IP,
#   2000 messages sent a minute; connections of at most 500 subscriptions here.
SUBSCRIPTIONS_PER_CONNECTION = 500
CAPTURE_TYPE = {TRADES: "trades", BBO: "bbo", BOOK: "l2Book"}


def parse_ws_trade(row: dict, recv_ms: int, instrument: Instrument) -> Trade:
    """One trade of a `trades` push's `data`.

    Sample::

        {"channel": "trades", "data": [{"coin": "BTC", "side": "A", "px": "104300.0", "sz": "0.00500",
         "hash": "0x6d1f...", "time": 1769916000000, "tid": 300001, "users": ["0xbuyer", "0xseller"]}]}
    """
    side = row["side"]
    return trade("hyperliquid", instrument.symbol, instrument.coin, row["time"], recv_ms, row["tid"],
                 BUY if side == "B" else SELL if side == "A" else side, float(row["px"]) / instrument.multiplier,
                 float(row["sz"]), instrument.coins_per_unit)


def parse_ws_bbo(d: dict, recv_ms: int, instrument: Instrument) -> Bbo:
    """A `bbo` push's `data`.

    Sample::

        {"channel": "bbo", "data": {"coin": "BTC", "time": 1769916000100,
         "bbo": [{"px": "104299.0", "sz": "1.2", "n": 3}, {"px": "104301.0", "sz": "0.4", "n": 1}]}}
    """
    m, q = instrument.multiplier, instrument.coins_per_unit
    bid, ask = d["bbo"]
    return Bbo("hyperliquid", instrument.symbol, instrument.coin, int(d["time"]), recv_ms,
               None if bid is None else float(bid["px"]) / m, None if bid is None else float(bid["sz"]) * q,
               None if ask is None else float(ask["px"]) / m, None if ask is None else float(ask["sz"]) * q)


def parse_l2_book(d: dict) -> tuple[int, list, list]:
    """(time, bids, asks) of an `l2Book` push's `data`, best first.

    Sample::

        {"channel": "l2Book", "data": {"coin": "BTC", "time": 1769916000100,
         "levels": [[{"px": "104299.0", "sz": "1.2", "n": 3}], [{"px": "104301.0", "sz": "0.4", "n": 1}]]}}
    """
    bids, asks = d["levels"]
    return (int(d["time"]), [(float(x["px"]), float(x["sz"])) for x in bids],
            [(float(x["px"]), float(x["sz"])) for x in asks])


class HyperliquidCapture(VenueCapture):
    exchange = "hyperliquid"
    heartbeat = json.dumps({"method": "ping"})
    heartbeat_every = 30.0

    def sessions(self, ws_url: str) -> list[Session]:
        types = [CAPTURE_TYPE[c] for c in self.channels]
        sessions = []
        for share in split_stable(list(self.instruments), lambda _: len(types), SUBSCRIPTIONS_PER_CONNECTION):
            frames = tuple(json.dumps({"method": "subscribe", "subscription": {"type": t, "coin": s}})
                           for s in share for t in types)
            sessions.append(Session(ws_url + "/ws", frames, self.topics(share)))
        return sessions

    def handle(self, message, recv_ms: int, conn: Connection, out: Receiver) -> None:
        channel, data = message["channel"], message.get("data")
        if channel == "trades":
            for row in data:
                try:
                    out.trade(parse_ws_trade(row, recv_ms, self.instruments[row["coin"]]))
                except (ValueError, KeyError, TypeError):
                    out.skipped()
        elif channel == "bbo":
            out.bbo(parse_ws_bbo(data, recv_ms, self.instruments[data["coin"]]))
        elif channel == "l2Book":
            symbol = self.instruments[data["coin"]].symbol
            conn.snapshot(symbol).replace(*parse_l2_book(data))
        elif channel == "error":
            raise ExchangeError("hyperliquid", f"refused: {str(data)[:200]}")


class Hyperliquid(Exchange):
    id = "hyperliquid"
    kind = "DEX"

    def capture_listing(self) -> list[Listed]:
        """The listed perpetuals of `metaAndAssetCtxs` (as `fetch`): sizes are in the coin (kPEPE units)."""
        payload = self.post("/info", {"type": "metaAndAssetCtxs"})
        return [Listed(m.symbol, m.base) for m in self.parse("metaAndAssetCtxs", parse_meta_and_asset_ctxs,
                                                             payload, Skips())]

    def capture(self, instruments, channels, depth) -> HyperliquidCapture:
        return HyperliquidCapture(instruments, channels, depth)

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        payload = self.post("/info", {"type": "metaAndAssetCtxs"})
        markets = self.parse("metaAndAssetCtxs", parse_meta_and_asset_ctxs, payload, skipped)
        return self.summarize(markets, records_skipped=skipped.count)

    # -- history (backfill) ---------------------------------------------------------------

    history_weight_per_minute = 1000  # of the 1200 a minute per IP (docs: api/rate-limits)
    history_burst = 100  # weight that may go out at once
    history_workers = 4
    info_weight = 20
    candles_per_response = 5000
    funding_per_response = 500

    def history(self, start: int, end: int, progress: Progress | None = None) -> VenueHistory:
        """Hourly history of [start, end): every included coin's 1 h candles and BTC's funding
        (see the module doc for endpoints, paging and approximations)."""
        d = self.history_download(progress)
        payload = d.get("/info", {"type": "metaAndAssetCtxs"}, unplanned=True)
        markets = self.parse("metaAndAssetCtxs", parse_meta_and_asset_ctxs, payload, Skips())
        if not markets:
            raise self.error("no included markets in the response")
        btc = pick_btc(markets)
        coins = [m.symbol for m in markets]
        d.plan(len(coins) + (1 if btc else 0))
        # BTC first and alone: the venue's history is worthless without it
        results = d.markets(lambda coin: MarketHistory(self._candles(d, coin, start, end), []), coins,
                            self.history_workers, first=btc.symbol if btc else None)
        builder, candles_of, failures = collect_markets(coins, results)
        funding = None
        notes = [*HISTORY_NOTES, *failed_note(failures, len(coins))]
        if btc is not None:
            funding = d.optional("BTC funding history", lambda: self._funding(d, btc.symbol, start, end))
        else:
            notes.append("no BTC perpetual: no BTC price or funding history")
        if start < time.time() - self.candles_per_response * HOUR:
            notes.append("candles older than the most recent 5000 hours are not served")
        btc_candles = candles_of[btc.symbol] if btc else []
        return VenueHistory(
            exchange=self.id, kind=self.kind, start=start, end=end,
            volume_usd=builder.volume, markets=builder.markets, trades=None, open_interest_usd=None,
            btc_symbol=btc.symbol if btc else None,
            btc_open={c.t: c.open for c in btc_candles}, btc_close={c.t: c.close for c in btc_candles},
            btc_mark=None, btc_index=None, btc_funding=funding, long_share=None,
            symbols=len(coins), symbols_failed=builder.failed, notes=d.finish(notes=notes),
        )

    def history_download(self, progress: Progress | None = None) -> Download:
        pacer = Pacer(self.history_weight_per_minute / 60, self.history_burst)
        return Download(self, progress, method="POST", pace=lambda path, body: pacer.take(self.info_weight),
                        charge=lambda path, payload: pacer.charge(response_weight(payload)))

    def market_history(self, d: Download, market: Market, start: int, end: int) -> MarketHistory:
        return MarketHistory(self._candles(d, market.symbol, start, end), [])  # no open-interest history

    def market_extras(self, d: Download, market: Market, start: int, end: int) -> dict:
        return {"funding": ("funding history", lambda: self._funding(d, market.symbol, start, end))}

    def _candles(self, d: Download, coin: str, start: int, end: int) -> list[HourCandle]:
        """`coin`'s 1 h candles opening in [start, end), oldest first, paged forward by startTime."""
        def query(lo: int, hi: int) -> dict:
            return {"type": "candleSnapshot", "req": {"coin": coin, "interval": "1h", "startTime": lo, "endTime": hi}}

        pager = Forward(self.candles_per_response, query, step=HOUR * 1000, scale=1000)
        return d.hourly("/info", parse_history_candles, pager, start, end, what="candleSnapshot", closed=True,
                        planned=1)

    def _funding(self, d: Download, coin: str, start: int, end: int) -> dict[int, float]:
        """Settlement hour → rate per 8 h (hourly × 8, as live) for settlements in [start, end)."""
        def query(lo: int, hi: int) -> dict:
            return {"type": "fundingHistory", "coin": coin, "startTime": lo, "endTime": hi}

        rows = d.series("fundingHistory", "/info", parse_funding_history, Forward(self.funding_per_response, query),
                        start * 1000, end * 1000 - 1)
        return hourly_funding(rows, start, end)


def response_weight(payload: Any) -> int:
    """The weight an /info answer adds once its size is known (docs: api/rate-limits): 1 per 20 rows of
    `fundingHistory` (rows with `fundingRate`), 1 per 60 of `candleSnapshot` (rows with `t`); 0 otherwise."""
    first = payload[0] if isinstance(payload, list) and payload else None
    per = (20 if "fundingRate" in first else 60 if "t" in first else 0) if isinstance(first, dict) else 0
    return math.ceil(len(payload) / per) if per else 0


HISTORY_NOTES = (
    ("volume is approximate: candles give base volume only, USD ≈ base volume × (open + close) / 2 "
     "(live uses the venue's USD volume)"),
    "no open-interest history",
    "BTC price is the last trade (1 h candle close); live uses the mark price",
    "no mark- or oracle-price history",
    "no long/short ratio",
)
