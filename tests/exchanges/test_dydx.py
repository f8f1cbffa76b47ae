"""dYdX v4 specifics: only ACTIVE markets, oracle prices, absolute 24h change, hourly funding."""

from __future__ import annotations

import copy

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.dydx import Dydx, parse_perpetual_markets
from perps_tracker.exchanges.parsing import Skips
from tests.fakes import Reply, load


def btc(**changes):
    row = copy.deepcopy(load("dydx", "perpetualMarkets")["markets"]["BTC-USD"])
    row.update(changes)
    return {"markets": {"BTC-USD": row}}


def markets_by_symbol(payload=None, skipped=None):
    payload = load("dydx", "perpetualMarkets") if payload is None else payload
    return {m.symbol: m for m in parse_perpetual_markets(payload, skipped or Skips())}


def test_only_active_markets_are_included():
    assert set(markets_by_symbol()) == {"BTC-USD", "ETH-USD", "SOL-USD", "BROKEN-USD", "NOPRICE-USD"}


@pytest.mark.parametrize("status", ["PAUSED", "CANCEL_ONLY", "POST_ONLY", "INITIALIZING", "FINAL_SETTLEMENT", None])
def test_each_inactive_status_is_excluded(status):
    assert set(markets_by_symbol(btc())) == {"BTC-USD"}
    assert markets_by_symbol(btc(status=status)) == {}


def test_inactive_markets_are_filtered_before_their_prices_are_read():
    skipped = Skips()
    markets_by_symbol(btc(status="INITIALIZING", oraclePrice="", volume24H="NaN"), skipped)
    assert skipped.count == 0  # left out, not counted as broken


@pytest.mark.parametrize("changes", [{"volume24H": "NaN"}, {"volume24H": ""}, {"volume24H": None},
                                     {"oraclePrice": ""}, {"oraclePrice": "NaN"}])
def test_missing_volume_or_oracle_price_is_counted_and_the_market_kept(changes):
    skipped = Skips()
    market = markets_by_symbol(btc(**changes), skipped)["BTC-USD"]
    assert skipped.count == 1 and market.num_trades_24h == 45000
    if "oraclePrice" in changes:  # no price: no USD open interest or percentage either
        assert (market.index_price, market.open_interest_usd, market.price_change_24h_pct) == (None, None, None)
        assert market.volume_24h_usd == 350000000.25
    else:
        assert market.volume_24h_usd is None and market.index_price == 84000.5


def test_fixture_skips_two_records():
    skipped = Skips()
    markets_by_symbol(skipped=skipped)
    assert skipped.count == 2


def test_oracle_price_stands_in_for_mark_and_last():
    market = markets_by_symbol()["BTC-USD"]
    assert (market.last_price, market.mark_price, market.index_price) == (None, None, 84000.5)
    assert (market.base, market.quote) == ("BTC", "USD")


def test_open_interest_in_usd_and_none_when_missing():
    markets = markets_by_symbol()
    assert markets["ETH-USD"].open_interest_usd == pytest.approx(12000.25 * 2950)  # JSON-number price
    assert markets["SOL-USD"].open_interest_usd is None


def test_absolute_change_becomes_percent():
    markets = markets_by_symbol()
    assert markets["BTC-USD"].price_change_24h_pct == pytest.approx(1500.5 / 82500 * 100)
    assert markets["ETH-USD"].price_change_24h_pct == pytest.approx(-50 / 3000 * 100)
    assert markets["SOL-USD"].price_change_24h_pct == pytest.approx(0.0)
    # a change equal to the price (reference 0) gives no percentage rather than a division error
    assert markets_by_symbol(btc(priceChange24H="84000.5"))["BTC-USD"].price_change_24h_pct is None


def test_hourly_funding_becomes_8_hours():
    markets = markets_by_symbol()
    assert markets["BTC-USD"].funding_rate_8h == pytest.approx(0.0001)
    assert markets["ETH-USD"].funding_rate_8h == pytest.approx(-0.00008)


def test_trades_count_from_numbers_or_strings():
    assert markets_by_symbol(btc(trades24H="45000"))["BTC-USD"].num_trades_24h == 45000
    assert markets_by_symbol(btc(trades24H=None))["BTC-USD"].num_trades_24h is None
    assert sum(m.num_trades_24h for m in markets_by_symbol().values()) == 87000 + 7 + 11  # BROKEN-, NOPRICE-USD


@pytest.mark.parametrize("payload", [{}, [], {"markets": []}, {"markets": None}, None])
def test_malformed_payloads_raise(payload):
    with pytest.raises(ValueError):
        parse_perpetual_markets(payload, Skips())


def test_unexpected_payload_is_one_line_error(fake, client):
    fake.install("dydx")
    fake.add("dydx", "/v4/perpetualMarkets", Reply({"markets": [{"ticker": "BTC-USD"}]}))
    with pytest.raises(ExchangeError, match="unexpected perpetualMarkets payload"):
        Dydx(client, fake.url("dydx")).fetch()


def test_indexer_error_is_reported(fake, client):
    fake.install("dydx")
    fake.add("dydx", "/v4/perpetualMarkets",
             Reply({"errors": [{"msg": "Invalid value", "param": "limit", "location": "query"}]}, status=400))
    with pytest.raises(ExchangeError, match="HTTP 400 at .*/v4/perpetualMarkets: Invalid value"):
        Dydx(client, fake.url("dydx")).fetch()
