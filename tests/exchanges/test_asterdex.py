"""AsterDEX specifics: a Binance subclass that only changes identity and what it lacks — Aster's
fundingInfo fields, a 404 open-interest endpoint (stop asking), no long/short ratio."""

from __future__ import annotations

import pytest
from pytest import approx

from perps_tracker.exchanges.asterdex import Asterdex
from perps_tracker.exchanges.binance import (
    Binance,
    build_markets,
    parse_exchange_info,
    parse_funding_info,
    parse_rows,
)
from perps_tracker.exchanges.parsing import Skips
from tests.fakes import load
from tests.fakes.asterdex import EXPECTED, install
from tests.fakes.binance import OPEN_INTEREST, RATIO


def aster(fake, client, **attributes) -> Asterdex:
    exchange = Asterdex(client, fake.url("asterdex"))
    for name, value in attributes.items():
        setattr(exchange, name, value)
    return exchange


def test_is_binance_with_another_identity_and_fewer_endpoints():
    assert issubclass(Asterdex, Binance) and Asterdex.fetch is Binance.fetch
    declared = {name for name in vars(Asterdex) if not name.startswith("_")}
    assert declared == {"id", "kind", "name", "base_url", "ws_url", "long_short_path",
                        "liquidation_sources", "liquidations_sampled"}
    assert (Asterdex.id, Asterdex.kind, Asterdex.base_url) == ("asterdex", "DEX", "https://fapi.asterdex.com")
    assert Asterdex.ws_url is None and Asterdex.long_short_path is None


def test_asters_funding_info_fields():
    payload = load("asterdex", "fundingInfo")
    assert {"fundingFeeCap", "fundingFeeFloor", "interestRate", "time"} <= set(payload[0])
    assert "adjustedFundingRateCap" not in payload[0]
    assert parse_funding_info(payload) == {"BTCUSDT": 4.0, "ETHUSDT": 8.0, "ASTERUSDT": 1.0, "CAKEUSDT": 8.0}


def test_fixture_markets_and_funding_intervals():
    skipped = Skips()
    instruments = parse_exchange_info(load("asterdex", "exchangeInfo"), Asterdex.quotes, skipped)
    assert list(instruments) == ["BTCUSDT", "ETHUSDT", "ASTERUSDT", "CAKEUSDT"]  # not ETHUSD1, not SETTLING
    markets = build_markets(instruments, parse_rows(load("asterdex", "ticker_24hr")),
                            parse_rows(load("asterdex", "premiumIndex")),
                            parse_funding_info(load("asterdex", "fundingInfo")), None, skipped)
    by_symbol = {m.symbol: m for m in markets}
    assert list(by_symbol) == ["BTCUSDT", "ETHUSDT", "ASTERUSDT", "CAKEUSDT"] and skipped.count == 1
    assert by_symbol["CAKEUSDT"].volume_24h_usd is None  # "": counted, the market kept
    assert by_symbol["BTCUSDT"].funding_rate_8h == approx(0.0001)  # 0.00005 every 4 h
    assert by_symbol["ETHUSDT"].funding_rate_8h == approx(0.0001)  # 0.0001 every 8 h
    assert by_symbol["ASTERUSDT"].funding_rate_8h == approx(-0.0001)  # -0.0000125 hourly
    assert by_symbol["ASTERUSDT"].num_trades_24h == 125000  # "count" as a string


def test_open_interest_404_is_no_oi_and_stops_the_requests(fake, client):
    install(fake)
    exchange = aster(fake, client, open_interest_limit=1)
    snap = exchange.fetch()
    assert fake.count("asterdex", OPEN_INTEREST) == 1  # not one doomed request per symbol
    assert snap.ok and snap.open_interest_usd is None
    assert snap.records_skipped == EXPECTED["records_skipped"]  # a missing endpoint is not a skipped record
    assert exchange.notes == [f"open interest unavailable: {OPEN_INTEREST} answered 404"]


def test_long_short_ratio_is_not_requested(fake, client):
    install(fake)
    snap = aster(fake, client).fetch()
    assert fake.count("asterdex", RATIO) == 0
    assert {r.path for r in fake.requests} == {"/fapi/v1/exchangeInfo", "/fapi/v1/ticker/24hr",
                                               "/fapi/v1/premiumIndex", "/fapi/v1/fundingInfo", OPEN_INTEREST}
    assert snap.long_short_ratio is None and snap.long_share is None


@pytest.mark.parametrize("limit", [1, 50])
def test_open_interest_is_used_where_aster_answers_it(fake, client, limit):
    install(fake, open_interest=[{"symbol": "BTCUSDT", "openInterest": "1500.5", "time": 1764072000000},
                                 {"symbol": "ETHUSDT", "openInterest": 20000, "time": 1764072000000},
                                 {"symbol": "ASTERUSDT", "openInterest": "80000000.25", "time": 1764072000000}])
    snap = aster(fake, client, open_interest_limit=limit).fetch()
    assert snap.open_interest_usd == approx(1500.5 * 84120.5 + 20000 * 3084.0 + 80000000.25 * 1.2395)
    assert snap.records_skipped == 2  # CAKEUSDT's volume and its OI ("Invalid symbol."): the market is kept
