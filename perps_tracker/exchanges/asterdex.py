"""AsterDEX — DEX whose futures API copies Binance's (`/fapi/v1/...`, same shapes and limits).

Docs: https://github.com/asterdex/api-docs/blob/master/aster-finance-futures-api.md
So this is Binance on another host, minus what Aster lacks:
- `fundingInfo` has Aster's own fields (`symbol`, `fundingIntervalHours`, `fundingFeeCap`,
  `fundingFeeFloor`, `interestRate`, `time`); the interval is read from `fundingIntervalHours` as on Binance.
- `/fapi/v1/openInterest` is not in Aster's docs: a 404 leaves open interest null and stops the
  per-symbol requests.
- No long/short ratio endpoint: it is not requested (null).
- History (`backfill`, Binance's `history`): `klines`, `fundingRate`, mark/index price klines with
  Binance's parameters and limits; no open-interest or long/short history (neither is in Aster's docs),
  so both are null with a note.
- Request weight: Aster's `exchangeInfo` lists its own `rateLimits` (REQUEST_WEIGHT per minute) and
  sends `X-MBX-USED-WEIGHT-1M`, so a snapshot's per-symbol fan-out is sized from Aster's budget, not
  Binance's. History keeps Binance's pacing (UNVERIFIED for Aster).
"""

from perps_tracker.exchanges.binance import Binance


class Asterdex(Binance):
    id = "asterdex"
    kind = "DEX"
    long_short_path = None
    _open_interest_history_path = None  # no openInterestHist in Aster's docs
    liquidations_sampled = None
