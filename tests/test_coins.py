"""`model.coins.normalise`: a venue's base asset as (coin, multiplier), for every shape the venues use
(docs/venues.md, "Each market as listed"), aliases (shipped, configured, venue-only) and the coins a
careless rule would mistake for a size prefix."""

from __future__ import annotations

import pytest

from perps_tracker.model.coins import ALIASES, OTHER, Coins, normalise

SHAPES = [
    # (venue, base as the venue lists it, coin, multiplier)
    ("binance", "BTC", "BTC", 1),
    ("binance", "1000PEPE", "PEPE", 1000),
    ("binance", "1000SHIB", "SHIB", 1000),
    ("binance", "1000000MOG", "MOG", 1_000_000),
    ("binance", "1MBABYDOGE", "BABYDOGE", 1_000_000),  # Binance's `1M` for a million
    ("binance", "1INCH", "1INCH", 1),  # a coin: no multiplier is ever "1"
    ("asterdex", "1000PEPE", "PEPE", 1000),
    ("bybit", "1000PEPE", "PEPE", 1000),
    ("bybit", "SHIB1000", "SHIB", 1000),  # Bybit writes this one's size behind the coin
    ("bybit", "1000000BABYDOGE", "BABYDOGE", 1_000_000),  # Binance's 1MBABYDOGE
    ("bybit", "10000LADYS", "LADYS", 10_000),
    ("bybit", "10000000AIDOGE", "AIDOGE", 10_000_000),
    ("okx", "PEPE", "PEPE", 1),  # PEPE-USDT-SWAP: OKX sizes by ctVal, the coin keeps its name
    ("bitget", "PEPE", "PEPE", 1),
    ("gateio", "PEPE", "PEPE", 1),  # PEPE_USDT, sized by quanto_multiplier
    ("hyperliquid", "kPEPE", "PEPE", 1000),  # Hyperliquid's lower-case k
    ("hyperliquid", "kSHIB", "SHIB", 1000),
    ("dydx", "ETH", "ETH", 1),
]


@pytest.mark.parametrize(("venue", "base", "coin", "multiplier"), SHAPES)
def test_every_shape_the_venues_use(venue, base, coin, multiplier):
    assert normalise(base, venue) == (coin, float(multiplier))


@pytest.mark.parametrize("base", ["KAVA", "KAS", "KSM", "KAITO", "KNC"])
def test_coins_starting_with_k_stay_coins_on_hyperliquid(base):
    # the size prefix is the lower-case k only: KAVA is not 1000 AVA
    assert normalise(base, "hyperliquid") == (base, 1.0)


def test_an_upper_case_k_prefix_is_not_a_size():
    # why Hyperliquid's base keeps its lower-case k: upper-cased, kPEPE would be a coin named KPEPE
    assert normalise("KPEPE", "hyperliquid") == ("KPEPE", 1.0)


@pytest.mark.parametrize(("base", "coin"), [
    ("100PEPE", "100PEPE"),  # 100 is not a size any venue uses
    ("LUNA2", "LUNA"),  # an alias, not a suffix (Terra 2.0 on Bybit and Bitget)
    ("HPOS10I", "HPOS10I"),
    ("A8", "A8"),
])
def test_digits_that_are_not_a_size(base, coin):
    assert normalise(base, "bybit") == (coin, 1.0)


def test_shipped_aliases():
    assert normalise("RNDR", "okx") == ("RENDER", 1.0)
    assert normalise("MATIC", "binance") == ("POL", 1.0)
    assert normalise("1000RNDR", "binance") == ("RENDER", 1000.0)  # the alias applies to the coin too
    assert set(ALIASES.values()) >= {"RENDER", "POL", "BTC"}


def test_a_venue_only_alias_applies_on_that_venue_only():
    aliases = {"hyperliquid:UBTC": "BTC"}  # Unit's wrapped BTC, a coin of its own elsewhere
    assert normalise("UBTC", "hyperliquid", aliases) == ("BTC", 1.0)
    assert normalise("UBTC", "binance", aliases) == ("UBTC", 1.0)


def test_configured_aliases_and_sectors_extend_the_shipped_tables():
    coins = Coins.with_config(aliases={"hyperliquid:ubtc": "btc", "FOO": "bar"}, sectors={"bar": "meme"})
    assert coins.normalise("UBTC", "hyperliquid") == ("BTC", 1.0)
    assert coins.normalise("1000FOO", "binance") == ("BAR", 1000.0)
    assert coins.normalise("RNDR", "bybit") == ("RENDER", 1.0)  # the shipped ones stay
    assert (coins.sector("BAR"), coins.sector("PEPE"), coins.sector("NOSUCH")) == ("MEME", "MEME", OTHER)
