"""Hyperliquid specifics of the live snapshot: which coins count and how their names become coins."""

from __future__ import annotations

from perps_tracker.exchanges.hyperliquid import venue_base, parse_meta_and_asset_ctxs
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.coins import Coins
from perps_tracker.model.instruments import instrument_rows
from tests.fakes import load


def test_names_keep_the_k_of_1000_coin_contracts():
    assert [venue_base(n) for n in ("BTC", "kPEPE", "kSHIB", "KAITO", "kaito", "1INCH")] == [
        "BTC", "kPEPE", "kSHIB", "KAITO", "KAITO", "1INCH"]


def test_kpepe_is_stored_as_pepe_per_one_coin():
    markets = parse_meta_and_asset_ctxs(load("hyperliquid", "metaAndAssetCtxs"), Skips())
    assert [m.base for m in markets] == ["BTC", "ETH", "kPEPE", "BROKEN"]  # MATIC is delisted
    row = next(r for r in instrument_rows("hyperliquid", markets, 0, Coins()) if r.symbol == "kPEPE")
    assert (row.coin, row.multiplier) == ("PEPE", 1000.0)
    assert row.price == 0.0110 / 1000  # markPx is per 1000 PEPE
