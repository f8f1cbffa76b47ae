"""market.py: summing markets into a venue snapshot, the BTC line, and values too bad to be true."""

from __future__ import annotations

import pytest

from perps_tracker.model.market import Market, pick_btc, summarize


def market(symbol="ETHUSDT", base="ETH", quote="USDT", volume=1000.0, **fields) -> Market:
    return Market(symbol, base, quote, volume_24h_usd=volume, **fields)


BTCUSDT = market("BTCUSDT", "BTC", "USDT", 500.0, last_price=90652.4, mark_price=90650.0, index_price=90640.0,
                 funding_rate_8h=0.0001, price_change_24h_pct=-1.5, open_interest_usd=7000.0, num_trades_24h=30)
BTCUSDC = market("BTCUSDC", "BTC", "USDC", 9000.0, last_price=90599.5, mark_price=90598.0,
                 funding_rate_8h=0.0003, price_change_24h_pct=2.0)


def snap(*markets, records_skipped=0):
    return summarize("venue", "CEX", list(markets), records_skipped=records_skipped)


def test_a_market_without_volume_is_counted_and_left_out_of_the_volume():
    s = snap(market(volume=None, num_trades_24h=5, open_interest_usd=10.0),
             market("SOLUSDT", "SOL", volume=250.0, num_trades_24h=7, open_interest_usd=20.0))
    assert (s.markets, s.volume_24h_usd, s.num_trades_24h, s.open_interest_usd) == (2, 250.0, 12, 30.0)


def test_no_market_with_a_volume_is_a_missing_volume_not_zero():
    s = snap(market(volume=None), market("SOLUSDT", "SOL", volume=None))
    assert s.markets == 2 and s.volume_24h_usd is None


def test_the_btc_line_comes_from_the_usdt_market_even_without_its_volume():
    btc = pick_btc([BTCUSDC, market("BTCUSDT", "BTC", volume=None, last_price=90652.4)])
    assert btc.symbol == "BTCUSDT"


def test_a_btc_market_without_volume_outranks_one_with_volume_of_the_same_quote():
    # the one without a volume may be the larger: choosing the other would be a guess
    unknown = market("BTCUSDT", "BTC", volume=None)
    assert pick_btc([market("BTC2USDT", "BTC", volume=5.0), unknown]) is unknown


def test_a_btc_market_without_any_price_gives_no_btc_price_not_another_contracts():
    priceless = market("BTCUSDT", "BTC", volume=500.0, funding_rate_8h=0.0001)
    s = snap(priceless, BTCUSDC)
    assert s.btc_price is None and s.btc_mark_price is None and s.btc_funding_rate_8h == 0.0001


@pytest.mark.parametrize(("field", "value"), [
    ("volume_24h_usd", -1e30), ("volume_24h_usd", -0.01), ("volume_24h_usd", 2e12),
    ("open_interest_usd", -5.0), ("open_interest_usd", 1e13),
    ("num_trades_24h", -1), ("num_trades_24h", 10**10),
])
def test_negative_or_absurd_sums_are_missing_and_counted(field, value):
    bad = market("SOLUSDT", "SOL", **{"volume": 100.0, "open_interest_usd": 40.0, "num_trades_24h": 3,
                                      **({"volume": value} if field == "volume_24h_usd" else {field: value})})
    s = snap(BTCUSDT, bad, records_skipped=2)
    assert s.markets == 2
    assert s.volume_24h_usd == (500.0 if field == "volume_24h_usd" else 600.0)
    assert s.open_interest_usd == (7000.0 if field == "open_interest_usd" else 7040.0)
    assert s.num_trades_24h == (30 if field == "num_trades_24h" else 33)
    assert s.records_skipped == 2 + 1


@pytest.mark.parametrize(("field", "value", "line"), [
    ("last_price", -90652.4, "btc_price"), ("last_price", 0.0, "btc_price"), ("last_price", 1e12, "btc_price"),
    ("mark_price", -1.0, "btc_mark_price"), ("index_price", 0.0, "btc_index_price"),
    ("price_change_24h_pct", -100.0, "btc_price_change_24h_pct"),
    ("price_change_24h_pct", -250.0, "btc_price_change_24h_pct"),
    ("funding_rate_8h", 1.5, "btc_funding_rate_8h"), ("funding_rate_8h", -1.01, "btc_funding_rate_8h"),
])
def test_absurd_btc_values_are_missing_and_counted_not_taken_from_another_contract(field, value, line):
    prices = {"last_price": None, "mark_price": None, "index_price": None} if field == "last_price" else {}
    btc = market("BTCUSDT", "BTC", volume=500.0, **{**prices, field: value})
    s = snap(btc, BTCUSDC)
    assert getattr(s, line) is None and s.records_skipped == 1


@pytest.mark.parametrize(("field", "value", "line"), [
    ("volume_24h_usd", 0.0, "volume_24h_usd"), ("open_interest_usd", 0.0, "open_interest_usd"),
    ("num_trades_24h", 0, "num_trades_24h"), ("funding_rate_8h", -0.0075, "btc_funding_rate_8h"),
    ("price_change_24h_pct", -99.9, "btc_price_change_24h_pct"),
    ("price_change_24h_pct", 5000.0, "btc_price_change_24h_pct"), ("last_price", 1e-9, "btc_price"),
])
def test_extreme_but_possible_values_are_kept(field, value, line):
    s = snap(market("BTCUSDT", "BTC", **({"volume": value} if field == "volume_24h_usd" else {field: value})))
    assert getattr(s, line) == value and s.records_skipped == 0
