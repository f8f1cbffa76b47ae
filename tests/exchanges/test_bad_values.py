"""Bad values are values, not markets: for every venue in the registry, a market whose volume, open
interest or trade count is missing, NaN or absurd keeps being counted; only that value is left out
of the sums (and counted in `records_skipped`), and the BTC line still comes from the BTC market.

Each test fetches the fixtures once as they are, then again with the value spoiled in every other
market (and always in the BTC market), served by the loopback fake.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges import EXCHANGES, Exchange
from perps_tracker.model.market import Market, pick_btc
from tests.fakes import venue_module

VENUES = sorted(EXCHANGES)
Rows = Callable[[Any], list[tuple[str, dict]]]  # (symbol, row) of each market in a reply body


def listed(key: str, inner: Callable[[Any], Any] = lambda body: body) -> Rows:
    """Rows of a body whose markets are a list of objects carrying their symbol in `key`."""
    def rows(body):
        items = inner(body) if isinstance(body, (dict, list)) else None
        return [(row[key], row) for row in items or [] if isinstance(row, dict) and key in row]
    return rows


def one(key: str) -> Rows:
    """The single row of a per-symbol answer (Binance `openInterest?symbol=X`)."""
    return lambda body: [(body[key], body)] if isinstance(body, dict) and key in body else []


def hyperliquid(body) -> list[tuple[str, dict]]:
    if not (isinstance(body, list) and len(body) == 2 and isinstance(body[0], dict)):
        return []  # not metaAndAssetCtxs
    return [(meta["name"], ctx) for meta, ctx in zip(body[0]["universe"], body[1])]


def dydx(body) -> list[tuple[str, dict]]:
    markets = body.get("markets") if isinstance(body, dict) else None
    return [(row.get("ticker") or key, row) for key, row in (markets or {}).items()]


@dataclass(frozen=True)
class Field:
    """Where a venue sends one market value: the endpoint, how to find each market's row in its
    answer, and the field names (all of them are spoiled)."""

    path: str
    rows: Rows
    names: tuple[str, ...]
    method: str = "GET"


BINANCE_TICKER = listed("symbol")
DERIBIT_SUMMARY = "/api/v2/public/get_book_summary_by_currency"
DERIBIT_ROWS = listed("instrument_name", lambda b: b["result"])
VOLUME = {
    "binance": Field("/fapi/v1/ticker/24hr", BINANCE_TICKER, ("quoteVolume",)),
    "asterdex": Field("/fapi/v1/ticker/24hr", BINANCE_TICKER, ("quoteVolume",)),
    "bybit": Field("/v5/market/tickers", listed("symbol", lambda b: b["result"]["list"]), ("turnover24h",)),
    "okx": Field("/api/v5/market/tickers", listed("instId", lambda b: b["data"]), ("volCcy24h",)),
    "bitget": Field("/api/v2/mix/market/tickers", listed("symbol", lambda b: b["data"]), ("usdtVolume",)),
    "gateio": Field("/api/v4/futures/usdt/tickers", listed("contract"), ("volume_24h_quote",)),
    "hyperliquid": Field("/info", hyperliquid, ("dayNtlVlm",), method="POST"),
    "dydx": Field("/v4/perpetualMarkets", dydx, ("volume24H",)),
    "deribit": Field(DERIBIT_SUMMARY, DERIBIT_ROWS, ("volume_usd",)),
}
OPEN_INTEREST = {  # AsterDEX has no open interest
    "binance": Field("/fapi/v1/openInterest", one("symbol"), ("openInterest",)),
    "bybit": Field("/v5/market/tickers", listed("symbol", lambda b: b["result"]["list"]),
                   ("singleOpenInterestValue", "openInterestValue")),
    "okx": Field("/api/v5/public/open-interest", listed("instId", lambda b: b["data"]), ("oiUsd",)),
    "bitget": Field("/api/v2/mix/market/tickers", listed("symbol", lambda b: b["data"]), ("holdingAmount",)),
    "gateio": Field("/api/v4/futures/usdt/tickers", listed("contract"), ("total_size",)),
    "hyperliquid": Field("/info", hyperliquid, ("openInterest",), method="POST"),
    "dydx": Field("/v4/perpetualMarkets", dydx, ("openInterest",)),
    "deribit": Field(DERIBIT_SUMMARY, DERIBIT_ROWS, ("open_interest",)),
}
TRADES = {  # the venues that report trade counts
    "binance": Field("/fapi/v1/ticker/24hr", BINANCE_TICKER, ("count",)),
    "asterdex": Field("/fapi/v1/ticker/24hr", BINANCE_TICKER, ("count",)),
    "dydx": Field("/v4/perpetualMarkets", dydx, ("trades24H",)),
}
MISSING = object()  # the field is left out of the row
BAD = {"missing": MISSING, "null": None, "NaN": "NaN", "empty": "", "negative": "-1e30"}
BTC_LINE = ("btc_price", "btc_mark_price", "btc_index_price", "btc_funding_rate_8h", "btc_price_change_24h_pct")


@pytest.fixture
def summarized(monkeypatch) -> list[list[Market]]:
    """The markets each fetch hands to `Exchange.summarize`, in call order."""
    seen: list[list[Market]] = []
    original = Exchange.summarize

    def spy(self, markets, **kwargs):
        seen.append(list(markets))
        return original(self, markets, **kwargs)

    monkeypatch.setattr(Exchange, "summarize", spy)
    return seen


def fetch(venue: str, fake, client):
    return EXCHANGES[venue](client, fake.url(venue)).fetch()


def spoil(fake, venue: str, where: Field, symbols: set[str], value: Any) -> None:
    """Serve `where.path` as installed, with `where.names` set to `value` in the rows of `symbols`."""
    original = fake.routes[(venue, where.method, where.path)]

    def respond(request):
        reply = original(request) if callable(original) else original
        body = copy.deepcopy(reply.body)
        for symbol, row in where.rows(body):
            if symbol in symbols:
                for name in where.names:
                    if value is MISSING:
                        row.pop(name, None)
                    else:
                        row[name] = value
        return dataclasses.replace(reply, body=body)

    fake.add(venue, where.path, respond, where.method)


def every_other(markets: list[Market], has: Callable[[Market], bool]) -> set[str]:
    """Every other market that has the value, and the BTC market (its line must not move)."""
    chosen = {m.symbol for m in [m for m in markets if has(m)][::2]}
    btc = pick_btc(markets)
    return chosen | ({btc.symbol} if btc is not None and has(btc) else set())


def spoiled_fetch(venue, fake, client, summarized, fields: dict[str, Field], value_of, bad):
    """(snapshot as served, its markets, the spoiled symbols, snapshot with the value spoiled)."""
    fake.install(venue)
    before = fetch(venue, fake, client)
    markets = summarized[-1]
    symbols = every_other(markets, lambda m: value_of(m) is not None)
    assert symbols, "the fixture has markets with this value"
    spoil(fake, venue, fields[venue], symbols, bad)
    return before, markets, symbols, fetch(venue, fake, client)


def assert_unmoved(after, before, *fields: str) -> None:
    for name in ("markets", *fields, *BTC_LINE):
        assert getattr(after, name) == getattr(before, name), name


@pytest.mark.parametrize("bad", list(BAD))
@pytest.mark.parametrize("venue", VENUES)
def test_a_bad_volume_leaves_out_only_the_volume(venue, bad, fake, client, summarized):
    before, markets, symbols, after = spoiled_fetch(venue, fake, client, summarized, VOLUME,
                                                    lambda m: m.volume_24h_usd, BAD[bad])
    assert before.markets == len(markets) == venue_module(venue).EXPECTED["markets"]
    assert_unmoved(after, before, "num_trades_24h", "open_interest_usd")
    kept = [m.volume_24h_usd for m in markets if m.symbol not in symbols and m.volume_24h_usd is not None]
    assert after.volume_24h_usd == pytest.approx(sum(kept))
    assert after.records_skipped == before.records_skipped + len(symbols)


@pytest.mark.parametrize("venue", sorted(OPEN_INTEREST))
def test_negative_open_interest_is_missing_and_counted(venue, fake, client, summarized):
    before, markets, symbols, after = spoiled_fetch(venue, fake, client, summarized, OPEN_INTEREST,
                                                    lambda m: m.open_interest_usd, "-5")
    assert_unmoved(after, before, "volume_24h_usd", "num_trades_24h")
    kept = [m.open_interest_usd for m in markets if m.symbol not in symbols and m.open_interest_usd is not None]
    assert after.open_interest_usd == (pytest.approx(sum(kept)) if kept else None)
    assert after.records_skipped == before.records_skipped + len(symbols)


@pytest.mark.parametrize("venue", sorted(TRADES))
def test_negative_trade_count_is_missing_and_counted(venue, fake, client, summarized):
    before, markets, symbols, after = spoiled_fetch(venue, fake, client, summarized, TRADES,
                                                    lambda m: m.num_trades_24h, -7)
    assert_unmoved(after, before, "volume_24h_usd", "open_interest_usd")
    kept = [m.num_trades_24h for m in markets if m.symbol not in symbols and m.num_trades_24h is not None]
    assert after.num_trades_24h == sum(kept)
    assert after.records_skipped == before.records_skipped + len(symbols)


def test_every_venue_has_its_volume_field_in_the_table():
    assert sorted(VOLUME) == VENUES


@pytest.mark.parametrize("venue", VENUES)
def test_no_volume_in_any_market_fails_the_venue(venue, fake, client, summarized):
    # every market without its volume is a changed or broken API, not a venue with no volume
    fake.install(venue)
    fetch(venue, fake, client)
    spoil(fake, venue, VOLUME[venue], {m.symbol for m in summarized[-1]}, MISSING)
    with pytest.raises(ExchangeError) as err:
        fetch(venue, fake, client)
    assert str(err.value) == f"{venue}: no market in the response has a 24 h volume"
