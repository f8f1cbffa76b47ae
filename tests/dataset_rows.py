"""Generated capture rows for the dataset tests (and the docs' examples): a few venues and symbols,
trades, best bid/offer and book levels over a few hours, deterministic for a seed."""

from __future__ import annotations

import random

from perps_tracker.model.ticks import ASK, BID, BUY, SELL, Bbo, BookLevel, Trade

START_MS = 1_764_838_800_000  # 2025-12-04 09:00 UTC


def CLOCK() -> float:
    """A writer's clock ten minutes into START_MS's hour: that hour is not over."""
    return START_MS / 1000 + 600

SYMBOLS = {"binance": [("BTCUSDT", "BTC", 60_000.0), ("ETHUSDT", "ETH", 3_000.0)],
           "okx": [("BTC-USDT-SWAP", "BTC", 60_010.0)], "hyperliquid": [("BTC", "BTC", 59_995.0)]}


def trade(i: int, exchange: str = "binance", symbol: str = "BTCUSDT", coin: str = "BTC", ts_ms: int | None = None,
          price: float = 60_000.0, qty: float = 0.01, side: str = BUY) -> Trade:
    ts = START_MS + i * 10 if ts_ms is None else ts_ms
    return Trade(exchange, symbol, coin, ts, ts + 35, str(i), side, price, qty, price * qty)


def generated(seed: int = 7, per_symbol: int = 3_000, hours: int = 2) -> list:
    """Trades, BBOs and 5-level books for every venue and symbol of SYMBOLS over `hours` hours."""
    rng = random.Random(seed)
    rows: list = []
    span = hours * 3_600_000
    for exchange, markets in SYMBOLS.items():
        for symbol, coin, price in markets:
            times = sorted(START_MS + rng.randrange(span) for _ in range(per_symbol))
            for n, ts in enumerate(times):
                price = round(price * (1 + rng.gauss(0, 0.0002)), 1)
                qty = round(rng.lognormvariate(-3, 1.2), 3) or 0.001
                rows.append(Trade(exchange, symbol, coin, ts, ts + rng.randrange(5, 80), f"{symbol}:{n}",
                                  BUY if rng.random() < 0.52 else SELL, price, qty, price * qty))
                if n % 3 == 0:
                    spread = rng.choice((0.1, 0.2, 0.5))
                    rows.append(Bbo(exchange, symbol, coin, ts, ts + 20, price - spread, round(rng.random() * 5, 3),
                                    price, round(rng.random() * 5, 3)))
                if n % 50 == 0:
                    for level in range(5):
                        for side, sign in ((BID, -1), (ASK, 1)):
                            rows.append(BookLevel(exchange, symbol, coin, ts, ts + 20, side, level,
                                                  round(price + sign * 0.1 * (level + 1), 1),
                                                  round(rng.random() * 10, 3)))
    return rows
