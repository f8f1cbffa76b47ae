"""Bitget v2 USDT futures — CEX. Contracts, tickers and funding intervals, one call each.

Docs: https://www.bitget.com/api-doc/contract/market/Get-All-Symbols-Contracts
`productType=USDT-FUTURES` mixes perpetuals with dated contracts: a symbol is included only when
its contract is `symbolType=perpetual` and `symbolStatus=normal` (not listed/maintain/limit_open/
restrictedAPI/off). `usdtVolume` is USD, `holdingAmount` is base coin, `change24h` a fraction.
Funding intervals (1, 2, 4 or 8 h) come from `current-fund-rate`, else the contract's `fundInterval`.
Errors may arrive inside HTTP 200 with a `code` other than "00000". The account long/short ratio
ignores `limit` and returns about 30 rows, oldest first.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.parsing import Skips, funding_8h, newest, num
from perps_tracker.market import Market, VenueSnapshot

PRODUCT = {"productType": "USDT-FUTURES"}
DEFAULT_INTERVAL_HOURS = 8.0


class Contract(NamedTuple):
    base: str
    quote: str
    interval_hours: float | None  # the contract's own `fundInterval`


class Funding(NamedTuple):
    rate: float | None
    interval_hours: float | None


def _rows(payload: Any) -> list:
    """The `data` list of a Bitget answer."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ValueError(f"expected an object with a data list, got {type(payload).__name__}")
    return payload["data"]


def parse_contracts(payload: Any) -> dict[str, Contract]:
    """Included contracts by symbol: perpetual and trading normally.

    Sample::

        {"code": "00000", "data": [{"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT",
          "symbolType": "perpetual", "symbolStatus": "normal", "deliveryTime": "", "fundInterval": "8"}]}
    """
    contracts = {}
    for row in _rows(payload):
        if not isinstance(row, dict) or not row.get("symbol") or not row.get("baseCoin"):
            continue
        if row.get("symbolType") != "perpetual" or row.get("symbolStatus") != "normal":
            continue
        quote = str(row.get("quoteCoin") or "USDT").upper()
        contracts[row["symbol"]] = Contract(str(row["baseCoin"]).upper(), quote, num(row.get("fundInterval")))
    return contracts


def parse_funding(payload: Any) -> dict[str, Funding]:
    """Current funding rate and interval (hours) by symbol.

    Sample::

        {"code": "00000", "data": [{"symbol": "BTCUSDT", "fundingRate": "0.000068",
          "fundingRateInterval": "8", "nextUpdate": "1743062400000"}]}
    """
    return {
        row["symbol"]: Funding(num(row.get("fundingRate")), num(row.get("fundingRateInterval")))
        for row in _rows(payload) if isinstance(row, dict) and row.get("symbol")
    }


def _market(row: dict, contract: Contract, funding: Funding | None, volume: float) -> Market:
    mark, oi, change = num(row.get("markPrice")), num(row.get("holdingAmount")), num(row.get("change24h"))
    rate = funding.rate if funding and funding.rate is not None else num(row.get("fundingRate"))
    interval = (funding.interval_hours if funding else None) or contract.interval_hours or DEFAULT_INTERVAL_HOURS
    return Market(
        symbol=row["symbol"], base=contract.base, quote=contract.quote, volume_24h_usd=volume,
        open_interest_usd=oi * mark if oi is not None and mark is not None else None,
        last_price=num(row.get("lastPr")), mark_price=mark, index_price=num(row.get("indexPrice")),
        funding_rate_8h=funding_8h(rate, interval),
        price_change_24h_pct=change * 100.0 if change is not None else None,
    )


def parse_tickers(payload: Any, contracts: dict[str, Contract], funding: dict[str, Funding],
                  skipped: Skips) -> list[Market]:
    """Markets from the tickers of the included contracts.

    Sample::

        {"code": "00000", "data": [{"symbol": "BTCUSDT", "lastPr": "84000.5", "change24h": "-0.0125",
          "usdtVolume": "5000000000.5", "markPrice": "84010", "indexPrice": "83990.25",
          "fundingRate": "0.000125", "holdingAmount": "45000.125", "deliveryStatus": "", "ts": "1763800000000"}]}
    """
    markets = []
    for row in _rows(payload):
        contract = contracts.get(str(row.get("symbol"))) if isinstance(row, dict) else None
        if contract is None:
            continue
        volume = num(row.get("usdtVolume"))
        if volume is None:
            skipped()
            continue
        markets.append(_market(row, contract, funding.get(row["symbol"]), volume))
    return markets


def parse_long_short(payload: Any) -> float | None:
    """The newest account long/short ratio R (rows come oldest first; order is not trusted).

    Sample::

        {"code": "00000", "data": [{"longAccountRatio": "0.6491", "shortAccountRatio": "0.3509",
          "longShortAccountRatio": "1.85", "ts": "1763798400000"}, ...]}
    """
    row = newest((r for r in _rows(payload) if isinstance(r, dict)), lambda r: r.get("ts"))
    if row is None:
        return None
    ratio = num(row.get("longShortAccountRatio"))
    if ratio is None:
        long, short = num(row.get("longAccountRatio")), num(row.get("shortAccountRatio"))
        ratio = long / short if long is not None and short else None
    return ratio


class Bitget(Exchange):
    id = "bitget"
    kind = "CEX"
    name = "Bitget v2 USDT futures"
    base_url = "https://api.bitget.com"
    error_code_field, ok_codes, rate_limit_codes = "code", ("00000",), ("429",)  # errors may come in HTTP 200

    def long_short_ratio(self) -> float | None:
        payload = self.get("/api/v2/mix/market/account-long-short", {"symbol": "BTCUSDT", "period": "1h"},
                           missing_ok=True)
        return None if payload is None else self.parse("account-long-short", parse_long_short, payload)

    def funding(self) -> dict[str, Funding]:
        payload = self.get("/api/v2/mix/market/current-fund-rate", PRODUCT, missing_ok=True)
        return {} if payload is None else self.parse("current-fund-rate", parse_funding, payload)

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        got = self.parallel({
            "contracts": lambda: self.get("/api/v2/mix/market/contracts", PRODUCT),
            "tickers": lambda: self.get("/api/v2/mix/market/tickers", PRODUCT),
            "funding": lambda: self.optional("funding intervals", self.funding),
            "ratio": lambda: self.optional("long/short ratio", self.long_short_ratio),
        })
        contracts = self.parse("contracts", parse_contracts, got["contracts"])
        markets = self.parse("tickers", parse_tickers, got["tickers"], contracts, got["funding"] or {}, skipped)
        return self.summarize(markets, long_short_ratio=got["ratio"], records_skipped=skipped.count)
