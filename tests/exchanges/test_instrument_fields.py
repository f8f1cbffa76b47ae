"""What every venue's markets carry for the per-instrument layer, fetched from the fixtures through
the loopback fake: funding as the venue pays it (rate, interval, next settlement, and the 8-hour
equivalent that was there before), hand-computed from tests/fixtures/<venue>/, and a base that
`model.coins.normalise` turns into the right coin and multiplier for each venue's symbol shapes."""

from __future__ import annotations

import pytest

from perps_tracker.exchanges import EXCHANGES
from perps_tracker.exchanges.hyperliquid import venue_base
from perps_tracker.exchanges.parsing import funding
from perps_tracker.model.coins import normalise
from perps_tracker.model.market import Market

# venue → symbol → (funding_rate, funding_interval_h, funding_rate_8h, next_funding_time in Unix s)
FUNDING = {
    "binance": {
        # premiumIndex lastFundingRate; BTCUSDT is not in fundingInfo (8 h); nextFundingTime 1764086400000 ms
        "BTCUSDT": (0.0001, 8.0, 0.0001, 1764086400),
        # fundingInfo: 1000PEPEUSDT every 4 h; 0.0002 × 8 / 4
        "1000PEPEUSDT": (0.0002, 4.0, 0.0004, 1764072000),
        "DOGEUSDT": (None, 8.0, None, 1764086400),  # lastFundingRate "": no rate, the time stands
        "1000000MOGUSDT": (-0.0003, 8.0, -0.0003, 1764086400),
    },
    "asterdex": {
        "BTCUSDT": (0.00005, 4.0, 0.0001, 1764086400),  # fundingInfo fundingIntervalHours 4
        "ASTERUSDT": (-0.0000125, 1.0, -0.0001, 1764075600),
    },
    "bybit": {
        "SOLUSDT": (-0.00002, 1.0, -0.00016, 1764594000),  # fundingIntervalHour "1"
        # no fundingIntervalHour in the ticker: the instrument's fundingInterval 240 minutes
        "ETHUSDT": (0.00005, 4.0, 0.0001, 1764604800),
        "BADUSDT": (0.0001, 8.0, 0.0001, None),  # no nextFundingTime in its ticker
        "SHIB1000USDT": (-0.00005, 8.0, -0.00005, 1764604800),
    },
    "okx": {
        # fundingTime is the upcoming settlement; nextFundingTime − fundingTime = 14 400 000 ms = 4 h
        "ETH-USDT-SWAP": (0.00005, 4.0, 0.0001, 1764604800),
        "DOGE-USDT-SWAP": (-0.00001, 1.0, -0.00008, 1764594000),  # 3 600 000 ms apart
        "QUIET-USDT-SWAP": (None, None, None, None),  # every funding field ""
    },
    "bitget": {
        # current-fund-rate: fundingRateInterval "2", nextUpdate "1763805600000"
        "SOLUSDT": (0.0002, 2.0, 0.0008, 1763805600),
        # no current-fund-rate row: the ticker's fundingRate, the contract's fundInterval "4", no time
        "DOGEUSDT": (0.00004, 4.0, 0.00008, None),
    },
    "gateio": {
        # the ticker's funding_rate; the contract's funding_interval 3600 s and funding_next_apply (seconds)
        "PEPE_USDT": (0.00005, 1.0, 0.0004, 1763805600),
        "ETH_USDT": (-0.00002, 4.0, -0.00004, 1763812800),  # funding_interval "14400"
    },
    "hyperliquid": {
        "ETH": (-0.00002, 1.0, -0.00016, None),  # hourly funding; metaAndAssetCtxs gives no time
    },
    "dydx": {
        "ETH-USD": (-0.00001, 1.0, -0.00008, None),  # hourly nextFundingRate; no time in the payload
    },
    "deribit": {
        # funding_8h is already per 8 h (interval 8); funding accrues continuously: no settlement time
        "ETH_USDC-PERPETUAL": (-0.00002, 8.0, -0.00002, None),
        "DOGE_USDC-PERPETUAL": (0.0, 8.0, 0.0, None),
    },
}

# The fixture markets whose base is not simply the coin, as each venue writes them: venue → symbol →
# (base, coin, multiplier). Every other included market's base is its coin, with multiplier 1.
SIZED = {
    "binance": {"1000PEPEUSDT": ("1000PEPE", "PEPE", 1000), "1000000MOGUSDT": ("1000000MOG", "MOG", 1_000_000),
                "1MBABYDOGEUSDT": ("1MBABYDOGE", "BABYDOGE", 1_000_000)},
    "bybit": {"1000PEPEUSDT": ("1000PEPE", "PEPE", 1000), "SHIB1000USDT": ("SHIB1000", "SHIB", 1000)},
    "hyperliquid": {"kPEPE": ("kPEPE", "PEPE", 1000)},
}
PLAIN = {  # the rest, one per venue at least, with a coin that merely looks like a size
    "binance": {"BTCUSDT": "BTC", "1INCHUSDT": "1INCH", "DOGEUSDT": "DOGE"},
    "asterdex": {"BTCUSDT": "BTC", "ASTERUSDT": "ASTER"},
    "bybit": {"BTCPERP": "BTC", "SOLUSDT": "SOL"},
    "okx": {"BTC-USDT-SWAP": "BTC", "BTC-USDC-SWAP": "BTC", "DOGE-USDT-SWAP": "DOGE"},
    "bitget": {"BTCUSDT": "BTC", "DOGEUSDT": "DOGE"},
    "gateio": {"BTC_USDT": "BTC", "PEPE_USDT": "PEPE"},  # Gate sizes PEPE by quanto_multiplier instead
    "hyperliquid": {"BTC": "BTC", "ETH": "ETH"},
    "dydx": {"BTC-USD": "BTC", "ETH-USD": "ETH"},
    "deribit": {"BTC_USDC-PERPETUAL": "BTC", "SOL_USDC-PERPETUAL": "SOL"},
}


def markets(venue: str, fake, client) -> dict[str, Market]:
    """The included markets of one fetch of the venue's fixtures, by symbol."""
    fake.install(venue)
    snap = EXCHANGES[venue](client, fake.url(venue)).fetch()
    assert snap.ok and snap.instruments is not None
    return {m.symbol: m for m in snap.instruments}


def test_every_venue_is_covered():
    assert sorted(FUNDING) == sorted(PLAIN) == sorted(EXCHANGES)


@pytest.mark.parametrize("venue", sorted(FUNDING))
def test_funding_as_the_venue_pays_it(venue, fake, client):
    got = markets(venue, fake, client)
    for symbol, (rate, hours, per_8h, next_time) in FUNDING[venue].items():
        m = got[symbol]
        assert m.funding_rate == (pytest.approx(rate) if rate is not None else None), symbol
        assert m.funding_interval_h == hours, symbol
        assert m.funding_rate_8h == (pytest.approx(per_8h) if per_8h is not None else None), symbol
        assert m.next_funding_time == next_time, symbol
        if rate is not None and hours is not None:  # the 8-hour rate is the rate as paid × 8 / interval
            assert m.funding_rate_8h == pytest.approx(m.funding_rate * 8 / m.funding_interval_h)


def test_funding_fields_from_a_rate_an_interval_and_a_time():
    assert funding(0.0001, 4.0, "1764086400000") == {
        "funding_rate": 0.0001, "funding_interval_h": 4.0, "funding_rate_8h": pytest.approx(0.0002),
        "next_funding_time": 1764086400}
    assert funding(0.0001, 1.0, next_time_s=1763805600)["next_funding_time"] == 1763805600  # Gate: seconds
    assert funding(0.0001, 1.0, next_time_s="1763805600.5")["next_funding_time"] == 1763805600


@pytest.mark.parametrize("hours", [None, 0, -8.0])
def test_no_usable_interval_keeps_the_rate_without_an_8_hour_value(hours):
    assert funding(0.0001, hours) == {"funding_rate": 0.0001, "funding_interval_h": None, "funding_rate_8h": None,
                                      "next_funding_time": None}


@pytest.mark.parametrize("when", [0, "0", "", None, "NaN", -1000, "soon"])
def test_a_next_time_of_zero_or_garbage_is_none(when):
    # Binance sends nextFundingTime 0 for a contract without funding: no time, not a bad value
    assert funding(0.0001, 8.0, when)["next_funding_time"] is None
    assert funding(0.0001, 8.0, next_time_s=when)["next_funding_time"] is None


@pytest.mark.parametrize(("name", "base"), [("kPEPE", "kPEPE"), ("kSHIB", "kSHIB"), ("BTC", "BTC"), ("KAVA", "KAVA"),
                                            ("KAS", "KAS"), ("KSM", "KSM"), ("Hype", "HYPE"), ("k", "K")])
def test_hyperliquid_keeps_its_lower_case_k(name, base):
    # upper-cased, kPEPE (1000 PEPE) would be KPEPE, a name like KAVA's or KSM's
    assert venue_base(name) == base


def test_hyperliquid_fixture_bases_and_btc_line(fake, client):
    got = markets("hyperliquid", fake, client)
    assert {s: m.base for s, m in got.items()} == {"BTC": "BTC", "ETH": "ETH", "kPEPE": "kPEPE", "BROKEN": "BROKEN"}
    fake.install("hyperliquid")
    assert EXCHANGES["hyperliquid"](client, fake.url("hyperliquid")).fetch().btc_mark_price == 84000.0  # BTC's


@pytest.mark.parametrize("venue", sorted(PLAIN))
def test_bases_normalise_to_coin_and_multiplier(venue, fake, client):
    got = markets(venue, fake, client)
    sized, plain = SIZED.get(venue, {}), PLAIN[venue]
    assert set(sized) | set(plain) <= set(got)
    for symbol, m in got.items():
        base, coin, multiplier = sized.get(symbol) or (m.base, m.base, 1)
        assert m.base == base, symbol
        assert normalise(m.base, venue) == (coin, float(multiplier)), symbol
        if symbol in plain:
            assert m.base == plain[symbol], symbol
    assert any(m.base == "BTC" for m in got.values())  # the BTC line is still found by its base
