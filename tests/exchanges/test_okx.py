"""OKX v5 specifics: swap filtering, units, per-symbol funding intervals, optional endpoints,
the rubik ratio and `code` errors inside HTTP 200."""

from __future__ import annotations

import pytest

from perps_tracker.errors import ExchangeError, RateLimited
from perps_tracker.exchanges.okx import (
    Okx,
    parse_funding_rates,
    parse_instruments,
    parse_long_short_ratio,
    parse_mark_prices,
    parse_open_interest,
    parse_tickers,
)
from perps_tracker.exchanges.parsing import Skips
from tests.fakes import Reply, load
from tests.fakes.okx import EXPECTED

BTC = {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "instFamily": "BTC-USDT", "settleCcy": "USDT",
       "ctType": "linear", "ctVal": "0.01", "ctValCcy": "BTC", "state": "live"}


def ok(*rows):
    return {"code": "0", "msg": "", "data": list(rows)}


def ticker(**fields):
    return {"instId": "BTC-USDT-SWAP", "last": "84000", "open24h": "80000", "volCcy24h": "2.5",
            "vol24h": "250", **fields}


@pytest.fixture
def okx(fake, client):
    fake.install("okx")
    return Okx(client, fake.url("okx"))


# -- instruments ------------------------------------------------------------------------------

def test_live_usdt_linear_swap_is_included():
    assert list(parse_instruments(ok(BTC))) == ["BTC-USDT-SWAP"]


@pytest.mark.parametrize("change", [
    {"instId": "BTC-USDC-SWAP", "settleCcy": "USDC"},
    {"ctType": None},  # older payloads without ctType: settleCcy decides
], ids=["usdc", "no-ctType"])
def test_other_included_swaps(change):
    row = {k: v for k, v in {**BTC, **change}.items() if v is not None}
    assert list(parse_instruments(ok(row))) == [row["instId"]]


@pytest.mark.parametrize("change", [
    {"instId": "BTC-USD-SWAP", "settleCcy": "BTC", "ctType": "inverse", "ctValCcy": "USD"},
    {"settleCcy": "BTC"},
    {"ctType": "inverse"},
    {"state": "suspend"},
    {"state": "preopen"},
    {"state": "expired"},
    {"settleCcy": "USD"},
    {"instId": ""},
], ids=["inverse", "coin-settled", "ctType-inverse", "suspend", "preopen", "expired", "usd-settled", "no-id"])
def test_excluded_instruments(change):
    assert parse_instruments(ok({**BTC, **change})) == {}


@pytest.mark.parametrize("payload", [{}, [], {"code": "0", "data": {}}, {"code": "0"}])
def test_malformed_instruments_payload(payload):
    with pytest.raises(ValueError):
        parse_instruments(payload)


def test_malformed_instruments_payload_fails_the_venue(okx, fake):
    fake.add("okx", "/api/v5/public/instruments", Reply({"code": "0", "data": {"instId": "BTC-USDT-SWAP"}}))
    with pytest.raises(ExchangeError) as err:
        okx.fetch()
    assert str(err.value) == "okx: unexpected instruments payload: expected {data: [...]}"


# -- funding, open interest, mark price -------------------------------------------------------

@pytest.mark.parametrize(("hours", "expected"), [(8, 0.0001), (4, 0.0002), (2, 0.0004), (1, 0.0008)])
def test_funding_interval_from_the_funding_times(hours, expected):
    row = {"instId": "BTC-USDT-SWAP", "fundingRate": "0.0001", "fundingTime": "1764604800000",
           "nextFundingTime": str(1764604800000 + hours * 3_600_000)}
    got = parse_funding_rates(ok(row))["BTC-USDT-SWAP"]
    assert got["funding_rate_8h"] == pytest.approx(expected)
    assert (got["funding_rate"], got["funding_interval_h"]) == (0.0001, hours)
    assert got["next_funding_time"] == 1764604800  # fundingTime: the upcoming settlement


@pytest.mark.parametrize("change", [{"nextFundingTime": ""}, {"fundingTime": None}, {"fundingRate": ""},
                                    {"nextFundingTime": "1764604800000"}])
def test_funding_without_a_usable_interval_or_rate_is_none(change):
    row = {"instId": "BTC-USDT-SWAP", "fundingRate": "0.0001", "fundingTime": "1764604800000",
           "nextFundingTime": "1764633600000", **change}
    assert parse_funding_rates(ok(row))["BTC-USDT-SWAP"]["funding_rate_8h"] is None


def test_fixture_funding_intervals():
    rates = parse_funding_rates(load("okx", "funding_rate"))
    assert rates["ETH-USDT-SWAP"]["funding_rate_8h"] == pytest.approx(0.00005 * 8 / 4)
    assert rates["DOGE-USDT-SWAP"]["funding_rate_8h"] == pytest.approx(-0.00001 * 8 / 1)


def test_open_interest_is_oi_usd():
    payload = ok({"instId": "BTC-USDT-SWAP", "oi": "100", "oiCcy": "1", "oiUsd": "84000.5"},
                 {"instId": "ETH-USDT-SWAP", "oi": "", "oiCcy": "", "oiUsd": ""})
    assert parse_open_interest(payload) == {"BTC-USDT-SWAP": 84000.5, "ETH-USDT-SWAP": None}


def test_mark_prices():
    assert parse_mark_prices(ok({"instId": "BTC-USDT-SWAP", "markPx": 84010.2})) == {"BTC-USDT-SWAP": 84010.2}


# -- tickers ----------------------------------------------------------------------------------

def markets_of(*tickers, instruments=None, **extras):
    skipped = Skips()
    markets = parse_tickers(ok(*tickers), instruments or {"BTC-USDT-SWAP": BTC}, skipped, **extras)
    return markets, skipped.count


def test_ticker_units():
    funding = {"BTC-USDT-SWAP": {"funding_rate": 0.0001, "funding_interval_h": 4.0, "funding_rate_8h": 0.0002,
                                 "next_funding_time": 1764604800}}
    (m,), _ = markets_of(ticker(), funding=funding, open_interest={"BTC-USDT-SWAP": 5.0e9},
                         marks={"BTC-USDT-SWAP": 84010.0})
    assert (m.symbol, m.base, m.quote) == ("BTC-USDT-SWAP", "BTC", "USDT")
    assert m.volume_24h_usd == pytest.approx(2.5 * 84000)  # volCcy24h × last, not vol24h (contracts)
    assert m.price_change_24h_pct == pytest.approx(5.0)  # 84000 / 80000 − 1
    assert (m.last_price, m.mark_price, m.index_price) == (84000.0, 84010.0, None)
    assert (m.funding_rate_8h, m.open_interest_usd) == (0.0002, 5.0e9)
    assert (m.funding_rate, m.funding_interval_h, m.next_funding_time) == (0.0001, 4.0, 1764604800)


def test_unavailable_optional_endpoints_leave_fields_none():
    (m,), _ = markets_of(ticker(), funding=None, open_interest=None, marks=None)
    assert (m.funding_rate_8h, m.open_interest_usd, m.mark_price) == (None, None, None)
    assert (m.funding_rate, m.funding_interval_h, m.next_funding_time) == (None, None, None)
    assert m.volume_24h_usd == pytest.approx(2.5 * 84000)


@pytest.mark.parametrize("change", [{"last": ""}, {"volCcy24h": ""}, {"volCcy24h": "NaN"}, {"last": None}])
def test_untraded_or_unpriced_swap_is_counted_and_kept_without_a_volume(change):
    (m,), skipped = markets_of(ticker(**change))
    assert m.symbol == "BTC-USDT-SWAP" and m.volume_24h_usd is None and skipped == 1
    assert m.last_price == (None if "last" in change else 84000.0)


def test_missing_open_price_leaves_the_change_none():
    (m,), skipped = markets_of(ticker(open24h=""))
    assert m.price_change_24h_pct is None and skipped == 0


def test_tickers_of_excluded_swaps_are_ignored_not_counted():
    markets, skipped = markets_of(ticker(), ticker(instId="BTC-USD-SWAP", last=""), ticker(instId="LUNA-USDT-SWAP"))
    assert [m.symbol for m in markets] == ["BTC-USDT-SWAP"] and skipped == 0


def test_included_swap_without_a_ticker_is_counted():
    instruments = {"BTC-USDT-SWAP": BTC, "ETH-USDT-SWAP": {**BTC, "instId": "ETH-USDT-SWAP"}}
    markets, skipped = markets_of(ticker(), instruments=instruments)
    assert [m.symbol for m in markets] == ["BTC-USDT-SWAP"] and skipped == 1


def test_fixture_tickers_match_the_fixture_instruments():
    skipped = Skips()
    markets = parse_tickers(load("okx", "tickers"), parse_instruments(load("okx", "instruments")), skipped)
    assert sorted(m.symbol for m in markets) == ["BTC-USDC-SWAP", "BTC-USDT-SWAP", "DOGE-USDT-SWAP", "ETH-USDT-SWAP",
                                                 "QUIET-USDT-SWAP"]
    assert skipped.count == 1  # QUIET-USDT-SWAP, last "": kept, without a USD volume
    assert next(m for m in markets if m.symbol == "BTC-USDC-SWAP").quote == "USDC"


# -- long/short account ratio -----------------------------------------------------------------

def test_ratio_takes_the_newest_row_whatever_the_order():
    payload = ok(["1764579600000", "1.10"], ["1764586800000", "1.25"], ["1764583200000", "1.31"])
    assert parse_long_short_ratio(payload) == pytest.approx(1.25)


def test_ratio_ignores_malformed_rows():
    assert parse_long_short_ratio(ok(["1764586800000"], "x", ["1764579600000", "0.9"])) == pytest.approx(0.9)


def test_empty_ratio_is_none():
    assert parse_long_short_ratio(ok()) is None


def test_ratio_404_leaves_the_ratio_none(okx, fake):
    fake.add("okx", "/api/v5/rubik/stat/contracts/long-short-account-ratio", Reply({"msg": "no"}, status=404))
    snap = okx.fetch()
    assert snap.ok and snap.long_short_ratio is None and snap.long_share is None and snap.markets == EXPECTED["markets"]


# -- optional endpoints -----------------------------------------------------------------------

def test_funding_is_asked_for_every_swap_at_once(okx, fake):
    snap = okx.fetch()
    assert [r.query for r in fake.requests if r.path == "/api/v5/public/funding-rate"] == [{"instId": "ANY"}]
    assert snap.btc_funding_rate_8h == pytest.approx(0.0001)


@pytest.mark.parametrize(("path", "field", "note"), [
    ("/api/v5/public/funding-rate", "btc_funding_rate_8h", "funding rates"),
    ("/api/v5/public/open-interest", "open_interest_usd", "open interest"),
    ("/api/v5/public/mark-price", "btc_mark_price", "mark prices"),
])
def test_failing_optional_endpoint_leaves_its_metric_none(okx, fake, path, field, note):
    fake.add("okx", path, Reply({"code": "51001", "msg": "Instrument ID does not exist", "data": []}))
    snap = okx.fetch()
    assert snap.ok and snap.markets == EXPECTED["markets"] and getattr(snap, field) is None
    assert okx.notes == [f"{note} unavailable: Instrument ID does not exist (code 51001)"]


def test_missing_mark_price_endpoint_falls_back_to_last_for_btc_price(okx, fake):
    fake.add("okx", "/api/v5/public/mark-price", Reply({"msg": "Not Found"}, status=404))
    snap = okx.fetch()
    assert snap.btc_mark_price is None and snap.btc_price == pytest.approx(84000.1)


# -- errors inside HTTP 200 -------------------------------------------------------------------

def test_check_passes_success():
    Okx.check(Okx(None), {"code": "0", "msg": "", "data": []})


def test_check_raises_the_venue_message_and_code():
    with pytest.raises(ExchangeError) as err:
        Okx.check(Okx(None), {"code": "51001", "msg": "Instrument ID does not exist", "data": []})
    assert not isinstance(err.value, RateLimited)
    assert str(err.value) == "okx: Instrument ID does not exist (code 51001)"


def test_check_without_a_message_names_the_code():
    with pytest.raises(ExchangeError, match=r"^okx: code 50001$"):
        Okx.check(Okx(None), {"code": "50001", "msg": "", "data": []})


@pytest.mark.parametrize("code", ["50011", "50061", 50011])
def test_check_rate_limit_codes(code):
    with pytest.raises(RateLimited, match="Too Many Requests"):
        Okx.check(Okx(None), {"code": code, "msg": "Too Many Requests", "data": []})


def test_rate_limit_in_200_is_retried(okx, fake):
    tickers, calls = load("okx", "tickers"), []

    def once_limited(request):
        calls.append(request)
        return Reply({"code": "50011", "msg": "Too Many Requests", "data": []} if len(calls) == 1 else tickers)

    fake.add("okx", "/api/v5/market/tickers", once_limited)
    assert okx.fetch().markets == EXPECTED["markets"] and len(calls) == 2


def test_required_tickers_error_fails_the_venue(okx, fake):
    fake.add("okx", "/api/v5/market/tickers", Reply({"code": "51000", "msg": "Parameter instType error", "data": []}))
    with pytest.raises(ExchangeError, match="^okx: Parameter instType error"):
        okx.fetch()


def test_null_instruments_body_is_an_unexpected_instruments_payload(okx, fake):
    fake.add("okx", "/api/v5/public/instruments", Reply(None))
    with pytest.raises(ExchangeError, match="^okx: unexpected instruments payload"):
        okx.fetch()
