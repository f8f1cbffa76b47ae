"""dYdX v4 indexer — DEX. One GET gives every perpetual market, keyed by ticker.

Docs: https://docs.dydx.xyz/indexer-client/http#get-perpetual-markets
All markets are USD(C)-settled linear perpetuals; only `status=ACTIVE` trades normally (not PAUSED,
CANCEL_ONLY, POST_ONLY, INITIALIZING or FINAL_SETTLEMENT). There is no last or mark price: the
oracle price stands in. `priceChange24H` is absolute USD, `nextFundingRate` hourly, `openInterest`
base units, `trades24H` a JSON number. No public long/short ratio.

History (`backfill`), from the indexer's OpenAPI (indexer/services/comlink/public/swagger.json):
- `GET /v4/candles/perpetualMarkets/{ticker}?resolution=1HOUR&fromISO&toISO&limit`: newest first,
  `startedAt` in [fromISO, toISO) (comlink's CandleTable: from inclusive, to exclusive), at most
  `limit` rows; paged backwards by moving `toISO` to the oldest `startedAt` received (a repeat, should
  a deployment treat toISO as inclusive, is dropped). `usdVolume` is USD and `trades` a count,
  both as live; `startingOpenInterest` is the open interest in base units at the candle's
  start, so × the candle's open price gives USD at the top of that hour (live: × oracle price).
- `GET /v4/historicalFunding/{ticker}?effectiveBeforeOrAt=ISO&limit`: newest first, settled
  hourly rates (× 8 for 8 h, as live) at `effectiveAt`, the funding tick's block time just after
  the hour (rounded to the nearest hour); paged backwards by moving `effectiveBeforeOrAt` to 1 ms
  before the oldest row received.
- `limit` may be at most the deployment's API_LIMIT_V4: 1000 in the current code, 100 in older
  code. A larger one is refused with HTTP 400 "limit must be … not greater than max: N": the
  download then continues with N (100 if the message names none). Pages shorter than 100 end the
  paging, so a deployment that silently capped at 100 would still be read in full.
- No mark- or index-price history (live has no mark price either; its index is the oracle) and
  no long/short ratio.
- About 100 requests per 10 s per IP (UNVERIFIED): history is paced at 5 requests a second.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, NamedTuple
from urllib.parse import quote

from perps_tracker.errors import ExchangeError, TemporaryExchangeError
from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.history import (
    Back,
    Download,
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
from perps_tracker.model.times import iso_ms  # the indexer's ISO 8601: 2026-11-21T00:00:00.000Z


def _market(ticker: str, row: dict, skipped: Skips) -> Market:
    oi, change = num(row.get("openInterest")), num(row.get("priceChange24H"))
    oracle = required(row.get("oraclePrice"), skipped)
    base, _, quote = ticker.partition("-")
    return Market(
        symbol=ticker, base=base.upper(), quote=(quote or "USD").upper(),
        volume_24h_usd=required(row.get("volume24H"), skipped),
        open_interest_usd=oi * oracle if oi is not None and oracle is not None else None,
        last_price=None,
        mark_price=None,
        index_price=oracle,  # the oracle price is all dYdX gives; summarize falls back to it for the BTC price
        **funding(num(row.get("nextFundingRate")), 1.0),  # hourly; the payload has no next settlement time
        price_change_24h_pct=pct_change(oracle, oracle - change) if None not in (oracle, change) else None,
        num_trades_24h=integer(row.get("trades24H")),
    )


def parse_perpetual_markets(payload: Any, skipped: Skips) -> list[Market]:
    """Markets from `perpetualMarkets`, active ones only. A record that is not an object is skipped
    and counted; a missing `volume24H` or `oraclePrice` is None and counted, the market kept.

    Sample::

        {"markets": {"BTC-USD": {"ticker": "BTC-USD", "status": "ACTIVE", "oraclePrice": "84000.5",
          "priceChange24H": "1500.5", "volume24H": "350000000.25", "trades24H": 45000,
          "nextFundingRate": "0.0000125", "openInterest": "850.5", "marketType": "CROSS"}, ...}}
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("markets"), dict):
        raise ValueError("expected an object with a markets object")
    markets = []
    for key, row in payload["markets"].items():
        if not isinstance(row, dict):
            skipped()
            continue
        if row.get("status") != "ACTIVE":
            continue
        markets.append(_market(str(row.get("ticker") or key), row, skipped))
    return markets


def parse_iso_ms(value: Any) -> int | None:
    """Unix milliseconds from an ISO 8601 string (`Z` or an offset), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(round(dt.timestamp() * 1000))


class HourCandle(NamedTuple):
    t: int  # startedAt, Unix seconds
    open: float
    close: float
    volume_usd: float
    trades: int | None
    open_interest: float | None  # startingOpenInterest: base units at `t`


def parse_history_candles(payload: Any, skipped: Skips) -> list[HourCandle]:
    """Candles from `candles/perpetualMarkets/{ticker}`; a record without a start, prices or USD
    volume is skipped and counted (a missing trade count or open interest is just None).

    Sample::

        {"candles": [{"startedAt": "2026-11-21T23:00:00.000Z", "ticker": "BTC-USD",
          "resolution": "1HOUR", "low": "83950", "high": "84200", "open": "84012", "close": "84120",
          "baseTokenVolume": "153.24", "usdVolume": "12880000.5", "trades": 4120,
          "startingOpenInterest": "850.5", "id": "..."}, ...]}
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("candles"), list):
        raise ValueError("expected an object with a candles list")
    candles = []
    for row in payload["candles"]:
        t = parse_iso_ms(row.get("startedAt")) if isinstance(row, dict) else None
        o, c, usd = (num(row.get(k)) for k in ("open", "close", "usdVolume")) if t is not None else (None,) * 3
        if t is None or o is None or c is None or usd is None:
            skipped()
            continue
        candles.append(HourCandle(t // 1000, o, c, usd, integer(row.get("trades")),
                                  num(row.get("startingOpenInterest"))))
    return candles


def parse_historical_funding(payload: Any, skipped: Skips) -> list[tuple[int, float]]:
    """(effectiveAt ms, hourly rate) rows from `historicalFunding/{ticker}`; a record without
    either is skipped and counted.

    Sample::

        {"historicalFunding": [{"ticker": "BTC-USD", "rate": "0.0000125", "price": "84000.5",
          "effectiveAt": "2026-11-21T23:00:00.412Z", "effectiveAtHeight": "51234567"}, ...]}
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("historicalFunding"), list):
        raise ValueError("expected an object with a historicalFunding list")
    rows = []
    for row in payload["historicalFunding"]:
        t = parse_iso_ms(row.get("effectiveAt")) if isinstance(row, dict) else None
        rate = num(row.get("rate")) if t is not None else None
        if t is None or rate is None:
            skipped()
            continue
        rows.append((t, rate))
    return rows


def limit_refused(error: ExchangeError, limit: int) -> int | None:
    """The smaller `limit` an indexer asks for when it refuses ours (HTTP 400 "limit must be a
    positive integer that is not greater than max: 100"), else None."""
    if isinstance(error, TemporaryExchangeError) or "HTTP 400" not in error.reason or "limit" not in error.reason:
        return None
    found = re.search(r"max:?\s*(\d+)", error.reason)
    smaller = int(found.group(1)) if found else SAFE_LIMIT
    return smaller if 0 < smaller < limit else (SAFE_LIMIT if limit > SAFE_LIMIT else None)


SAFE_LIMIT = 100  # the smallest API_LIMIT_V4 a deployment has had


class Dydx(Exchange):
    id = "dydx"
    kind = "DEX"

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        markets = self.parse("perpetualMarkets", parse_perpetual_markets, self.get("/v4/perpetualMarkets"), skipped)
        return self.summarize(markets, records_skipped=skipped.count)

    # -- history (backfill) ---------------------------------------------------------------

    history_per_minute = 300  # 5 a second: half of ~100 per 10 s per IP (UNVERIFIED)
    history_burst = 10
    history_workers = 8
    history_limit = 1000  # API_LIMIT_V4 of the current indexer code; lowered if refused

    def history(self, start: int, end: int, progress: Progress | None = None) -> VenueHistory:
        """Hourly history of [start, end): every ACTIVE market's 1 h candles (USD volume, trades,
        open interest) and BTC-USD's funding (see the module doc)."""
        d = self.history_download(progress)
        payload = d.get("/v4/perpetualMarkets", unplanned=True)
        markets = self.parse("perpetualMarkets", parse_perpetual_markets, payload, Skips())
        if not markets:
            raise self.error("no included markets in the response")
        btc = pick_btc(markets)
        tickers = [m.symbol for m in markets]
        d.plan(len(tickers) + (1 if btc else 0))
        # BTC first and alone: it is required, and it finds the deployment's limit
        results = d.markets(lambda ticker: self._market_history(d, ticker, start, end), tickers,
                            self.history_workers, first=btc.symbol if btc else None)
        builder, candles_of, failures = collect_markets(tickers, results)
        funding = None
        notes = [*HISTORY_NOTES, *failed_note(failures, len(tickers))]
        if btc is not None:
            funding = d.optional("BTC funding history", lambda: self._funding(d, btc.symbol, start, end))
        else:
            notes.append("no BTC perpetual: no BTC price or funding history")
        btc_candles = candles_of[btc.symbol] if btc else []
        return VenueHistory(
            exchange=self.id, kind=self.kind, start=start, end=end,
            volume_usd=builder.volume, markets=builder.markets, trades=builder.trades,
            open_interest_usd=builder.oi, btc_symbol=btc.symbol if btc else None,
            btc_open={c.t: c.open for c in btc_candles}, btc_close={c.t: c.close for c in btc_candles},
            btc_mark=None, btc_index=None, btc_funding=funding, long_share=None,
            symbols=len(tickers), symbols_failed=builder.failed, notes=d.finish(notes=notes),
        )

    def history_download(self, progress: Progress | None = None) -> LimitedDownload:
        pacer = Pacer(self.history_per_minute / 60, self.history_burst)
        return LimitedDownload(self, progress, pace=lambda path, params: pacer.take(), limit=self.history_limit)

    def market_history(self, d: LimitedDownload, market: Market, start: int, end: int) -> MarketHistory:
        return self._market_history(d, market.symbol, start, end)

    def market_extras(self, d: LimitedDownload, market: Market, start: int, end: int) -> dict:
        return {"funding": ("funding history", lambda: self._funding(d, market.symbol, start, end))}

    def _market_history(self, d: LimitedDownload, ticker: str, start: int, end: int) -> MarketHistory:
        """`ticker`'s 1 h candles starting in [start, end), paged backwards by toISO (exclusive), and its
        open interest at the top of each hour (startingOpenInterest × open)."""
        def query(lo: int, hi: int) -> dict:
            return {"resolution": "1HOUR", "fromISO": iso_ms(lo), "toISO": iso_ms(hi), "limit": d.limit}

        pager = Back(SAFE_LIMIT, query, step=0, scale=1000, size=lambda p: d.page_size(p["candles"]))
        candles = d.hourly(f"/v4/candles/perpetualMarkets/{quote(ticker, safe='')}", parse_history_candles, pager,
                           start, end, what="candles", planned=1)
        return MarketHistory(candles, [(c.t, c.open_interest * c.open) for c in candles if c.open_interest is not None])

    def _funding(self, d: LimitedDownload, ticker: str, start: int, end: int) -> dict[int, float]:
        """Settlement hour → rate per 8 h (hourly × 8, as live) for settlements in [start, end), paged
        backwards by effectiveBeforeOrAt (inclusive) until a settlement of `start`'s hour or older."""
        def query(lo: int, hi: int) -> dict:
            return {"effectiveBeforeOrAt": iso_ms(hi), "limit": d.limit}

        # a settlement stamped before half past `start` is `start`'s or older (settlement_hour): paging stops there
        last = (start + HOUR // 2) * 1000 - 1
        pager = Back(SAFE_LIMIT, query, size=lambda p: d.page_size(p["historicalFunding"]))
        rows = d.series("historicalFunding", f"/v4/historicalFunding/{quote(ticker, safe='')}",
                        parse_historical_funding, pager, last, end * 1000 - 1)
        return hourly_funding(rows, start, end)


class LimitedDownload(Download):
    """dYdX's download: paged requests ask `limit` at the deployment's maximum, found on the first refusal
    (`limit_refused`), when the refused request is asked again with the smaller limit."""

    def __init__(self, *args: Any, limit: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.limit = limit

    def get(self, path: str, params: dict | None = None, **kwargs: Any) -> Any:
        while True:
            try:
                return super().get(path, params, **kwargs)
            except ExchangeError as e:
                smaller = limit_refused(e, params["limit"]) if params and "limit" in params else None
                if smaller is None:
                    raise
                self.limit = min(self.limit, smaller)
                params, kwargs["unplanned"] = {**params, "limit": self.limit}, True

    def page_size(self, rows: list) -> int:
        """A page's size for `Back`'s end test against SAFE_LIMIT: a page that holds the limit asked (or
        100) is full, so a deployment that silently caps at 100 is still read to the end."""
        return SAFE_LIMIT if len(rows) >= min(self.limit, SAFE_LIMIT) else len(rows)


HISTORY_NOTES = (
    ("open interest is each candle's startingOpenInterest (base units at the top of the hour) × its open "
     "price; live multiplies by the oracle price"),
    "BTC price is the last trade (1 h candle close); live uses the oracle price",
    "no mark- or index-price history",
    "no long/short ratio",
)
