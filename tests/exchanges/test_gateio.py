"""Gate.io v4 specifics: contract exclusions, quanto sizes, funding seconds, long share, errors."""

from __future__ import annotations

import copy

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.gateio import (
    Gateio,
    parse_contracts,
    parse_long_share,
    parse_tickers,
)
from perps_tracker.exchanges.parsing import Skips
from tests.fakes import Reply, load


def btc_contract(**changes):
    row = copy.deepcopy(load("gateio", "contracts")[0])  # BTC_USDT, trading
    row.update(changes)
    return row


def markets_by_symbol(contracts=None, skipped=None):
    contracts = parse_contracts(load("gateio", "contracts") if contracts is None else contracts)
    return {m.symbol: m for m in parse_tickers(load("gateio", "tickers"), contracts, skipped or Skips())}


def test_only_trading_linear_contracts_are_included():
    assert set(parse_contracts(load("gateio", "contracts"))) == {"BTC_USDT", "ETH_USDT", "PEPE_USDT", "BAD_USDT"}


@pytest.mark.parametrize("changes", [
    {"in_delisting": True},
    {"status": "delisting"},
    {"status": "delisted"},
    {"status": "prelaunch"},
    {"type": "inverse"},
])
def test_each_exclusion_rule(changes):
    assert set(parse_contracts([btc_contract()])) == {"BTC_USDT"}
    assert parse_contracts([btc_contract(**changes)]) == {}


def test_status_may_be_absent():
    row = btc_contract()
    del row["status"], row["type"]
    assert set(parse_contracts([row])) == {"BTC_USDT"}


def test_tickers_without_a_trading_contract_are_left_out():
    assert set(markets_by_symbol()) == {"BTC_USDT", "ETH_USDT", "PEPE_USDT", "BAD_USDT"}


def test_nan_volume_is_counted_and_the_market_kept():
    skipped = Skips()
    bad = markets_by_symbol(skipped=skipped)["BAD_USDT"]
    assert bad.volume_24h_usd is None and bad.last_price == 2.5 and skipped.count == 1


def test_contract_without_a_ticker_is_counted():
    skipped = Skips()
    contracts = parse_contracts(load("gateio", "contracts"))
    tickers = [row for row in load("gateio", "tickers") if row["contract"] != "ETH_USDT"]
    markets = parse_tickers(tickers, contracts, skipped)
    assert "ETH_USDT" not in {m.symbol for m in markets} and skipped.count == 1 + 1  # and BAD_USDT's volume


def test_open_interest_converts_contracts_to_usd():
    markets = markets_by_symbol()
    # fractional total_size, quanto_multiplier as a JSON number
    assert markets["ETH_USDT"].open_interest_usd == pytest.approx(5000000 * 0.01 * 2950.5)
    # PEPE's ticker mark_price is "": the contract's mark price is used, never 0
    assert markets["PEPE_USDT"].mark_price == pytest.approx(0.0000104)
    assert markets["PEPE_USDT"].open_interest_usd == pytest.approx(2500.75 * 1000000 * 0.0000104)


def test_open_interest_none_without_multiplier():
    row = btc_contract(quanto_multiplier="")
    assert markets_by_symbol(contracts=[row])["BTC_USDT"].open_interest_usd is None


def test_funding_interval_is_in_seconds():
    markets = markets_by_symbol()
    assert markets["BTC_USDT"].funding_rate_8h == pytest.approx(0.0001)  # 28800 s = 8 h
    assert markets["ETH_USDT"].funding_rate_8h == pytest.approx(-0.00002 * 2)  # "14400" s = 4 h
    assert markets["PEPE_USDT"].funding_rate_8h == pytest.approx(0.00005 * 8)  # 3600 s = 1 h


def test_funding_none_without_interval():
    row = btc_contract(funding_interval=None)
    assert markets_by_symbol(contracts=[row])["BTC_USDT"].funding_rate_8h is None


def test_change_is_already_percent_and_quote_is_usdt():
    eth = markets_by_symbol()["ETH_USDT"]
    assert eth.price_change_24h_pct == pytest.approx(2.25)
    assert (eth.base, eth.quote, eth.volume_24h_usd) == ("ETH", "USDT", 900000000.0)


def test_long_share_from_users():
    assert parse_long_share(btc_contract()) == pytest.approx(0.6)
    assert parse_long_share(btc_contract(long_users="300", short_users=100)) == pytest.approx(0.75)
    assert parse_long_share(btc_contract(long_users=0, short_users=0)) is None
    assert parse_long_share(btc_contract(long_users=None)) is None
    assert parse_long_share(None) is None


def test_no_btc_contract_leaves_long_share_none(fake, client):
    fake.install("gateio")
    contracts = [c for c in load("gateio", "contracts") if c["name"] != "BTC_USDT"]
    fake.add("gateio", "/api/v4/futures/usdt/contracts", Reply(contracts))
    snap = Gateio(client, fake.url("gateio")).fetch()
    assert snap.ok and snap.markets == 3 and snap.long_share is None and snap.long_short_ratio is None
    assert snap.btc_price is None


def test_gate_error_message_is_reported(fake, client):
    fake.install("gateio")
    fake.add("gateio", "/api/v4/futures/usdt/tickers",
             Reply({"label": "INVALID_PARAM_VALUE", "message": "Invalid settle currency"}, status=400))
    with pytest.raises(ExchangeError, match="Invalid settle currency") as err:
        Gateio(client, fake.url("gateio")).fetch()
    assert "HTTP 400" in str(err.value)


@pytest.mark.parametrize("payload", [{}, {"data": []}, None, {"contracts": []}])
def test_unexpected_payload_is_one_line_error(payload, fake, client):
    fake.install("gateio")
    fake.add("gateio", "/api/v4/futures/usdt/contracts", Reply(payload))
    with pytest.raises(ExchangeError, match="unexpected contracts payload"):
        Gateio(client, fake.url("gateio")).fetch()
