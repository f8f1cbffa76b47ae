"""OKX v5 swaps — CEX. Instruments and tickers, plus all-swap funding, open interest and mark prices.

Docs: https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments
Quirks: errors come inside HTTP 200 bodies (`code` ≠ "0"); SWAP tickers include the
coin-margined `-USD-SWAP` contracts; `volCcy24h` is in the base coin (× last for USD); no
24h % field (from `open24h`); untraded instruments carry `""` prices; funding intervals
differ per symbol (`nextFundingTime − fundingTime`); no index price in the tickers.
"""

from __future__ import annotations

from typing import Any

from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.parsing import Skips, funding_8h, join_markets, newest, num, pct_change
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


class Okx(Exchange):
    id = "okx"
    kind = "CEX"
    name = "OKX v5 swaps"
    base_url = "https://www.okx.com"
    ws_url = "wss://ws.okx.com:8443"
    error_code_field, ok_codes = "code", ("0",)  # errors come inside HTTP 200 bodies
    rate_limit_codes = ("50011", "50061")  # too many requests (per endpoint / per sub-account)

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
