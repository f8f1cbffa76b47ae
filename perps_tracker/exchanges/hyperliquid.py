"""Hyperliquid — DEX. One POST gives every perpetual's metadata and live context.

Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals
Funding is paid hourly; prices and volumes are USD (USDC-settled). No public long/short ratio.
"""

from __future__ import annotations

from typing import Any

from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.parsing import Skips, funding_8h, num, pct_change
from perps_tracker.market import Market, VenueSnapshot


def parse_meta_and_asset_ctxs(payload: Any, skipped: Skips) -> list[Market]:
    """Markets from `metaAndAssetCtxs`, delisted ones left out.

    Sample::

        [{"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 40}, ...]},
         [{"dayNtlVlm": "1169046.29", "funding": "0.0000125", "openInterest": "688.11",
           "prevDayPx": "86300.0", "markPx": "87210.0", "midPx": "87205.5",
           "oraclePx": "87180.0", "premium": "0.0002"}, ...]]
    """
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], dict)
            and isinstance(payload[0].get("universe"), list) and isinstance(payload[1], list)):
        raise ValueError("expected [meta, assetCtxs]")
    universe, contexts = payload[0]["universe"], payload[1]
    if len(universe) != len(contexts):
        raise ValueError(f"{len(universe)} markets but {len(contexts)} contexts")
    markets = []
    for meta, ctx in zip(universe, contexts):
        if not isinstance(meta, dict) or not isinstance(ctx, dict) or not meta.get("name"):
            skipped()
            continue
        if meta.get("isDelisted"):
            continue
        volume, mark, oracle = num(ctx.get("dayNtlVlm")), num(ctx.get("markPx")), num(ctx.get("oraclePx"))
        if volume is None or mark is None:
            skipped()
            continue
        oi = num(ctx.get("openInterest"))
        markets.append(Market(
            symbol=meta["name"],
            base=str(meta["name"]).upper(),
            quote="USD",
            volume_24h_usd=volume,
            open_interest_usd=oi * oracle if oi is not None and oracle is not None else None,
            last_price=None,
            mark_price=mark,
            index_price=oracle,
            funding_rate_8h=funding_8h(num(ctx.get("funding")), 1.0),
            price_change_24h_pct=pct_change(mark, num(ctx.get("prevDayPx"))),
        ))
    return markets


class Hyperliquid(Exchange):
    id = "hyperliquid"
    kind = "DEX"
    name = "Hyperliquid"
    base_url = "https://api.hyperliquid.xyz"

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        payload = self.post("/info", {"type": "metaAndAssetCtxs"})
        markets = self.parse("metaAndAssetCtxs", parse_meta_and_asset_ctxs, payload, skipped)
        return self.summarize(markets, records_skipped=skipped.count)
