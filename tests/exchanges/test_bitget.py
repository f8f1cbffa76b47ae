"""Bitget v2 specifics: contract filtering, funding intervals, newest long/short row, errors in 200."""

from __future__ import annotations

import copy

import pytest

from perps_tracker.errors import ExchangeError, RateLimited
from perps_tracker.exchanges.bitget import (
    Bitget,
    Contract,
    Funding,
    parse_contracts,
    parse_funding,
    parse_long_short,
    parse_tickers,
)
from perps_tracker.exchanges.parsing import Skips
from tests.fakes import Reply, load

RATIO_PATH = "/api/v2/mix/market/account-long-short"
FUNDING_PATH = "/api/v2/mix/market/current-fund-rate"


def contract_row(**changes):
    row = copy.deepcopy(load("bitget", "contracts")["data"][0])  # BTCUSDT, perpetual, normal
    row.update(changes)
    return {"code": "00000", "data": [row]}


def markets_by_symbol(contracts=None, funding=None, tickers=None, skipped=None):
    contracts = parse_contracts(contracts or load("bitget", "contracts"))
    funding = parse_funding(load("bitget", "current_fund_rate")) if funding is None else funding
    markets = parse_tickers(tickers or load("bitget", "tickers"), contracts, funding, skipped or Skips())
    return {m.symbol: m for m in markets}


def test_only_normal_perpetual_contracts_are_included():
    assert set(parse_contracts(load("bitget", "contracts"))) == {
        "BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "BROKENUSDT"}


@pytest.mark.parametrize("changes", [
    {"symbolType": "delivery", "deliveryTime": "1766736000000"},
    {"symbolStatus": "off"},
    {"symbolStatus": "listed"},
    {"symbolStatus": "maintain"},
    {"symbolStatus": "limit_open"},
    {"symbolStatus": "restrictedAPI"},
    {"symbolType": None},
])
def test_each_exclusion_rule(changes):
    assert parse_contracts(contract_row()) == {"BTCUSDT": Contract("BTC", "USDT", 8.0)}
    assert parse_contracts(contract_row(**changes)) == {}


def test_tickers_are_filtered_by_contract_before_parsing():
    markets = markets_by_symbol()
    assert set(markets) == {"BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "BROKENUSDT"}  # no dated, off, listed, ghost
    assert markets["BTCUSDT"].base == "BTC" and markets["BTCUSDT"].quote == "USDT"


def test_nan_volume_is_counted_never_zero_and_the_market_kept():
    skipped = Skips()
    broken = markets_by_symbol(skipped=skipped)["BROKENUSDT"]
    assert broken.volume_24h_usd is None and broken.last_price == 1.5 and skipped.count == 1


def test_contract_without_a_ticker_is_counted():
    skipped = Skips()
    tickers = load("bitget", "tickers")
    tickers["data"] = [row for row in tickers["data"] if row["symbol"] != "SOLUSDT"]
    assert "SOLUSDT" not in markets_by_symbol(tickers=tickers, skipped=skipped) and skipped.count == 1 + 1


def test_units_strings_and_json_numbers():
    eth = markets_by_symbol()["ETHUSDT"]  # JSON numbers in the fixture
    assert eth.volume_24h_usd == 1500000000.0
    assert eth.open_interest_usd == pytest.approx(300000.5 * 2951)  # holdingAmount × markPrice
    assert eth.price_change_24h_pct == pytest.approx(2.0)  # change24h is a fraction
    assert eth.last_price == 2950.5 and eth.index_price == 2950.0


def test_missing_open_interest_is_none_not_zero():
    assert markets_by_symbol()["DOGEUSDT"].open_interest_usd is None


def test_funding_uses_each_symbols_own_interval():
    markets = markets_by_symbol()
    assert markets["SOLUSDT"].funding_rate_8h == pytest.approx(0.0002 * 8 / 2)  # 2-hour funding
    assert markets["BTCUSDT"].funding_rate_8h == pytest.approx(0.000125)  # 8-hour funding
    # DOGEUSDT is not in current-fund-rate: the ticker's rate and the contract's fundInterval (4 h)
    assert markets["DOGEUSDT"].funding_rate_8h == pytest.approx(0.00004 * 8 / 4)


def test_funding_interval_defaults_to_8_hours():
    contracts = contract_row(fundInterval="")
    markets = markets_by_symbol(contracts=contracts, funding={"BTCUSDT": Funding(0.0003, None)})
    assert markets["BTCUSDT"].funding_rate_8h == pytest.approx(0.0003)


def test_long_short_takes_the_newest_row_whatever_the_order():
    payload = load("bitget", "account_long_short")
    rows = payload["data"]
    newest_ts = max(int(r["ts"]) for r in rows)
    # the fixture proves something: the newest row is neither first nor last
    assert int(rows[0]["ts"]) != newest_ts and int(rows[-1]["ts"]) != newest_ts
    assert parse_long_short(payload) == pytest.approx(1.85)
    assert parse_long_short({"data": list(reversed(rows))}) == pytest.approx(1.85)


def test_long_short_from_account_shares_when_ratio_missing():
    payload = {"data": [{"longAccountRatio": "0.6", "shortAccountRatio": "0.4", "longShortAccountRatio": "",
                         "ts": "1"}]}
    assert parse_long_short(payload) == pytest.approx(1.5)
    assert parse_long_short({"data": []}) is None


@pytest.mark.parametrize("payload", [{}, [], {"data": {}}, None])
def test_malformed_payloads_raise(payload):
    with pytest.raises(ValueError):
        parse_contracts(payload)


def test_check_reads_errors_inside_http_200(client):
    venue = Bitget(client, "http://127.0.0.1:9")
    venue.check({"code": "00000", "msg": "success", "data": []})
    with pytest.raises(ExchangeError, match="Parameter symbol does not exist") as err:
        venue.check({"code": "40034", "msg": "Parameter symbol does not exist", "data": None})
    assert not isinstance(err.value, RateLimited)
    with pytest.raises(RateLimited):
        venue.check({"code": "429", "msg": "Too Many Requests", "data": None})


def test_rate_limit_code_in_200_is_retried(fake, client):
    fake.install("bitget")
    route = fake.routes[("bitget", "GET", "/api/v2/mix/market/tickers")]
    calls = []

    def limited_once(request):
        calls.append(request)
        if len(calls) == 1:
            return Reply({"code": "429", "msg": "Too Many Requests", "data": None})
        return route(request)

    fake.add("bitget", "/api/v2/mix/market/tickers", limited_once)
    snap = Bitget(client, fake.url("bitget")).fetch()
    assert snap.ok and snap.markets == 5 and len(calls) == 2


def test_missing_long_short_endpoint_leaves_ratio_none(fake, client):
    fake.install("bitget")
    fake.add("bitget", RATIO_PATH, Reply({"code": "40404", "msg": "Request URL NOT FOUND"}, status=404))
    snap = Bitget(client, fake.url("bitget")).fetch()
    assert snap.ok and snap.long_short_ratio is None and snap.long_share is None
    assert snap.volume_24h_usd == pytest.approx(6830000000.75)


def test_failing_long_short_is_noted_not_fatal(fake, client):
    fake.install("bitget")
    fake.add("bitget", RATIO_PATH, Reply({"code": "40034", "msg": "Parameter period does not exist"}, status=400))
    venue = Bitget(client, fake.url("bitget"))
    snap = venue.fetch()
    assert snap.ok and snap.long_short_ratio is None
    assert any("long/short ratio unavailable" in note and "period" in note for note in venue.notes)


def test_failing_funding_endpoint_falls_back_to_ticker_rate_and_contract_interval(fake, client):
    fake.install("bitget")
    fake.add("bitget", FUNDING_PATH, Reply({"code": "40034", "msg": "Parameter symbol does not exist"}, status=400))
    venue = Bitget(client, fake.url("bitget"))
    snap = venue.fetch()
    assert snap.ok and snap.btc_funding_rate_8h == pytest.approx(0.000125)  # ticker rate, fundInterval 8
    assert any("funding intervals unavailable" in note for note in venue.notes)


def test_requests_name_the_product_type(fake, client):
    fake.install("bitget")
    Bitget(client, fake.url("bitget")).fetch()
    product_requests = [r for r in fake.requests if r.path != RATIO_PATH]
    assert len(product_requests) == 3
    assert all(r.query.get("productType") == "USDT-FUTURES" for r in product_requests)


def test_unexpected_payload_is_one_line_error(fake, client):
    fake.install("bitget")
    fake.add("bitget", "/api/v2/mix/market/tickers", Reply({"code": "00000", "data": {"symbol": "BTCUSDT"}}))
    with pytest.raises(ExchangeError, match="unexpected tickers payload"):
        Bitget(client, fake.url("bitget")).fetch()
