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

import math
import time
from typing import Any, NamedTuple

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.history import settlement_hour, skipped_note
from perps_tracker.exchanges.pacing import Pacer, Tally
from perps_tracker.exchanges.parsing import (
    Skips,
    funding_8h,
    integer,
    num,
    pct_change,
    required,
)
from perps_tracker.model.history import (
    HOUR,
    MARKET_LIST_NOTE,
    HistoryBuilder,
    Progress,
    VenueHistory,
)
from perps_tracker.model.market import Market, VenueSnapshot, pick_btc


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
            base=str(meta["name"]).upper(),
            quote="USD",
            volume_24h_usd=required(ctx.get("dayNtlVlm"), skipped),
            open_interest_usd=oi * oracle if oi is not None and oracle is not None else None,
            last_price=None,
            mark_price=mark,
            index_price=oracle,
            funding_rate_8h=funding_8h(num(ctx.get("funding")), 1.0),
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


class Hyperliquid(Exchange):
    id = "hyperliquid"
    kind = "DEX"
    name = "Hyperliquid"
    base_url = "https://api.hyperliquid.xyz"

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        payload = self.post("/info", {"type": "metaAndAssetCtxs"})
        markets = self.parse("metaAndAssetCtxs", parse_meta_and_asset_ctxs, payload, skipped)
        return self.summarize(markets, records_skipped=skipped.count)

    # -- history (backfill) ---------------------------------------------------------------

    history_weight_per_minute = 1000  # of the 1200 a minute per IP (docs: api/rate-limits)
    history_burst = 100  # weight that may go out at once
    history_concurrency = 4
    info_weight = 20
    candles_per_response = 5000
    funding_per_response = 500
    history_pacer: Pacer | None = None  # tests install an unpaced one

    def history(self, start: int, end: int, progress: Progress | None = None) -> VenueHistory:
        """Hourly history of [start, end): every included coin's 1 h candles and BTC's funding
        (see the module doc for endpoints, paging and approximations)."""
        self.notes = []
        pacer = self.history_pacer or Pacer(self.history_weight_per_minute / 60, self.history_burst)
        tally, skipped = Tally(progress), Skips()
        tally.plan()
        payload = self._info(pacer, tally, {"type": "metaAndAssetCtxs"})
        markets = self.parse("metaAndAssetCtxs", parse_meta_and_asset_ctxs, payload, Skips())
        if not markets:
            raise self.error("no included markets in the response")
        btc = pick_btc(markets)
        tally.plan(len(markets) + (1 if btc else 0))
        builder = HistoryBuilder()
        btc_candles: list[HourCandle] = []
        if btc is not None:  # first and alone: the venue's history is worthless without it
            btc_candles, count = self._candles(btc.symbol, start, end, pacer, tally)
            builder.add_candles((c.t, c.volume_usd, None) for c in btc_candles)
            skipped(count)
        others = [m for m in markets if m is not btc]
        results = self.fan_out(lambda m: self._candles(m.symbol, start, end, pacer, tally),
                               others, self.history_concurrency)
        failed = [r for r in results if isinstance(r, ExchangeError)]
        for result in results:
            if not isinstance(result, ExchangeError):
                candles, count = result
                builder.add_candles((c.t, c.volume_usd, None) for c in candles)
                skipped(count)
        if failed:
            self.notes.append(f"history of {len(failed)} of {len(markets)} markets unavailable: {failed[0].reason}")
        funding = None
        if btc is not None:
            funding = self.optional("BTC funding history",
                                    lambda: self._funding(btc.symbol, start, end, pacer, tally, skipped))
        else:
            self.notes.append("no BTC perpetual: no BTC price or funding history")
        self.notes += skipped_note(skipped.count)
        if start < time.time() - self.candles_per_response * HOUR:
            self.notes.append("candles older than the most recent 5000 hours are not served")
        return VenueHistory(
            exchange=self.id, kind=self.kind, start=start, end=end,
            volume_usd=builder.volume, markets=builder.markets, trades=None, open_interest_usd=None,
            btc_symbol=btc.symbol if btc else None,
            btc_open={c.t: c.open for c in btc_candles}, btc_close={c.t: c.close for c in btc_candles},
            btc_mark=None, btc_index=None, btc_funding=funding, long_share=None,
            symbols=len(markets), symbols_failed=len(failed),
            notes=tuple(self.notes) + HISTORY_NOTES,
        )

    def _info(self, pacer: Pacer, tally: Tally, body: dict, per_item: int | None = None) -> Any:
        """POST /info, paced: 20 weight before, and 1 per `per_item` rows returned after."""
        pacer.take(self.info_weight)
        try:
            payload = self.post("/info", body)
        finally:
            tally.finished()
        if per_item and isinstance(payload, list):
            pacer.charge(math.ceil(len(payload) / per_item))
        return payload

    def _candles(self, coin: str, start: int, end: int, pacer: Pacer,
                 tally: Tally) -> tuple[list[HourCandle], int]:
        """`coin`'s 1 h candles opening in [start, end), oldest first, paged forward by startTime;
        and how many malformed records were skipped."""
        got: dict[int, HourCandle] = {}
        skipped = Skips()
        cursor, pages = start, 0
        while cursor < end:
            if pages:
                tally.plan()
            pages += 1
            req = {"coin": coin, "interval": "1h", "startTime": cursor * 1000, "endTime": end * 1000 - 1}
            payload = self._info(pacer, tally, {"type": "candleSnapshot", "req": req}, per_item=60)
            rows = self.parse("candleSnapshot", parse_history_candles, payload, skipped)
            new = [c for c in rows if start <= c.t < end and c.t not in got]
            got.update((c.t, c) for c in new)
            if len(payload) < self.candles_per_response or not new:
                break
            cursor = max(c.t for c in new) + HOUR
        return sorted(got.values()), skipped.count

    def _funding(self, coin: str, start: int, end: int, pacer: Pacer, tally: Tally,
                 skipped: Skips) -> dict[int, float]:
        """Settlement hour → rate per 8 h (hourly × 8, as live) for settlements in [start, end)."""
        rates: dict[int, float] = {}
        cursor, last, pages = start * 1000, end * 1000 - 1, 0
        while cursor <= last:
            if pages:
                tally.plan()
            pages += 1
            body = {"type": "fundingHistory", "coin": coin, "startTime": cursor, "endTime": last}
            payload = self._info(pacer, tally, body, per_item=20)
            rows = self.parse("fundingHistory", parse_funding_history, payload, skipped)
            for t, rate in rows:
                hour = settlement_hour(t)
                if start <= hour < end:
                    rates[hour] = funding_8h(rate, 1.0)
            newest = max((t for t, _ in rows), default=None)
            if len(payload) < self.funding_per_response or newest is None or newest < cursor:
                break
            cursor = newest + 1
        return rates


HISTORY_NOTES = (
    MARKET_LIST_NOTE,
    ("volume is approximate: candles give base volume only, USD ≈ base volume × (open + close) / 2 "
     "(live uses the venue's USD volume)"),
    "no open-interest history",
    "BTC price is the last trade (1 h candle close); live uses the mark price",
    "no mark- or oracle-price history",
    "no long/short ratio",
)
