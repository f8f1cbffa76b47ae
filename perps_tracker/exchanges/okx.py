"""OKX v5 swaps — CEX. Instruments and tickers, plus all-swap funding, open interest and mark prices.

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
from perps_tracker.exchanges.base import Exchange, LiveFeed
from perps_tracker.exchanges.parsing import (
    Skips, funding_8h, integer, join_markets, newest, num, pct_change, venue_message,
)
from perps_tracker.liquidation import LONG, SHORT, LiquidationEvent, make_event
from perps_tracker.market import Market, VenueSnapshot

SETTLE_CCYS = ("USDT", "USDC")
HOUR_MS = 3_600_000.0
SWAP = {"instType": "SWAP"}


def data_list(payload: Any) -> list:
    """`data` of a v5 response; ValueError when the payload is not shaped like one."""
    rows = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        raise ValueError("expected {data: [...]}")
    return rows


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


def parse_funding_rates(payload: Any) -> dict[str, float | None]:
    """8-hour funding by instId from `funding-rate?instId=ANY`, each with its own interval.

    Sample::

        {"code": "0", "data": [{"instId": "BTC-USDT-SWAP", "fundingRate": "0.0001",
         "fundingTime": "1732089600000", "nextFundingTime": "1732118400000"}]}
    """
    rates = {}
    for inst_id, row in by_inst_id(payload).items():
        this, following = num(row.get("fundingTime")), num(row.get("nextFundingTime"))
        hours = (following - this) / HOUR_MS if this is not None and following is not None else None
        rates[inst_id] = funding_8h(num(row.get("fundingRate")), hours)
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


def parse_ticker(ticker: dict, instrument: dict, extras: dict[str, dict]) -> Market | None:
    """One included market; None when its last price or base-coin volume is missing."""
    inst_id = ticker["instId"]
    last, volume = num(ticker.get("last")), num(ticker.get("volCcy24h"))
    if last is None or volume is None:
        return None
    return Market(
        symbol=inst_id,
        base=inst_id.split("-")[0].upper(),
        quote=instrument["settleCcy"],
        volume_24h_usd=volume * last,
        open_interest_usd=extras["open_interest"].get(inst_id),
        last_price=last,
        mark_price=extras["marks"].get(inst_id),
        index_price=None,
        funding_rate_8h=extras["funding"].get(inst_id),
        price_change_24h_pct=pct_change(last, num(ticker.get("open24h"))),
    )


def parse_tickers(payload: Any, instruments: dict[str, dict], skipped: Skips, *,
                  funding: dict | None = None, open_interest: dict | None = None,
                  marks: dict | None = None) -> list[Market]:
    """Markets of the included instruments from `market/tickers`; other instIds are ignored.

    An included instrument without a ticker, or with a `""` last price or volume, is skipped
    and counted. `funding`, `open_interest`, `marks` map instId to values (None: unavailable).

    Sample::

        {"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "last": "84000.1",
         "open24h": "82000", "vol24h": "2500000", "volCcy24h": "25000.5", "ts": "1732089600000"}]}
    """
    extras = {"funding": funding or {}, "open_interest": open_interest or {}, "marks": marks or {}}
    return join_markets(by_inst_id(payload), instruments,
                        lambda ticker, instrument: parse_ticker(ticker, instrument, extras), skipped)


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


def top_families(markets: list[Market], n: int) -> list[str]:
    """The `n` instrument families with the largest 24 h USD volume, largest first."""
    volumes: dict[str, float] = {}
    for market in markets:
        family = family_of(market.symbol)
        volumes[family] = volumes.get(family, 0.0) + market.volume_24h_usd
    return sorted(volumes, key=lambda family: -volumes[family])[:max(n, 0)]


def page_extent(rows: list) -> tuple[int, int | None]:
    """How many details a `liquidation-orders` page (`data`) holds, and the oldest `ts` among them.

    Sample::

        [{"instId": "BTC-USDT-SWAP", "details": [{"ts": "1732089600000", ...}, {"ts": "1732089500000", ...}]}]
    """
    details = [detail for row in rows if isinstance(row, dict) and isinstance(row.get("details"), list)
               for detail in row["details"]]
    times = [integer(detail.get("ts")) for detail in details if isinstance(detail, dict)]
    return len(details), min((t for t in times if t is not None), default=None)


class Okx(Exchange):
    id = "okx"
    kind = "CEX"
    name = "OKX v5 swaps"
    base_url = "https://www.okx.com"
    ws_url = "wss://ws.okx.com:8443"
    error_code_field, ok_codes = "code", ("0",)  # errors come inside HTTP 200 bodies
    rate_limit_codes = ("50011", "50061")  # too many requests (per endpoint / per sub-account)
    liquidation_sources = ("ws", "rest")
    liquidations_sampled = "at most one liquidation per contract per second"
    liquidation_page = 100  # details per liquidation-orders page, OKX's maximum
    liquidation_pages = 50  # pages per family: a guard against reading an endless history
    liquidation_limit = 4  # families polled at once; liquidation-orders allows 40 requests / 2 s

    def fetched(self, endpoint: str, path: str, params: dict, parser, *, missing_ok: bool = False) -> Any:
        """GET `path` and parse it; None for a 404 when `missing_ok`."""
        payload = self.get(path, params, missing_ok=missing_ok)
        return None if payload is None and missing_ok else self.parse(endpoint, parser, payload)

    def maybe(self, what: str, path: str, params: dict, parser) -> Any:
        """An optional endpoint: its failure (or a 404) leaves `what` None and notes why."""
        return self.optional(what, lambda: self.fetched(what, path, params, parser, missing_ok=True))

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

    def live_feed(self, ws_url: str, symbols: int) -> LiveFeed:
        """`liquidation-orders` for every swap in one subscription; instruments first, for `ctVal`.
        OKX drops a connection silent for 30 s: "ping" every 20 s, answered "pong"."""
        instruments = self.instruments()
        subscribe = json.dumps({"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]})
        return LiveFeed(url=ws_url + "/ws/v5/public",
                        parse=lambda m, skipped: parse_liquidation_push(m, instruments, skipped),
                        subscribe=(subscribe,), heartbeat="ping", heartbeat_every=20.0,
                        ignore=frozenset({"pong"}), description=f"all swaps ({len(instruments)} instruments)")

    def poll_liquidations(self, start_ms: int, end_ms: int, symbols: int) -> list[LiquidationEvent]:
        """Liquidations with event time in [start_ms, end_ms] from `liquidation-orders`, for the
        `symbols` instrument families (BTC-USDT) with the largest 24 h volume.

        A family that fails is noted and left out; when all fail, the first error is raised.
        """
        got = self.parallel({"instruments": self.instruments,
                             "tickers": lambda: self.get("/api/v5/market/tickers", SWAP)})
        instruments = got["instruments"]
        markets = self.parse("tickers", parse_tickers, got["tickers"], instruments, Skips())
        families = top_families(markets, symbols)
        self.notes.append(f"liquidations: top {len(families)} instrument families by volume")
        results = self.fan_out(lambda family: self._family_liquidations(family, start_ms, end_ms, instruments),
                               families, limit=self.liquidation_limit)
        failed = [r for r in results if isinstance(r, ExchangeError)]
        if failed and len(failed) == len(results):
            raise failed[0]
        if failed:
            self.notes.append(f"liquidations missing for {len(failed)} of {len(families)} instrument families: "
                              f"{failed[0].reason}")
        events: dict[tuple, LiquidationEvent] = {}
        skipped = 0
        for result in results:
            if isinstance(result, ExchangeError):
                continue
            family_events, family_skipped, note = result
            skipped += family_skipped
            if note:
                self.notes.append(note)
            events.update((e.key(), e) for e in family_events if start_ms <= e.event_time_ms <= end_ms)
        if skipped:
            self.notes.append(f"{skipped} malformed liquidation record{'s' if skipped != 1 else ''} skipped")
        return sorted(events.values(), key=lambda e: e.event_time_ms)

    def _family_liquidations(self, family: str, start_ms: int, end_ms: int,
                             instruments: dict[str, dict]) -> tuple[list[LiquidationEvent], int, str | None]:
        """One family's events from `end_ms` back past `start_ms` (some repeated), how many details
        were malformed, and a note when its history could not be read back that far.

        Newest first; `after=ts` asks for details older than ts
        (docs-v5/en/#public-data-rest-api-get-liquidation-orders). Each page asks again for the
        oldest millisecond of the last, so details sharing it are not lost (duplicates are dropped).
        """
        events: list[LiquidationEvent] = []
        skipped, after = Skips(), end_ms + 1
        for _ in range(self.liquidation_pages):
            params = {**SWAP, "instFamily": family, "state": "filled", "limit": self.liquidation_page, "after": after}
            rows = self.fetched("liquidation-orders", "/api/v5/public/liquidation-orders", params, data_list)
            events += self.parse("liquidation-orders", parse_liquidation_rows, rows, instruments, skipped, "rest")
            count, oldest = page_extent(rows)
            if count < self.liquidation_page or (oldest is not None and oldest < start_ms):
                return events, skipped.count, None
            if oldest is None or oldest + 1 >= after:  # a full page within one millisecond: no way back
                return events, skipped.count, f"liquidation history of {family} cut at one crowded millisecond"
            after = oldest + 1
        return events, skipped.count, f"liquidation history of {family} cut at {self.liquidation_pages} pages"
