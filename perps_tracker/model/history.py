"""A venue's past, hour by hour, from its public history endpoints (for `backfill`).

A venue module's `history(start, end, progress)` returns one `VenueHistory`: hourly series
for the window [start, end) (Unix seconds, whole hours), already summed over the venue's
included markets where the snapshot sums (volume, open interest, trades), and the BTC
perpetual's own series. `venue_at(history, hour)` then rebuilds the venue's row of the
snapshot of that hour with the same definitions as a live snapshot:

- `volume_24h_usd`: the quote volume of the 24 one-hour candles that opened in [H − 24 h, H);
- `open_interest_usd`: the open interest at H (the newest point in (H − 1 h, H]);
- `btc_price`: the close of the BTC candle that opened at H − 1 h;
- `btc_price_change_24h_pct`: that close against the open of the candle at H − 24 h;
- `btc_funding_rate_8h`: the rate of the funding period that contains H (the first
  settlement at or after H), per 8 h — the history has settled rates where a live
  snapshot sees the current period's predicted one;
- `long_share`: the newest point in (H − 1 h, H].

A series a venue has no endpoint for is None (never zeros) and the reason is in `notes`.
A value that cannot be rebuilt for an hour (a missing candle) leaves that field None.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from perps_tracker.model.market import Market, VenueSnapshot
from perps_tracker.model.times import DAY, HOUR

Series = Mapping[int, float]  # Unix seconds (an hour's start, or a point in time) → value
Progress = Callable[[int, int], None]  # (done, total) of a venue's requests

MARKET_LIST_NOTE = "market list is today's: delisted markets are missing, totals are lower bounds"


@dataclass(frozen=True)
class VenueHistory:
    exchange: str
    kind: str  # CEX or DEX
    start: int  # first hour fetched (includes the 24 h warm-up before the first snapshot)
    end: int  # the hour after the last one fetched
    # Summed over the included markets, per one-hour candle (keyed by the candle's open time):
    volume_usd: Series  # quote volume in USD
    markets: Mapping[int, int]  # markets with a candle in that hour
    trades: Mapping[int, int] | None = None  # None: the venue's candles carry no trade counts
    # Summed over the included markets at points in time (each market's newest point in the hour):
    open_interest_usd: Series | None = None  # None: no open-interest history
    # The venue's BTC perpetual (the market `pick_btc` would choose):
    btc_symbol: str | None = None
    btc_open: Series = field(default_factory=dict)  # candle open time → open price
    btc_close: Series = field(default_factory=dict)  # candle open time → close price
    btc_mark: Series | None = None  # mark-price candles, open time → close
    btc_index: Series | None = None  # index-price candles, open time → close
    btc_funding: Series | None = None  # settlement time → rate per 8 h (fraction)
    long_share: Series | None = None  # point in time → long accounts' share (0..1)
    symbols: int = 0  # included markets asked for
    symbols_failed: int = 0  # of them, those whose history could not be read
    notes: tuple[str, ...] = ()  # what this venue's history lacks, in plain words

    # -- (de)serialising, so a finished download survives an interrupted run ------------------

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, Mapping):
                value = [[k, v] for k, v in sorted(value.items())]
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "VenueHistory":
        kwargs: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name not in data:
                continue
            value = data[name]
            if name == "notes":
                value = tuple(value)
            elif isinstance(value, list):
                value = {int(k): v for k, v in value}
            kwargs[name] = value
        return cls(**kwargs)


def hours(start: int, end: int) -> range:
    """Hour starts in [start, end)."""
    return range(start - start % HOUR, end, HOUR)


def point_in_hour(series: Series | None, hour: int) -> float | None:
    """The newest value of `series` at a time in (hour − 1 h, hour]."""
    if not series:
        return None
    keys = sorted(series)
    i = bisect.bisect_right(keys, hour) - 1
    if i < 0 or keys[i] <= hour - HOUR:
        return None
    return series[keys[i]]


def funding_at(settlements: Series | None, hour: int, max_period: int = 8 * HOUR) -> float | None:
    """The rate of the funding period containing `hour`: the first settlement at or after it,
    if that settlement is at most one period away."""
    found = settlement_at(settlements, hour, max_period)
    return None if found is None else found[1]


def settlement_at(settlements: Series | None, hour: int, max_period: int = 8 * HOUR
                  ) -> tuple[int, float, int | None] | None:
    """(time, rate, the previous settlement's time or None) of `funding_at`'s settlement, or None."""
    if not settlements:
        return None
    keys = sorted(settlements)
    i = bisect.bisect_left(keys, hour)
    if i >= len(keys) or keys[i] - hour > max_period:
        return None
    return keys[i], settlements[keys[i]], keys[i - 1] if i > 0 else None


def rolling_sum(series: Mapping[int, float] | None, hour: int, span: int = DAY) -> float | None:
    """Σ of the hourly values for the hours that opened in [hour − span, hour); None if any is missing."""
    if series is None:
        return None
    total = 0.0
    for h in range(hour - span, hour, HOUR):
        value = series.get(h)
        if value is None:
            return None
        total += value
    return total


def hour_runs(hours: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive hour buckets as (first hour, number of hours), oldest first."""
    runs: list[tuple[int, int]] = []
    for hour in sorted(set(hours)):
        if runs and runs[-1][0] + runs[-1][1] * HOUR == hour:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((hour, 1))
    return runs


def venue_at(h: VenueHistory, hour: int) -> VenueSnapshot:
    """The venue's row of the snapshot of `hour`, rebuilt from its history (see module doc).

    A venue whose volume cannot be rebuilt for that hour (candles missing) is a failed row,
    like a venue that did not answer a live snapshot.
    """
    volume = rolling_sum(h.volume_usd, hour)
    if volume is None or volume <= 0:
        return VenueSnapshot.failed(h.exchange, h.kind, "no history for this hour")
    trades = rolling_sum(h.trades, hour) if h.trades is not None else None
    close = h.btc_close.get(hour - HOUR)
    first_open = h.btc_open.get(hour - DAY)
    change = 100.0 * (close / first_open - 1) if close is not None and first_open else None
    share = point_in_hour(h.long_share, hour)
    ratio = share / (1 - share) if share is not None and 0 <= share < 1 else None
    return VenueSnapshot(
        exchange=h.exchange,
        kind=h.kind,
        volume_24h_usd=volume,
        open_interest_usd=point_in_hour(h.open_interest_usd, hour),
        markets=h.markets.get(hour - HOUR),
        num_trades_24h=int(trades) if trades is not None else None,
        btc_price=close,
        btc_mark_price=(h.btc_mark or {}).get(hour - HOUR),
        btc_index_price=(h.btc_index or {}).get(hour - HOUR),
        btc_funding_rate_8h=funding_at(h.btc_funding, hour),
        btc_price_change_24h_pct=change,
        long_short_ratio=ratio,
        long_share=share,
        records_skipped=h.symbols_failed,
        notes=h.notes,
    )


@dataclass(frozen=True)
class MarketSeries:
    """One market's past, for `backfill --coins`: its one-hour candles, open interest, mark and index
    closes and settled funding over the download's window (a series the venue has no endpoint for, or
    that failed, is None and the venue's notes say why)."""

    exchange: str
    symbol: str
    base: str  # as listed (`Market.base`): model.coins makes it a coin and multiplier
    quote: str
    opens: Series  # candle open time → open price
    closes: Series  # candle open time → close price
    volume_usd: Series  # candle open time → quote volume in USD
    open_interest_usd: Series | None = None  # point in time → USD
    mark: Series | None = None  # candle open time → close of the mark-price candle
    index: Series | None = None
    funding: Series | None = None  # settlement time → rate per 8 h (fraction)
    funding_interval_h: float | None = None  # today's, for a settlement without a previous one
    # False where the venue's funding history is sampled hourly rather than settled (Deribit): the
    # interval is then today's, not the spacing of the points
    funding_settled: bool = True


def market_at(s: MarketSeries, hour: int) -> Market | None:
    """The market as a live snapshot of `hour` would have seen it, rebuilt from its history with the
    definitions of `venue_at` (price: the close of the candle that opened at H − 1 h; volume: the 24
    candles before H; open interest: the newest point in (H − 1 h, H]; funding: the period containing
    H, its raw rate over the spacing of its settlements, else today's interval). None without that
    candle (not listed yet, or no history)."""
    close = s.closes.get(hour - HOUR)
    if close is None:
        return None
    first_open = s.opens.get(hour - DAY)
    settlement = settlement_at(s.funding, hour)
    rate_8h = next_time = interval = None
    if settlement is not None:
        next_time, rate_8h, previous = settlement
        spacing = (next_time - previous) / HOUR if previous is not None and s.funding_settled else None
        interval = spacing if spacing is not None and 0 < spacing <= 8 else s.funding_interval_h
    return Market(
        symbol=s.symbol, base=s.base, quote=s.quote,
        volume_24h_usd=rolling_sum(s.volume_usd, hour),
        open_interest_usd=point_in_hour(s.open_interest_usd, hour),
        last_price=close,
        mark_price=(s.mark or {}).get(hour - HOUR),
        index_price=(s.index or {}).get(hour - HOUR),
        funding_rate_8h=rate_8h,
        price_change_24h_pct=100.0 * (close / first_open - 1) if first_open else None,
        funding_rate=rate_8h * interval / 8 if rate_8h is not None and interval else None,
        funding_interval_h=interval,
        next_funding_time=next_time,
    )


class HistoryBuilder:
    """Accumulates per-market series into a venue's totals (thread-safe enough for fan-out:
    call `add_*` from the main thread with each market's result)."""

    def __init__(self) -> None:
        self.volume: dict[int, float] = {}
        self.markets: dict[int, int] = {}
        self.trades: dict[int, int] = {}
        self.oi: dict[int, float] = {}
        self.failed = 0

    def add_candles(self, candles: Iterable[tuple[int, float, int | None]]) -> None:
        """One market's one-hour candles as (open time s, quote volume USD, trades or None)."""
        for t, volume, trades in candles:
            t -= t % HOUR
            self.volume[t] = self.volume.get(t, 0.0) + volume
            self.markets[t] = self.markets.get(t, 0) + 1
            if trades is not None:
                self.trades[t] = self.trades.get(t, 0) + trades

    def add_open_interest(self, points: Iterable[tuple[int, float]]) -> None:
        """One market's open interest in USD at points in time: each hour (the hour the point closes,
        rounded up) takes the market's newest point."""
        newest: dict[int, tuple[int, float]] = {}
        for t, usd in points:
            bucket = t if t % HOUR == 0 else t - t % HOUR + HOUR
            if bucket not in newest or t > newest[bucket][0]:
                newest[bucket] = (t, usd)
        for bucket, (_, usd) in newest.items():
            self.oi[bucket] = self.oi.get(bucket, 0.0) + usd
