"""Bybit v5 linear — CEX. Instruments (paged), one tickers call, the BTC account ratio.

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
from perps_tracker.exchanges.parsing import Skips, field, funding_8h, integer, join_markets, newest, num
from perps_tracker.liquidation import LONG, SHORT, LiquidationEvent, make_event
from perps_tracker.market import Market, VenueSnapshot

SETTLE_COINS = ("USDT", "USDC")
SUBSCRIBE_BATCH = 10  # topics per subscribe request
LIQUIDATION_SIDES = {"Buy": LONG, "Sell": SHORT}  # S=Buy: a long was liquidated (opposite of Binance)
MAX_PAGES = 20  # 1000 instruments a page: far beyond any real listing, a guard against a looping cursor


def result_list(payload: Any) -> list:
    """`result.list` of a v5 response; ValueError when the payload is not shaped like one."""
    result = payload.get("result") if isinstance(payload, dict) else None
    rows = result.get("list") if isinstance(result, dict) else None
    if not isinstance(rows, list):
        raise ValueError("expected {result: {list: [...]}}")
    return rows


def parse_instruments(payload: Any) -> dict[str, dict]:
    """Included instruments of one instruments-info page, by symbol: active USDT/USDC linear perpetuals.

    Sample::

        {"retCode": 0, "result": {"category": "linear", "nextPageCursor": "first%3DBTCUSDT%26last%3DETHUSDT",
         "list": [{"symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading",
                   "baseCoin": "BTC", "quoteCoin": "USDT", "settleCoin": "USDT", "fundingInterval": 480}]}}
    """
    return {
        row["symbol"]: row for row in result_list(payload)
        if isinstance(row, dict) and row.get("symbol")
        and row.get("contractType") == "LinearPerpetual" and row.get("status") == "Trading"
        and row.get("settleCoin") in SETTLE_COINS
    }


def next_cursor(payload: Any) -> str | None:
    """The cursor of the next instruments-info page, None on the last page."""
    return payload["result"].get("nextPageCursor") or None


def interval_hours(ticker: dict, instrument: dict) -> float | None:
    """The symbol's funding interval: the ticker's `fundingIntervalHour`, else instruments' minutes / 60."""
    hours = num(ticker.get("fundingIntervalHour"))
    if hours is not None:
        return hours
    minutes = num(instrument.get("fundingInterval"))
    return minutes / 60.0 if minutes is not None else None


def parse_ticker(ticker: dict, instrument: dict) -> Market | None:
    """One included market from its ticker; None when the 24h turnover is missing."""
    volume = num(ticker.get("turnover24h"))
    if volume is None:
        return None
    change = num(ticker.get("price24hPcnt"))
    return Market(
        symbol=instrument["symbol"],
        base=str(instrument.get("baseCoin") or "").upper(),
        quote=instrument["settleCoin"],
        volume_24h_usd=volume,
        open_interest_usd=num(field(ticker, "singleOpenInterestValue", "openInterestValue")),
        last_price=num(ticker.get("lastPrice")),
        mark_price=num(ticker.get("markPrice")),
        index_price=num(ticker.get("indexPrice")),
        funding_rate_8h=funding_8h(num(ticker.get("fundingRate")), interval_hours(ticker, instrument)),
        price_change_24h_pct=change * 100.0 if change is not None else None,
    )


def parse_tickers(payload: Any, instruments: dict[str, dict], skipped: Skips) -> list[Market]:
    """Markets of the included instruments from `/v5/market/tickers`; other symbols are ignored.

    An included instrument whose ticker is missing, or lacks `turnover24h`, is skipped and counted.

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
    return join_markets(tickers, instruments, parse_ticker, skipped)


def parse_account_ratio(payload: Any) -> float | None:
    """BTC long share (buyRatio / (buyRatio + sellRatio)) of the newest row of `/v5/market/account-ratio`.

    Sample::

        {"retCode": 0, "result": {"list": [{"symbol": "BTCUSDT", "buyRatio": "0.5426",
         "sellRatio": "0.4574", "timestamp": "1732089600000"}]}}
    """
    row = newest((r for r in result_list(payload) if isinstance(r, dict)), lambda r: r.get("timestamp"))
    if row is None:
        return None
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


def top_symbols(markets: list[Market], n: int) -> list[str]:
    """The `n` symbols with the largest 24 h volume."""
    return [m.symbol for m in sorted(markets, key=lambda m: m.volume_24h_usd, reverse=True)[:n]]


class Bybit(Exchange):
    id = "bybit"
    kind = "CEX"
    name = "Bybit v5 linear"
    base_url = "https://api.bybit.com"
    ws_url = "wss://stream.bybit.com"
    error_code_field, ok_codes = "retCode", ("0",)  # errors come inside HTTP 200 bodies
    rate_limit_codes = ("10006", "10018")  # "Too many visits", "Exceeded the IP rate limit"
    liquidation_sources = ("ws",)

    def instruments(self) -> dict[str, dict]:
        """Every included instrument, following `nextPageCursor` until it is empty."""
        included: dict[str, dict] = {}
        params: dict[str, Any] = {"category": "linear", "limit": 1000}
        for _ in range(MAX_PAGES):
            payload = self.get("/v5/market/instruments-info", params)
            included.update(self.parse("instruments-info", parse_instruments, payload))
            cursor = self.parse("instruments-info", next_cursor, payload)
            if cursor is None:
                return included
            params = {**params, "cursor": cursor}
        raise self.error(f"unexpected instruments-info payload: more than {MAX_PAGES} pages")

    def long_share(self) -> float | None:
        """BTCUSDT account long share over the last hour; None where the endpoint is missing (404)."""
        params = {"category": "linear", "symbol": "BTCUSDT", "period": "1h", "limit": 1}
        payload = self.get("/v5/market/account-ratio", params, missing_ok=True)
        return None if payload is None else self.parse("account-ratio", parse_account_ratio, payload)

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        got = self.parallel({
            "instruments": self.instruments,
            "tickers": lambda: self.get("/v5/market/tickers", {"category": "linear"}),
            "long_share": lambda: self.optional("long/short ratio", self.long_share),
        })
        markets = self.parse("tickers", parse_tickers, got["tickers"], got["instruments"], skipped)
        return self.summarize(markets, long_share=got["long_share"], records_skipped=skipped.count)

    def live_feed(self, ws_url: str, symbols: int) -> LiveFeed:
        """`allLiquidation.{symbol}` for the `symbols` perpetuals with the largest 24 h volume now,
        subscribed 10 topics a request; `{"op": "ping"}` every 20 s keeps the connection open."""
        got = self.parallel({
            "instruments": self.instruments,
            "tickers": lambda: self.get("/v5/market/tickers", {"category": "linear"}),
        })
        markets = self.parse("tickers", parse_tickers, got["tickers"], got["instruments"], Skips())
        if not markets:
            raise self.error("no included markets in the response: nothing to subscribe to")
        topics = [f"allLiquidation.{symbol}" for symbol in top_symbols(markets, symbols)]
        frames = tuple(json.dumps({"op": "subscribe", "args": topics[i:i + SUBSCRIBE_BATCH]})
                       for i in range(0, len(topics), SUBSCRIBE_BATCH))
        return LiveFeed(url=ws_url + "/v5/public/linear", parse=parse_all_liquidation, subscribe=frames,
                        heartbeat=json.dumps({"op": "ping"}), heartbeat_every=20.0,
                        description=f"{len(topics)} symbols")
