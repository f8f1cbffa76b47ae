"""Deribit specifics of the live snapshot: which instruments count, units, funding, the BTC line, and
JSON-RPC errors (in HTTP 200 and 400, rate limiting included)."""

from __future__ import annotations

import pytest

from perps_tracker.errors import ExchangeError, RateLimited, TemporaryExchangeError
from perps_tracker.exchanges.deribit import Deribit, base_of, parse_book_summary, parse_instruments
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.coins import Coins
from perps_tracker.model.instruments import instrument_rows
from perps_tracker.model.market import pick_btc
from tests.fakes import Reply, load

INSTRUMENTS = "/api/v2/public/get_instruments"
SUMMARY = "/api/v2/public/get_book_summary_by_currency"
TOO_MANY = {"jsonrpc": "2.0", "error": {"code": 10028, "message": "too_many_requests"},
            "usIn": 1795388400123456, "usOut": 1795388400123470, "usDiff": 14, "testnet": False}


@pytest.fixture
def deribit(fake, client):
    fake.install("deribit")
    return Deribit(client, fake.url("deribit"))


def markets():
    skipped = Skips()
    instruments = parse_instruments(load("deribit", "get_instruments"))
    return parse_book_summary(load("deribit", "get_book_summary_by_currency"), instruments, skipped), skipped


def test_only_active_linear_usdc_perpetuals_are_included():
    instruments = parse_instruments(load("deribit", "get_instruments"))
    assert sorted(instruments) == ["BTC_USDC-PERPETUAL", "DOGE_USDC-PERPETUAL", "ETH_USDC-PERPETUAL",
                                   "PAXG_USDC-PERPETUAL", "SOL_USDC-PERPETUAL", "XRP_USDC-PERPETUAL"]
    # not the inverse BTC-PERPETUAL/ETH-PERPETUAL, the dated BTC_USDC-27DEC26 or the inactive AVAX one
    assert {(i.base, i.quote) for i in instruments.values()} == {
        ("BTC", "USDC"), ("ETH", "USDC"), ("SOL", "USDC"), ("XRP", "USDC"), ("DOGE", "USDC"), ("PAXG", "USDC")}


def test_the_base_comes_from_the_name_when_base_currency_is_missing():
    assert [base_of(n) for n in ("SOL_USDC-PERPETUAL", "BTC-PERPETUAL", "1000SHIB_USDC-PERPETUAL")] == [
        "SOL", "BTC", "1000SHIB"]
    payload = {"jsonrpc": "2.0", "result": [{"instrument_name": "SOL_USDC-PERPETUAL", "kind": "future",
                                             "settlement_period": "perpetual", "is_active": True,
                                             "instrument_type": "linear", "quote_currency": "USDC"}]}
    assert parse_instruments(payload)["SOL_USDC-PERPETUAL"].base == "SOL"


def test_units_by_hand():
    got, skipped = markets()
    by = {m.symbol: m for m in got}
    assert sorted(by) == ["BTC_USDC-PERPETUAL", "DOGE_USDC-PERPETUAL", "ETH_USDC-PERPETUAL",
                          "SOL_USDC-PERPETUAL", "XRP_USDC-PERPETUAL"]
    assert skipped.count == 3  # PAXG without a summary, XRP's null volume_usd, DOGE's null mark_price
    btc = by["BTC_USDC-PERPETUAL"]
    assert btc.volume_24h_usd == 150000000.5  # volume_usd
    assert btc.open_interest_usd == pytest.approx(850.25 * 84010.0)  # coins × mark price
    assert (btc.last_price, btc.mark_price, btc.index_price) == (84000.0, 84010.0, 83990.5)
    assert btc.price_change_24h_pct == -1.25  # already percent
    sol = by["SOL_USDC-PERPETUAL"]  # numbers as strings
    assert (sol.volume_24h_usd, sol.open_interest_usd) == (8000000.25, pytest.approx(50000 * 140.2))
    assert by["XRP_USDC-PERPETUAL"].volume_24h_usd is None
    assert by["DOGE_USDC-PERPETUAL"].mark_price is None and by["DOGE_USDC-PERPETUAL"].open_interest_usd is None


def test_funding_8h_is_already_per_8_hours_with_no_settlement_time():
    got, _ = markets()
    eth = next(m for m in got if m.base == "ETH")
    assert (eth.funding_rate, eth.funding_interval_h, eth.funding_rate_8h) == (-0.00002, 8.0, -0.00002)
    assert eth.next_funding_time is None  # funding accrues continuously


def test_btc_line_is_the_usdc_perpetual_not_the_inverse_one(deribit):
    got, _ = markets()
    assert pick_btc(got).symbol == "BTC_USDC-PERPETUAL"
    snap = deribit.fetch()
    assert (snap.btc_price, snap.btc_mark_price, snap.btc_index_price) == (84000.0, 84010.0, 83990.5)
    assert snap.btc_funding_rate_8h == 0.0001 and snap.btc_price_change_24h_pct == -1.25
    assert len(snap.instruments) == 5


def test_instrument_rows_normalise_the_coin():
    got, _ = markets()
    rows = {r.symbol: r for r in instrument_rows("deribit", got, 0, Coins())}
    assert (rows["SOL_USDC-PERPETUAL"].coin, rows["SOL_USDC-PERPETUAL"].multiplier) == ("SOL", 1.0)
    assert rows["BTC_USDC-PERPETUAL"].quote == "USDC"


def test_fetch_asks_for_usdc_futures(deribit, fake):
    deribit.fetch()
    asked = {(r.path, r.query.get("currency"), r.query.get("kind")) for r in fake.requests}
    assert asked == {(INSTRUMENTS, "USDC", "future"), (SUMMARY, "USDC", "future")}


def test_rpc_gives_the_result_of_any_public_method(deribit):
    assert deribit.rpc("get_book_summary_by_currency", {"currency": "USDC", "kind": "option"}) == []
    assert len(deribit.rpc("get_instruments", {"currency": "USDC", "kind": "future"})) == 11


def test_an_error_object_in_http_400_is_one_line_and_not_retried(deribit, fake):
    with pytest.raises(ExchangeError) as err:
        deribit.rpc("get_instruments", {"currency": "XYZ", "kind": "future"})
    assert not isinstance(err.value, TemporaryExchangeError)
    assert str(err.value) == ("deribit: HTTP 400 at /deribit/api/v2/public/get_instruments: Invalid params "
                              "(code -32602)")
    assert fake.count("deribit", INSTRUMENTS) == 1


def test_too_many_requests_in_http_400_is_retried(deribit, fake):
    seen = []

    def first_refused(request):
        seen.append(request.path)
        if seen.count(request.path) == 1:
            return Reply(TOO_MANY, status=400)
        return fake.routed(request)

    fake.override("deribit", first_refused)
    snap = deribit.fetch()
    assert snap.ok and snap.markets == 5
    assert sorted(seen) == sorted([INSTRUMENTS, INSTRUMENTS, SUMMARY, SUMMARY])


def test_too_many_requests_every_time_is_rate_limited(deribit, fake, client):
    fake.override("deribit", Reply(TOO_MANY, status=400))
    with pytest.raises(RateLimited) as err:
        deribit.fetch()
    assert str(err.value).startswith("deribit: rate limited: too_many_requests (code 10028) (HTTP 400) at /")
    assert fake.count("deribit", INSTRUMENTS) == 1 + client.settings.retries


def test_too_many_requests_in_http_200_is_rate_limited(deribit, fake):
    fake.override("deribit", Reply(TOO_MANY))
    with pytest.raises(RateLimited, match="deribit: rate limited: too_many_requests"):
        deribit.fetch()


def test_a_result_of_the_wrong_shape_is_a_one_line_error(deribit, fake):
    fake.override("deribit", Reply({"jsonrpc": "2.0", "result": {"instruments": []}}))
    with pytest.raises(ExchangeError, match="deribit: unexpected get_instruments payload: expected a result list"):
        deribit.fetch()
