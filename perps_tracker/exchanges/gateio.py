"""Gate.io v4 USDT futures — CEX. Contracts and tickers of the USDT-settled perpetuals.

Docs: https://www.gate.io/docs/developers/apiv4/en/#futures
`/futures/usdt/...` lists only USDT-settled linear perpetuals (dated futures live under
`/delivery/`). Sizes are in contracts: OI = `total_size` × `quanto_multiplier` × `mark_price`.
`funding_interval` is in seconds, `change_percentage` already in percent. The long share comes from
the BTC_USDT contract's `long_users` / `short_users`. Errors are HTTP errors with
`{"label", "message"}`, never inside a 200 body.
"""

from __future__ import annotations

from typing import Any

from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.parsing import Skips, funding_8h, num
from perps_tracker.market import Market, VenueSnapshot

BTC_CONTRACT = "BTC_USDT"


def _rows(payload: Any) -> list:
    if not isinstance(payload, list):
        raise ValueError(f"expected a list, got {type(payload).__name__}")
    return [row for row in payload if isinstance(row, dict)]


def _trading(contract: dict) -> bool:
    """Not delisting, `status` trading (when given) and linear (`type` direct, when given)."""
    if contract.get("in_delisting") is True:
        return False
    status, kind = contract.get("status"), contract.get("type")
    return status in (None, "", "trading") and kind in (None, "", "direct")


def parse_contracts(payload: Any) -> dict[str, dict]:
    """Trading contracts by name.

    Sample::

        [{"name": "BTC_USDT", "type": "direct", "quanto_multiplier": "0.0001", "funding_interval": 28800,
          "funding_rate": "0.0001", "mark_price": "84010", "index_price": "83990", "long_users": 6000,
          "short_users": 4000, "in_delisting": false, "status": "trading"}, ...]
    """
    return {row["name"]: row for row in _rows(payload) if row.get("name") and _trading(row)}


def parse_long_share(contract: dict | None) -> float | None:
    """long_users / (long_users + short_users) of one contract, None without users."""
    if contract is None:
        return None
    long, short = num(contract.get("long_users")), num(contract.get("short_users"))
    if long is None or short is None or long < 0 or short < 0 or long + short == 0:
        return None
    return long / (long + short)


def _either(primary: Any, fallback: Any) -> float | None:
    """The first of two raw numbers that is present."""
    value = num(primary)
    return value if value is not None else num(fallback)


def _market(name: str, row: dict, contract: dict, volume: float) -> Market:
    mark = _either(row.get("mark_price"), contract.get("mark_price"))
    size, multiplier = num(row.get("total_size")), num(contract.get("quanto_multiplier"))
    interval = num(contract.get("funding_interval"))  # seconds
    return Market(
        symbol=name, base=name.partition("_")[0].upper(), quote="USDT", volume_24h_usd=volume,
        open_interest_usd=size * multiplier * mark if None not in (size, multiplier, mark) else None,
        last_price=num(row.get("last")), mark_price=mark, index_price=num(row.get("index_price")),
        funding_rate_8h=funding_8h(_either(row.get("funding_rate"), contract.get("funding_rate")),
                                   interval / 3600.0 if interval is not None else None),
        price_change_24h_pct=num(row.get("change_percentage")),
    )


def parse_tickers(payload: Any, contracts: dict[str, dict], skipped: Skips) -> list[Market]:
    """Markets from the tickers of trading contracts.

    Sample::

        [{"contract": "BTC_USDT", "last": "84005.5", "change_percentage": "-1.5", "total_size": "120000000.5",
          "volume_24h_quote": "3000000000.25", "mark_price": "84010", "index_price": "83990",
          "funding_rate": "0.0001"}, ...]
    """
    markets = []
    for row in _rows(payload):
        name = str(row.get("contract"))
        contract = contracts.get(name)
        if contract is None:
            continue
        volume = num(row.get("volume_24h_quote"))
        if volume is None:
            skipped()
            continue
        markets.append(_market(name, row, contract, volume))
    return markets


class Gateio(Exchange):
    id = "gateio"
    kind = "CEX"
    name = "Gate.io v4 USDT futures"
    base_url = "https://api.gateio.ws"

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        got = self.parallel({
            "contracts": lambda: self.get("/api/v4/futures/usdt/contracts"),
            "tickers": lambda: self.get("/api/v4/futures/usdt/tickers"),
        })
        contracts = self.parse("contracts", parse_contracts, got["contracts"])
        markets = self.parse("tickers", parse_tickers, got["tickers"], contracts, skipped)
        return self.summarize(markets, long_share=parse_long_share(contracts.get(BTC_CONTRACT)),
                              records_skipped=skipped.count)
