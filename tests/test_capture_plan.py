"""`capture`'s plan: the venues' listings resolved by symbol or by coin (the per-market layer's
normalisation), and `--shard i/n`, a deterministic partition of the markets."""

from __future__ import annotations

import random

import pytest

from perps_tracker.config import load_settings
from perps_tracker.errors import TrackerError
from perps_tracker.exchanges.capture import Listed
from perps_tracker.model.coins import Coins
from perps_tracker.model.ticks import Instrument, parse_shard, shard, shard_of
from perps_tracker.services.capture import plan_capture, select
from perps_tracker.services.runtime import Runtime


def markets(n: int = 400) -> list[Instrument]:
    venues = ("binance", "bybit", "okx", "deribit", "hyperliquid")
    return [Instrument(venues[i % 5], f"C{i}USDT", f"C{i}") for i in range(n)]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 16])
def test_shards_partition_the_markets(count):
    every = markets()
    shares = [shard(every, i, count) for i in range(1, count + 1)]
    keys = [(m.exchange, m.symbol) for share in shares for m in share]
    assert len(keys) == len(set(keys)) == len(every)  # no overlap, nothing left out
    if count > 1:
        assert all(shares)  # 400 markets: every share has some
        assert max(map(len, shares)) < 2 * len(every) / count


def test_a_market_keeps_its_shard_whatever_else_is_listed():
    every = markets()
    mine = {(m.exchange, m.symbol) for m in shard(every, 2, 5)}
    others = random.Random(3).sample(every, 150) + [Instrument("okx", f"NEW{i}-USDT-SWAP", "N") for i in range(50)]
    assert {(m.exchange, m.symbol) for m in shard(others, 2, 5)} <= mine | {(m.exchange, m.symbol) for m in others}
    assert all((m.exchange, m.symbol) in mine for m in shard(others, 2, 5) if not m.symbol.startswith("NEW"))
    # fixed values: CRC-32 of "exchange:symbol" (the same on every machine and Python)
    assert (shard_of("binance", "BTCUSDT", 4), shard_of("bybit", "BTCUSDT", 4)) == (
        __import__("zlib").crc32(b"binance:BTCUSDT") % 4, __import__("zlib").crc32(b"bybit:BTCUSDT") % 4)


@pytest.mark.parametrize("text, expected", [("1/1", (1, 1)), ("2/4", (2, 4)), (" 3/3 ", (3, 3))])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "1", "a/b", "1/2/3", ""])
def test_bad_shards(text):
    with pytest.raises(ValueError, match="is not a shard like 1/4"):
        parse_shard(text)


LISTING = {
    "binance": [Listed("BTCUSDT", "BTC"), Listed("1000PEPEUSDT", "1000PEPE"), Listed("ETHUSDT", "ETH")],
    "okx": [Listed("BTC-USDT-SWAP", "BTC", 0.01), Listed("PEPE-USDT-SWAP", "PEPE", 10_000_000)],
    "hyperliquid": [Listed("kPEPE", "kPEPE"), Listed("MATIC", "MATIC")],
}


def test_coins_resolve_through_the_normalisation():
    chosen, unlisted = select(LISTING, Coins(), coins=["PEPE", "POL", "DOGE"])
    assert chosen == {
        "binance": [Instrument("binance", "1000PEPEUSDT", "PEPE", 1000.0, 1.0)],
        "okx": [Instrument("okx", "PEPE-USDT-SWAP", "PEPE", 1.0, 10_000_000)],
        "hyperliquid": [Instrument("hyperliquid", "kPEPE", "PEPE", 1000.0, 1.0),
                        Instrument("hyperliquid", "MATIC", "POL", 1.0, 1.0)],  # MATIC is POL (an alias)
    }
    assert unlisted == ("DOGE",)


def test_symbols_in_any_case_or_for_one_venue():
    chosen, unlisted = select(LISTING, Coins(), symbols=["btcusdt", "okx:BTC-USDT-SWAP", "binance:kPEPE", "NOPE"])
    assert {v: [i.symbol for i in rows] for v, rows in chosen.items()} == {
        "binance": ["BTCUSDT"], "okx": ["BTC-USDT-SWAP"], "hyperliquid": []}
    assert unlisted == ("binance:kPEPE", "NOPE")


def test_plan_reads_the_listings_and_reports_a_venue_that_failed(fake):
    fake.install("binance", "okx", "deribit")
    env = {**fake.env(), "PERPS_TRACKER_RETRIES": "0"}
    fake.override("okx", __import__("tests.fakes", fromlist=["Reply"]).Reply("<html>", status=503))
    with Runtime(load_settings(env=env)) as rt:
        plan = plan_capture(rt, ["binance", "okx", "deribit"], coins=["BTC", "SOL"])
        assert {v: [i.symbol for i in rows] for v, rows in plan.instruments.items()} == {
            "binance": ["BTCUSDC", "BTCUSDT", "SOLUSDT"],
            "deribit": ["BTC_USDC-PERPETUAL", "SOL_USDC-PERPETUAL"]}  # the inverse BTC-PERPETUAL is not listed
        assert list(plan.failed) == ["okx"] and "market list not read" in plan.failed["okx"]
        assert plan.total == 5 and plan.unlisted == ()
        halves = [plan_capture(rt, ["binance", "deribit"], coins=["BTC", "SOL"], shard_of=(i, 2)) for i in (1, 2)]
        got = sorted((v, i.symbol) for h in halves for v, rows in h.instruments.items() for i in rows)
        assert got == sorted((v, i.symbol) for v, rows in plan.instruments.items() for i in rows)
        with pytest.raises(TrackerError, match="none of DOGEX is listed on binance, deribit"):
            plan_capture(rt, ["binance", "okx", "deribit"], coins=["DOGEX"])
