"""The options market of one currency (BTC, ETH) from Deribit's chain: DVOL, put/call ratios, open
interest, the 25-delta risk reversal and the at-the-money IV of the expiry nearest 30 days.

Pure: the venue module parses the chain into `OptionQuote`s; `options_metrics(currency, quotes, dvol,
now)` computes the figures (docs/options.md):

- `put_call_oi_ratio` = Σ open interest of puts / Σ of calls; `put_call_volume_ratio` likewise on
  the 24 h volume; `options_oi_usd` = Σ open interest (coins) × the option's underlying price.
- The expiry: the one whose time to expiry is closest to 30 days (the earlier on a tie).
- Delta: Black-76 with r = 0, F the option's underlying price, σ = mark IV / 100, T in years of
  365 days: d1 = (ln(F/K) + σ²T/2) / (σ√T); a call's delta N(d1), a put's N(d1) − 1.
- `skew_25d` = IV(call delta 0.25) − IV(put delta −0.25), vol points, each by linear interpolation in
  delta between the two nearest out-of-the-money options (calls K ≥ F, puts K ≤ F) that bracket it;
  None when either side cannot be bracketed.
- `atm_iv_30d` = IV at delta 0.5 the same way over the expiry's calls and puts, a put counted at its
  call-equivalent delta N(d1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

YEAR = 365 * 24 * 3600  # seconds in the 365-day year T is counted in
TARGET_DAYS = 30


@dataclass(frozen=True)
class OptionQuote:
    """One option of the chain: the instrument's terms and its book summary."""

    instrument: str  # BTC-27DEC26-100000-C
    strike: float
    kind: str  # "call" or "put"
    expiry: int  # Unix seconds
    open_interest: float | None  # coins
    volume: float | None  # coins traded over 24 h
    mark_iv: float | None  # percent
    underlying_price: float | None  # the forward of this expiry (USD per coin)


@dataclass(frozen=True)
class OptionsMetrics:
    currency: str
    timestamp: int  # the snapshot's hour
    dvol: float | None
    put_call_oi_ratio: float | None
    put_call_volume_ratio: float | None
    options_oi_usd: float | None
    skew_25d: float | None  # vol points: IV(25-delta call) − IV(25-delta put)
    atm_iv_30d: float | None  # percent
    expiry: int | None  # Unix seconds of the expiry the smile, skew and ATM IV are read from
    options: int = 0  # options in the chain
    smile: tuple[tuple[float, float], ...] = ()  # that expiry's (call-equivalent delta, IV %), by delta


def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def d1(forward: float, strike: float, years: float, sigma: float) -> float:
    return (math.log(forward / strike) + sigma * sigma * years / 2) / (sigma * math.sqrt(years))


def black76_delta(forward: float, strike: float, years: float, sigma: float, kind: str) -> float:
    """Black-76 delta with r = 0: N(d1) for a call, N(d1) − 1 for a put."""
    call = norm_cdf(d1(forward, strike, years, sigma))
    return call if kind == "call" else call - 1.0


def interpolate(points: Iterable[tuple[float, float]], target: float) -> float | None:
    """The value at `target` by linear interpolation between the two nearest points (x, y) that bracket
    it (x_lo ≤ target ≤ x_hi); None when none do."""
    ordered = sorted(points)
    for (x0, y0), (x1, y1) in zip(ordered, ordered[1:]):
        if x0 <= target <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (target - x0) / (x1 - x0)
    if ordered and ordered[0][0] == target:  # a single point exactly at the target
        return ordered[0][1]
    return None


def nearest_expiry(expiries: Iterable[int], now: int, days: int = TARGET_DAYS) -> int | None:
    """The expiry after `now` whose time to expiry is closest to `days` days, the earlier on a tie."""
    future = sorted({e for e in expiries if e > now})
    target = now + days * 24 * 3600
    return min(future, key=lambda e: (abs(e - target), e), default=None)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def _usable(q: OptionQuote) -> bool:
    return (q.mark_iv is not None and q.mark_iv > 0 and q.underlying_price is not None and q.underlying_price > 0
            and q.strike > 0)


def smile_points(quotes: Sequence[OptionQuote], expiry: int, now: int) -> list[tuple[str, float, float, bool]]:
    """(kind, delta, IV %, out of the money) of the usable options of `expiry`, delta as Black-76 gives it."""
    years = (expiry - now) / YEAR
    points = []
    for q in quotes:
        if q.expiry != expiry or not _usable(q):
            continue
        delta = black76_delta(q.underlying_price, q.strike, years, q.mark_iv / 100, q.kind)
        otm = q.strike >= q.underlying_price if q.kind == "call" else q.strike <= q.underlying_price
        points.append((q.kind, delta, q.mark_iv, otm))
    return points


def options_metrics(currency: str, quotes: Sequence[OptionQuote], dvol: float | None, now: int,
                    timestamp: int | None = None) -> OptionsMetrics:
    """The figures of the module doc over `quotes` (one currency's chain) at `now` (Unix seconds)."""
    calls = [q for q in quotes if q.kind == "call"]
    puts = [q for q in quotes if q.kind == "put"]

    def total(rows: Iterable[OptionQuote], field: str) -> float:
        return math.fsum(v for q in rows if (v := getattr(q, field)) is not None and v >= 0)

    oi_usd = [q.open_interest * q.underlying_price for q in quotes
              if q.open_interest is not None and q.underlying_price is not None]
    expiry = nearest_expiry((q.expiry for q in quotes if _usable(q)), now)
    skew = atm = None
    smile: tuple[tuple[float, float], ...] = ()
    if expiry is not None:
        points = smile_points(quotes, expiry, now)
        call_25 = interpolate(((d, iv) for kind, d, iv, otm in points if kind == "call" and otm), 0.25)
        put_25 = interpolate(((d, iv) for kind, d, iv, otm in points if kind == "put" and otm), -0.25)
        skew = call_25 - put_25 if call_25 is not None and put_25 is not None else None
        equivalent = [(d if kind == "call" else d + 1.0, iv) for kind, d, iv, _ in points]
        atm = interpolate(equivalent, 0.5)
        smile = tuple(sorted(equivalent))
    return OptionsMetrics(
        currency=currency, timestamp=now if timestamp is None else timestamp, dvol=dvol,
        put_call_oi_ratio=_ratio(total(puts, "open_interest"), total(calls, "open_interest")),
        put_call_volume_ratio=_ratio(total(puts, "volume"), total(calls, "volume")),
        options_oi_usd=math.fsum(oi_usd) if oi_usd else None,
        skew_25d=skew, atm_iv_30d=atm, expiry=expiry, options=len(quotes), smile=smile,
    )
