"""The per-instrument layer's figures (model/instruments.py), checked by hand on a small hour."""

from __future__ import annotations

import pytest
from pytest import approx

from perps_tracker.model.coins import Coins
from perps_tracker.model.instruments import (
    coin_totals,
    coin_view,
    funding_opportunities,
    instrument_rows,
    sector_lines,
)
from perps_tracker.model.market import Market

T = 1764075600


def market(symbol, base, price, volume, *, oi=None, f8=None, hours=8.0, mark=None, index=None, change=None,
            quote="USDT"):
    return Market(symbol=symbol, base=base, quote=quote, volume_24h_usd=volume, open_interest_usd=oi,
                  last_price=price, mark_price=mark, index_price=index, funding_rate_8h=f8,
                  price_change_24h_pct=change, funding_rate=None if f8 is None else f8 * hours / 8,
                  funding_interval_h=hours)


def hour():
    """ETH on three venues, PEPE on two (one a 1000-contract), BTC on two, one thin DOGE leg."""
    coins = Coins()
    rows = []
    rows += instrument_rows("binance", [
        market("ETHUSDT", "ETH", 3000.0, 6e9, oi=3e9, f8=0.0001, mark=3001.5, index=3000.0, change=2.0),
        market("1000PEPEUSDT", "1000PEPE", 0.0112, 4e8, oi=2e8, f8=0.0003, hours=4.0, change=5.0),
        market("BTCUSDT", "BTC", 84000.0, 1.5e10, oi=7e9, f8=0.0001, change=-1.0),
        market("DOGEUSDT", "DOGE", 0.2, 5e5, f8=0.002),  # below the $1M floor
    ], T, coins)
    rows += instrument_rows("bybit", [
        market("ETHUSDT", "ETH", 3003.0, 3e9, oi=1e9, f8=-0.0002, change=1.0),
        market("SHIB1000USDT", "SHIB1000", 0.0225, 2e7, f8=0.0001),
        market("DOGEUSDT", "DOGE", 0.2001, 9e7, f8=-0.0001),
    ], T, coins)
    rows += instrument_rows("hyperliquid", [
        market("ETH", "ETH", None, 1e9, oi=5e8, f8=0.00005, hours=1.0, mark=2997.0, index=2996.0, quote="USD"),
        market("kPEPE", "kPEPE", 0.01125, 1e8, oi=5e7, f8=-0.0001, hours=1.0, mark=0.01125, quote="USD"),
        market("BTC", "BTC", None, 2e9, mark=84100.0, f8=0.0002, hours=1.0, quote="USD"),
    ], T, coins)
    return rows


def test_rows_carry_coin_multiplier_and_prices_per_coin():
    rows = {(r.exchange, r.symbol): r for r in hour()}
    pepe = rows[("binance", "1000PEPEUSDT")]
    assert (pepe.coin, pepe.multiplier, pepe.price) == ("PEPE", 1000.0, approx(0.0000112))
    assert (pepe.funding_rate, pepe.funding_interval_h, pepe.funding_rate_8h) == (approx(0.00015), 4.0, 0.0003)
    kpepe = rows[("hyperliquid", "kPEPE")]
    assert (kpepe.coin, kpepe.multiplier, kpepe.price, kpepe.mark_price) == (
        "PEPE", 1000.0, approx(0.00001125), approx(0.00001125))
    assert rows[("bybit", "SHIB1000USDT")].coin == "SHIB" and rows[("bybit", "SHIB1000USDT")].price == approx(0.0000225)
    # no last price on Hyperliquid: the mark stands in, as for the BTC line
    assert rows[("hyperliquid", "ETH")].price == 2997.0


def test_coin_view_by_hand():
    eth = [r for r in hour() if r.coin == "ETH"]
    view = coin_view("ETH", "MAJORS", T, eth)
    t = view.total
    assert t.volume_24h_usd == 1e10 and t.open_interest_usd == 4.5e9
    vwap = (3000 * 6e9 + 3003 * 3e9 + 2997 * 1e9) / 1e10  # 3000.6
    assert t.price == approx(vwap)
    assert t.funding_rate_8h == approx((0.0001 * 6e9 - 0.0002 * 3e9 + 0.00005 * 1e9) / 1e10)  # 0.000005
    assert t.max_spread_bps == approx((3003 - 2997) / 2997 * 1e4)  # 20.02 bps
    binance, bybit, hyper = view.venues  # largest volume first
    assert (binance.exchange, bybit.exchange, hyper.exchange) == ("binance", "bybit", "hyperliquid")
    assert binance.volume_share == approx(60.0) and binance.oi_share == approx(3e9 / 4.5e9 * 100)
    assert binance.basis_pct == approx(0.05)  # 3001.5 / 3000 − 1
    assert bybit.basis_pct is None  # no mark and index
    assert binance.funding_apr_pct == approx(0.0001 * 3 * 365 * 100)  # 10.95 %
    assert bybit.price_dev_bps == approx((3003 / vwap - 1) * 1e4)
    assert hyper.funding_interval_h == 1.0


def test_funding_opportunities_by_hand():
    found = funding_opportunities(hour(), min_volume=1e6)
    by_coin = {o.coin: o for o in found}
    # DOGE: binance's leg is under $1M, so only bybit is left: no pair. SHIB: one venue.
    assert set(by_coin) == {"ETH", "PEPE", "BTC"}
    eth = by_coin["ETH"]
    assert (eth.short.exchange, eth.long.exchange) == ("binance", "bybit")
    assert eth.spread_8h == approx(0.0003) and eth.apr_pct == approx(0.0003 * 109500)  # 32.85 %
    assert not eth.intervals_differ
    pepe = by_coin["PEPE"]
    assert (pepe.short.exchange, pepe.long.exchange, pepe.spread_8h) == ("binance", "hyperliquid", approx(0.0004))
    assert pepe.intervals_differ  # 4 h against 1 h
    assert [o.coin for o in found] == ["PEPE", "ETH", "BTC"]  # 43.8 %, 32.85 %, 10.95 %
    assert [o.coin for o in funding_opportunities(hour(), top=1)] == ["PEPE"]
    # a floor above PEPE's Hyperliquid leg leaves ETH and BTC
    assert {o.coin for o in funding_opportunities(hour(), min_volume=2e8)} == {"ETH", "BTC"}


def test_no_pair_on_one_venue():
    coins = Coins()
    rows = instrument_rows("binance", [market("BTCUSDT", "BTC", 1.0, 1e9, f8=0.001),
                                       market("BTCUSDC", "BTC", 1.0, 1e9, f8=-0.001, quote="USDC")], T, coins)
    assert funding_opportunities(rows) == []


def test_sector_lines_by_hand():
    lines = {s.sector: s for s in sector_lines(hour(), Coins.with_config(sectors={"DOGE": "L1"}))}
    assert set(lines) == {"MAJORS", "MEME", "L1"}
    majors = lines["MAJORS"]
    assert (majors.coins, majors.markets, majors.volume_24h_usd) == (2, 5, approx(1e10 + 1.7e10))
    meme = lines["MEME"]  # PEPE ×2 and SHIB; DOGE moved to L1 by the config
    assert (meme.coins, meme.markets) == (2, 3)
    assert meme.price_change_24h_pct == approx(5.0)  # only binance's PEPE has a change: weight 4e8
    assert lines["L1"].funding_rate_8h == approx((0.002 * 5e5 - 0.0001 * 9e7) / (5e5 + 9e7))


def test_totals_of_markets_without_values_are_none_not_zero():
    t = coin_totals([])
    assert (t.volume_24h_usd, t.price, t.funding_rate_8h, t.max_spread_bps) == (None, None, None, None)


@pytest.mark.parametrize("base, exchange, expected", [
    ("1000PEPE", "binance", ("PEPE", 1000.0)),
    ("SHIB1000", "bybit", ("SHIB", 1000.0)),
    ("10000LADYS", "bybit", ("LADYS", 10000.0)),
    ("kPEPE", "hyperliquid", ("PEPE", 1000.0)),
    ("1000000MOG", "binance", ("MOG", 1e6)),
    ("1MBABYDOGE", "binance", ("BABYDOGE", 1e6)),
    ("1INCH", "binance", ("1INCH", 1.0)),
    ("KAVA", "hyperliquid", ("KAVA", 1.0)),
    ("KAS", "hyperliquid", ("KAS", 1.0)),
    ("RNDR", "okx", ("RENDER", 1.0)),
    ("BTC", "dydx", ("BTC", 1.0)),
])
def test_normalise(base, exchange, expected):
    assert Coins().normalise(base, exchange) == expected


def test_config_aliases_extend_the_table_and_may_name_one_venue():
    coins = Coins.with_config(aliases={"hyperliquid:UBTC": "btc", "XYZ": "abc"})
    assert coins.normalise("UBTC", "hyperliquid") == ("BTC", 1.0)
    assert coins.normalise("XYZ", "okx") == ("ABC", 1.0)
    assert coins.normalise("1000XYZ", "binance") == ("ABC", 1000.0)  # the alias applies to the coin too
    assert Coins().sector("NOPE") == "OTHER" and Coins().sector("AAVE") == "DEFI"


def test_funding_arbitrage_rule_over_every_coin():
    from perps_tracker.model.rules import FundingArb, RuleInputs, funding_arbitrage

    # ETH: short bybit +0.0100 %, long hyperliquid −0.0160 % per 8 h: 0.00026 × 109,500 = 28.47 %
    fired = funding_arbitrage(RuleInputs(funding_arb=FundingArb("ETH", "bybit", 0.0001, "hyperliquid", -0.00016),
                                         btc_funding_8h={"binance": 0.0001, "okx": 0.0001}))
    assert fired.fired and fired.confidence == 100  # min(5 × 28.47, 100)
    assert fired.reasons[0].startswith("annualised ETH funding spread 28.47%: bybit +0.0100% vs hyperliquid")
    assert "short ETH on bybit, long on hyperliquid" in fired.reasons[0]
    # 0.00002 × 109,500 = 2.19 %: not above 8 %
    quiet = funding_arbitrage(RuleInputs(funding_arb=FundingArb("SOL", "okx", 0.00003, "dydx", 0.00001)))
    assert not quiet.fired and quiet.why_not == "widest spread 2.19% (SOL) is not above 8%"
    # an hour without per-market rows: the venues' BTC lines, as before
    btc = funding_arbitrage(RuleInputs(btc_funding_8h={"binance": 0.0003, "okx": 0.0}))
    assert btc.fired and "BTC funding spread 32.85%" in btc.reasons[0]
