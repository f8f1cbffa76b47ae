"""One synthetic market universe at real scale, served by all nine venue fakes in their own shapes.

`install_universe(fake, seed=7, scale=1.0)` replaces the snapshot routes of every venue (the calls
`fetch()` makes) with one universe of about 3,000 included perpetuals — Binance 580, Bybit 510 (over
cursor pages), OKX 260, Bitget 460, Gate 520, Hyperliquid 210, AsterDEX 210, dYdX 250, Deribit 30 — plus a few
instruments per venue that the venue's inclusion rules leave out (dated futures, inverse swaps,
delisted, halted, pre-launch). It returns a `Universe`: per venue the included and the excluded
symbols, and per (venue, symbol) a `Listing` with the coin, the multiplier and what the stored
row must hold (price per one coin, mark and index, 24 h volume and open interest in USD, funding per
8 h and its interval, 24 h change) — all known from how the payload was built, not from the
product's code. `scale` multiplies the per-venue counts (0.05: ~150 markets, still every venue's
multiplied contracts); the same seed and scale give the same universe.

Every coin has one true USD price (BTC ~97,000 down to ~0.000001). A venue quotes a contract at
true price × multiplier × (1 + a deviation of at most 4.5 bps: a venue-wide offset of ±2 bps and a
per-market one of ±2.5 bps), seven significant digits, so per coin the venues agree within 10 bps.

Symbols as each venue writes them (the multiplied ones as public client code and test fixtures that
talk to these venues name them; the plain ones as tests/fixtures/<venue>/ do):

- Binance, AsterDEX: `BTCUSDT` (baseAsset BTC); `1000PEPEUSDT` (baseAsset `1000PEPE`: price per 1000
  PEPE), `1000SHIBUSDT`, `1000BONKUSDT`, `1000FLOKIUSDT`, `1000LUNCUSDT`, `1000SATSUSDT`,
  `1000000MOGUSDT`, `1MBABYDOGEUSDT` (1,000,000); `1INCHUSDT` is the coin 1INCH; `BTCUSDC` and a few
  more USDC-quoted perpetuals.
- Bybit: `BTCUSDT` (baseCoin BTC); `1000PEPEUSDT` (baseCoin `1000PEPE`), `SHIB1000USDT` (baseCoin
  `SHIB1000`, the multiplier as a suffix), `10000SATSUSDT` and `10000LADYSUSDT` (10,000),
  `1000000MOGUSDT`, `1000000BABYDOGEUSDT`; USDC perpetuals `BTCPERP`, `ETHPERP` (settleCoin USDC).
- OKX: `PEPE-USDT-SWAP` quoted per one PEPE, the contract size in `ctVal` (10,000,000 PEPE);
  `BTC-USDC-SWAP`, `ETH-USDC-SWAP`.
- Bitget: `PEPEUSDT` (baseCoin PEPE, per coin; `sizeMultiplier` for the order size); `1000CATUSDT`
  (baseCoin `1000CAT`).
- Gate: `PEPE_USDT`, per coin, contract size in `quanto_multiplier`; `1000SATS_USDT` (1,000 SATS).
- Binance's `CATUSDT` is Caterpillar (a TRADIFI_PERPETUAL, excluded), `1000CATUSDT` the memecoin CAT.
- Hyperliquid: `kPEPE`, `kSHIB`, `kBONK`, `kFLOKI`, `kLUNC` (1000 coins; prices per 1000).
- dYdX: `PEPE-USD`, per coin (oracle price).
- Deribit: linear USDC perpetuals `BTC_USDC-PERPETUAL`, `ETH_USDC-PERPETUAL`, `SOL_USDC-PERPETUAL`, ...
  (base_currency BTC, per coin); left out: the inverse `BTC-PERPETUAL` and `ETH-PERPETUAL` (settled in
  the coin), the dated `BTC_USDC-27DEC26` and an inactive perpetual.

Units as each venue sends them: Binance/AsterDEX funding per the symbol's interval (`fundingInfo`
lists the symbols off 8 h; AsterDEX lists every symbol), per-symbol `openInterest` in base units
(AsterDEX: no such endpoint, 404); Bybit `price24hPcnt` a fraction, `fundingIntervalHour` per symbol,
`turnover24h` USD; OKX `volCcy24h` in coins, funding interval = `nextFundingTime − fundingTime`,
`oiUsd`; Bitget `change24h` a fraction, `holdingAmount` in coins, `fundingRateInterval` per symbol;
Gate `funding_interval` in seconds, `total_size` in contracts, `change_percentage` in percent;
Hyperliquid and dYdX hourly funding, dYdX `priceChange24H` in USD; Deribit JSON numbers, `open_interest`
in coins, `funding_8h` per 8 h, `price_change` in percent.

The long/short ratio routes serve the fixtures (BTC is in every venue's universe). Payloads are
encoded once at install. History, liquidation and stream routes are not part of the universe.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from tests.fakes import Reply, Request, load
from tests.fakes.binance import OPEN_INTEREST, RATIO, WeightCounter, install_venue

NOW_MS = 1795345200000  # 2026-11-22 11:00 UTC, the hour tests/test_snapshot.py freezes its clock in
HOUR_MS = 3_600_000
VENUES = ("binance", "bybit", "okx", "bitget", "gateio", "hyperliquid", "asterdex", "dydx", "deribit")
TARGETS = {"binance": 580, "bybit": 510, "okx": 260, "bitget": 460, "gateio": 520, "hyperliquid": 210,
           "asterdex": 210, "dydx": 250, "deribit": 30}
BYBIT_PAGE = 200  # instruments-info rows a page, whatever `limit` asks: the client must follow the cursor
MAX_DEVIATION_BPS = 4.5

# The largest coins, with a true USD price each: listed first by every venue.
MAJORS = (
    ("BTC", 97_250.0), ("ETH", 3_412.5), ("SOL", 187.3), ("BNB", 652.1), ("XRP", 2.318), ("DOGE", 0.3215),
    ("ADA", 0.9012), ("AVAX", 35.42), ("LINK", 21.37), ("DOT", 6.512), ("TRX", 0.2531), ("LTC", 101.2),
    ("BCH", 452.6), ("NEAR", 5.123), ("APT", 9.041), ("ARB", 0.7012), ("OP", 1.812), ("SUI", 3.512),
    ("TON", 5.231), ("AAVE", 301.5), ("UNI", 12.31), ("ETC", 26.12), ("FIL", 5.012), ("ATOM", 6.543),
    ("INJ", 24.12), ("TIA", 5.521), ("WIF", 2.013), ("HYPE", 25.12), ("ENA", 0.8123), ("SEI", 0.4512),
)

# Coins that venues list in multiples: coin → (true price, {venue: (the venue's base name, multiplier)}).
# The symbol is built from the venue's base name as that venue writes symbols (see the docstring).
MULTIPLIED = {
    "PEPE": (1.123e-5, {"binance": ("1000PEPE", 1000), "asterdex": ("1000PEPE", 1000), "bybit": ("1000PEPE", 1000),
                        "okx": ("PEPE", 1), "bitget": ("PEPE", 1), "gateio": ("PEPE", 1),
                        "hyperliquid": ("kPEPE", 1000), "dydx": ("PEPE", 1)}),
    "SHIB": (1.412e-5, {"binance": ("1000SHIB", 1000), "asterdex": ("1000SHIB", 1000), "bybit": ("SHIB1000", 1000),
                        "okx": ("SHIB", 1), "bitget": ("SHIB", 1), "gateio": ("SHIB", 1),
                        "hyperliquid": ("kSHIB", 1000), "dydx": ("SHIB", 1)}),
    "BONK": (2.051e-5, {"binance": ("1000BONK", 1000), "bybit": ("1000BONK", 1000), "okx": ("BONK", 1),
                        "bitget": ("BONK", 1), "gateio": ("BONK", 1), "hyperliquid": ("kBONK", 1000),
                        "dydx": ("BONK", 1)}),
    "FLOKI": (1.302e-4, {"binance": ("1000FLOKI", 1000), "bybit": ("1000FLOKI", 1000), "okx": ("FLOKI", 1),
                         "gateio": ("FLOKI", 1), "hyperliquid": ("kFLOKI", 1000)}),
    "LUNC": (6.21e-5, {"binance": ("1000LUNC", 1000), "bybit": ("1000LUNC", 1000), "okx": ("LUNC", 1),
                       "gateio": ("LUNC", 1), "hyperliquid": ("kLUNC", 1000)}),
    "SATS": (1.052e-6, {"binance": ("1000SATS", 1000), "bybit": ("10000SATS", 10_000), "okx": ("SATS", 1),
                        "gateio": ("1000SATS", 1000)}),
    "CAT": (3.2e-5, {"binance": ("1000CAT", 1000), "bitget": ("1000CAT", 1000)}),  # Simon's Cat
    "MOG": (1.213e-6, {"binance": ("1000000MOG", 1_000_000), "bybit": ("1000000MOG", 1_000_000),
                       "gateio": ("MOG", 1)}),
    "BABYDOGE": (1.604e-6, {"binance": ("1MBABYDOGE", 1_000_000), "bybit": ("1000000BABYDOGE", 1_000_000)}),
    "LADYS": (1.006e-6, {"bybit": ("10000LADYS", 10_000)}),
    "1INCH": (0.3512, {"binance": ("1INCH", 1), "asterdex": ("1INCH", 1), "bybit": ("1INCH", 1),
                       "okx": ("1INCH", 1), "bitget": ("1INCH", 1), "gateio": ("1INCH", 1), "dydx": ("1INCH", 1)}),
}

# USDC-settled markets beside the USDT ones: venue → [(coin, symbol)].
USDC_MARKETS = {
    "binance": [("BTC", "BTCUSDC"), ("ETH", "ETHUSDC"), ("SOL", "SOLUSDC"), ("DOGE", "DOGEUSDC")],
    "bybit": [("BTC", "BTCPERP"), ("ETH", "ETHPERP")],
    "okx": [("BTC", "BTC-USDC-SWAP"), ("ETH", "ETH-USDC-SWAP")],
}

# Names a generated coin never takes: what model/coins.py renames (RNDR→RENDER and the like), written
# out here so that the universe does not depend on the product's tables.
RESERVED = {"RNDR", "RENDER", "MATIC", "POL", "LUNA", "LUNA2", "XBT", "UBTC", "UETH", "PERP", "USD", "USDT", "USDC"}
CONSONANTS, VOWELS = "BDFGHJLMNPRSTVZ", "AEIOU"
GENERATED = 1000  # coins besides the majors and the multiplied ones (more than any venue lists)


@dataclass(frozen=True)
class Listing:
    """One included market as its stored row (`instrument_snapshots`) must show it."""

    venue: str
    symbol: str
    coin: str
    multiplier: float
    quote: str
    price: float  # per one coin: the quoted last (Hyperliquid: mark; dYdX: oracle) / multiplier
    mark_price: float | None  # per one coin; None where the venue gives none
    index_price: float | None
    volume_24h_usd: float
    open_interest_usd: float | None  # None where the venue gives none (AsterDEX)
    funding_rate_8h: float
    funding_interval_h: float
    price_change_24h_pct: float
    true_price: float  # the coin's true USD price


@dataclass
class Universe:
    """What `install_universe` served: the coins' true prices, the included markets, the excluded symbols."""

    seed: int
    scale: float
    coins: dict[str, float]
    markets: dict[tuple[str, str], Listing]
    excluded: dict[str, list[str]]
    included: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for venue in VENUES:
            self.included.setdefault(venue, [])
        for venue, symbol in self.markets:
            self.included[venue].append(symbol)

    def venues_of(self, coin: str) -> set[str]:
        """The venues listing `coin` (any of their markets)."""
        return {m.venue for m in self.markets.values() if m.coin == coin}

    def counts(self) -> dict[str, int]:
        return {venue: len(self.included[venue]) for venue in VENUES}


# -- numbers --------------------------------------------------------------------------------------------


def decimal(value: float, significant: int = 7) -> str:
    """`value` as a plain decimal string (never 1e-06) with `significant` digits, as venues write prices."""
    if value == 0:
        return "0"
    places = max(0, significant - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{places}f}"


def contract_size(price: float) -> float:
    """A contract worth about $10: a power of ten of coins (OKX ctVal, Gate quanto_multiplier)."""
    return 10.0 ** round(math.log10(10.0 / price))


def size_text(size: float) -> str:
    return str(int(size)) if size >= 1 else decimal(size, 1)


@dataclass
class _Market:
    """One market while it is built: the venue's names, its true figures and its quoted strings."""

    venue: str
    coin: str
    base: str  # as the venue names it: 1000PEPE, SHIB1000, kPEPE, PEPE
    symbol: str
    multiplier: int
    quote: str
    true_price: float
    last: str = ""  # per contract, as quoted
    mark: str = ""
    index: str = ""
    change_pct: float = 0.0
    volume_usd: float = 0.0
    oi_usd: float = 0.0
    funding_8h: float = 0.0
    interval_h: int = 8
    trades: int = 0


def _names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """`count` new coin names of two or three consonant-vowel syllables (letters only: no multiplier
    prefix or suffix can be read into them), none in `taken`."""
    names: list[str] = []
    while len(names) < count:
        name = "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(rng.choice((2, 2, 3))))
        if rng.random() < 0.3:
            name += rng.choice(CONSONANTS)
        if name not in taken and name not in RESERVED:
            taken.add(name)
            names.append(name)
    return names


def _coins(rng: random.Random) -> tuple[dict[str, float], list[str]]:
    """Every coin's true price, and the ranked names of the coins a venue may list beside the multiplied
    ones (majors first)."""
    coins = dict(MAJORS)
    coins.update({coin: price for coin, (price, _) in MULTIPLIED.items()})
    generated = _names(rng, GENERATED, set(coins))
    for name in generated:
        coins[name] = 10.0 ** rng.uniform(math.log10(2e-5), math.log10(5e3))
    return coins, [name for name, _ in MAJORS] + generated


def _symbol(venue: str, base: str, quote: str = "USDT") -> str:
    if venue in ("binance", "asterdex", "bybit", "bitget"):
        return f"{base}{quote}"
    if venue == "okx":
        return f"{base}-{quote}-SWAP"
    if venue == "gateio":
        return f"{base}_{quote}"
    if venue == "hyperliquid":
        return base
    if venue == "deribit":
        return f"{base}_{quote}-PERPETUAL"
    return f"{base}-USD"  # dydx


def _quote_of(venue: str) -> str:
    return {"hyperliquid": "USD", "dydx": "USD", "deribit": "USDC"}.get(venue, "USDT")


def _choose(rng: random.Random, ranked: list[str], need: int) -> list[str]:
    """`need` of the ranked coins, the larger ones likelier (weighted sampling without replacement)."""
    if need <= 0:
        return []
    keyed = []
    for rank, coin in enumerate(ranked):
        weight = 50.0 if rank < len(MAJORS) else 1.0 / (1.0 + rank / 150.0)
        keyed.append((rng.random() ** (1.0 / weight), coin))
    keyed.sort(reverse=True)
    return [coin for _, coin in keyed[:need]]


INTERVALS = {  # venue → (hours, weight) of its symbols' funding intervals
    "binance": ((8, 80), (4, 17), (1, 3)),
    "asterdex": ((8, 70), (4, 20), (1, 10)),
    "bybit": ((8, 60), (4, 30), (2, 5), (1, 5)),
    "okx": ((8, 80), (4, 15), (1, 5)),
    "bitget": ((8, 65), (4, 25), (2, 5), (1, 5)),
    "gateio": ((8, 60), (4, 30), (1, 10)),
    "hyperliquid": ((1, 1),),
    "dydx": ((1, 1),),
    "deribit": ((8, 1),),  # funding_8h: the rate per 8 h (it accrues continuously)
}
VOLUME_SHARE = {"binance": 1.0, "bybit": 0.55, "okx": 0.4, "bitget": 0.35, "gateio": 0.3, "hyperliquid": 0.5,
                "asterdex": 0.15, "dydx": 0.04, "deribit": 0.25}  # Deribit's USDC volumes are cut to 8 % again


def _fill(m: _Market, rng: random.Random, offset_bps: float, coin_rank: int, coin_change: float,
          coin_funding: float) -> None:
    """The market's figures from its coin's (true price, rank, 24 h change, funding) and its venue's."""
    deviation = (offset_bps + rng.uniform(-2.5, 2.5)) / 1e4
    last = m.true_price * m.multiplier * (1 + deviation)
    m.last = decimal(last)
    m.mark = decimal(last * (1 + rng.uniform(-0.5, 0.5) / 1e4))
    m.index = decimal(m.true_price * m.multiplier * (1 + rng.uniform(-1, 1) / 1e4))
    m.change_pct = round(coin_change + rng.uniform(-0.2, 0.2), 2)
    m.volume_usd = round(2.5e10 * VOLUME_SHARE[m.venue] / (1 + coin_rank) ** 1.15 * rng.uniform(0.6, 1.4), 2)
    if m.quote == "USDC":
        m.volume_usd = round(m.volume_usd * 0.08, 2)
    m.oi_usd = round(m.volume_usd * rng.uniform(0.15, 0.9), 2)
    hours, weights = zip(*INTERVALS[m.venue])
    m.interval_h = rng.choices(hours, weights)[0]
    m.funding_8h = round(coin_funding + rng.uniform(-4e-5, 4e-5), 8)
    m.trades = int(m.volume_usd / rng.uniform(800, 3000)) + 1


def _build(seed: int, scale: float) -> tuple[dict[str, float], dict[str, list[_Market]], dict[str, list[_Market]]]:
    rng = random.Random(f"universe:{seed}")
    coins, ranked = _coins(rng)
    rank = {coin: i for i, coin in enumerate(ranked)}
    for coin in MULTIPLIED:  # a middling rank: volumes of a popular meme coin
        rank[coin] = 40 + list(MULTIPLIED).index(coin) * 6
    change = {coin: rng.uniform(-12, 12) for coin in coins}
    funding = {coin: max(-1e-3, min(1e-3, rng.gauss(1e-4, 1.5e-4))) for coin in coins}
    included: dict[str, list[_Market]] = {}
    excluded: dict[str, list[_Market]] = {}
    for venue in VENUES:
        vrng = random.Random(f"universe:{seed}:{venue}")
        markets: list[_Market] = []
        quote = _quote_of(venue)
        for coin, (price, names) in MULTIPLIED.items():
            if venue in names:
                base, multiplier = names[venue]
                markets.append(_Market(venue, coin, base, _symbol(venue, base, quote), multiplier, quote, price))
        for coin, symbol in USDC_MARKETS.get(venue, ()):
            markets.append(_Market(venue, coin, coin, symbol, 1, "USDC", coins[coin]))
        forced = ["BTC", "ETH"]
        target = max(len(markets) + len(forced), round(TARGETS[venue] * scale))
        chosen = forced + _choose(vrng, [c for c in ranked if c not in forced], target - len(markets) - len(forced))
        for coin in chosen:
            markets.append(_Market(venue, coin, coin, _symbol(venue, coin, quote), 1, quote, coins[coin]))
        offset = vrng.uniform(-2.0, 2.0)
        for m in markets:
            _fill(m, vrng, offset, rank[m.coin], change[m.coin], funding[m.coin])
        vrng.shuffle(markets)  # venues list in their own order, not by size
        included[venue] = markets
        listed = {m.coin for m in markets}
        spare = [c for c in ranked[len(MAJORS):] if c not in listed]
        excluded[venue] = []
        for kind in EXCLUDED[venue]:
            coin = "BTC" if kind in DATED else spare.pop()
            m = _Market(venue, coin, coin, "", 1, quote, coins[coin])
            _fill(m, vrng, offset, rank[coin], change[coin], funding[coin])
            m.symbol = kind  # the payload writer turns the kind into the venue's symbol and fields
            excluded[venue].append(m)
    return coins, included, excluded


# What each venue's rules leave out (one instrument of each kind); the writers below give each its
# symbol and fields. DATED kinds are BTC futures with a delivery date (their symbol is unique).
EXCLUDED = {
    "binance": ("quarter", "next_quarter", "tradifi", "delivering", "pending", "settling", "busd", "unnamed"),
    "asterdex": ("settling", "usd1", "pending", "quarter"),
    "bybit": ("dated", "inverse", "prelaunch", "settling", "delivering", "closed"),
    "okx": ("inverse", "suspend", "preopen", "test"),
    "bitget": ("delivery", "off", "listed", "maintain", "limit_open", "restricted"),
    "gateio": ("in_delisting", "delisted", "prelaunch", "inverse"),
    "hyperliquid": ("delisted", "delisted2"),
    "dydx": ("PAUSED", "CANCEL_ONLY", "POST_ONLY", "INITIALIZING", "FINAL_SETTLEMENT"),
    "deribit": ("inverse", "inverse_eth", "dated", "inactive"),
}
DATED = {"quarter", "next_quarter", "dated"}


# -- the venues' payloads ----------------------------------------------------------------------------------


def _rate(m: _Market) -> str:
    """The funding rate as paid per the market's interval."""
    return decimal(m.funding_8h * m.interval_h / 8, 10)


def _next_settlement(m: _Market) -> int:
    step = m.interval_h * HOUR_MS
    return (NOW_MS // step + 1) * step


def _binance_like(venue: str, markets: list[_Market], excluded: list[_Market]) -> tuple[dict, list, list[str]]:
    """exchangeInfo, ticker/24hr, premiumIndex, fundingInfo and per-symbol openInterest rows."""
    symbols, tickers, premium, funding, oi = [], [], [], [], []

    def row(m: _Market, contract: str = "PERPETUAL", status: str = "TRADING", quote: str | None = None,
            delivery: int = 4133404800000) -> dict:
        q = quote or m.quote
        return {"symbol": m.symbol, "pair": m.symbol, "contractType": contract, "deliveryDate": delivery,
                "onboardDate": 1700000000000, "status": status, "baseAsset": m.base, "quoteAsset": q,
                "marginAsset": q, "underlyingType": "COIN", "pricePrecision": 7, "quantityPrecision": 0}

    def market_rows(m: _Market) -> None:
        last = float(m.last)
        tickers.append({"symbol": m.symbol, "priceChange": decimal(last - last / (1 + m.change_pct / 100)),
                        "priceChangePercent": f"{m.change_pct:.3f}", "lastPrice": m.last,
                        "volume": decimal(m.volume_usd / last, 10), "quoteVolume": f"{m.volume_usd:.2f}",
                        "openTime": NOW_MS - 86_400_000, "closeTime": NOW_MS - 1, "count": m.trades})
        premium.append({"symbol": m.symbol, "markPrice": m.mark, "indexPrice": m.index,
                        "estimatedSettlePrice": m.index, "lastFundingRate": _rate(m), "interestRate": "0.00010000",
                        "nextFundingTime": _next_settlement(m), "time": NOW_MS})
        oi.append({"symbol": m.symbol, "openInterest": decimal(m.oi_usd / float(m.mark), 10), "time": NOW_MS - 1000})

    for m in markets:
        symbols.append(row(m))
        market_rows(m)
        if venue == "asterdex":  # Aster lists every symbol, with its own fields
            funding.append({"symbol": m.symbol, "interestRate": "0.00010000", "time": NOW_MS,
                            "fundingIntervalHours": m.interval_h, "fundingFeeCap": 0.02, "fundingFeeFloor": -0.02})
        elif m.interval_h != 8 or len(funding) < 5:  # Binance: the adjusted symbols only (a few at 8 h too)
            funding.append({"symbol": m.symbol, "adjustedFundingRateCap": "0.02000000",
                            "adjustedFundingRateFloor": "-0.02000000", "fundingIntervalHours": m.interval_h,
                            "disclaimer": False})
    names = []
    for m in excluded:
        kind, m.base = m.symbol, m.coin
        m.symbol = f"{m.coin}USDT"
        if kind in ("quarter", "next_quarter"):
            m.symbol = "BTCUSDT_261225" if kind == "quarter" else "BTCUSDT_270326"
            r = row(m, "CURRENT_QUARTER" if kind == "quarter" else "NEXT_QUARTER",
                    delivery=1798185600000 if kind == "quarter" else 1805961600000)
            r["pair"] = "BTCUSDT"
        elif kind == "tradifi":
            r = row(m, "TRADIFI_PERPETUAL")
            r["underlyingType"] = "EQUITY"
        elif kind == "delivering":
            r = row(m, "PERPETUAL DELIVERING")
        elif kind == "pending":
            r = row(m, status="PENDING_TRADING")
        elif kind == "settling":
            r = row(m, status="SETTLING")
        elif kind == "busd":
            m.symbol = f"{m.coin}BUSD"
            r = row(m, quote="BUSD")
        elif kind == "usd1":
            m.symbol = f"{m.coin}USD1"
            r = row(m, quote="USD1")
        else:  # "unnamed": listed, its contract type not yet set
            r = row(m, "")
        symbols.append(r)
        market_rows(m)  # venues keep sending tickers of symbols that are not trading
        names.append(m.symbol)
    info = {"timezone": "UTC", "serverTime": NOW_MS, "futuresType": "U_MARGINED",
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                           {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200}],
            "exchangeFilters": [], "assets": [{"asset": "USDT", "marginAvailable": True}], "symbols": symbols}
    payloads = {"/fapi/v1/exchangeInfo": info, "/fapi/v1/ticker/24hr": tickers, "/fapi/v1/premiumIndex": premium,
                "/fapi/v1/fundingInfo": funding}
    return payloads, oi, names


def _bybit(markets: list[_Market], excluded: list[_Market]) -> tuple[list[dict], list[dict], list[str]]:
    """instruments-info rows and tickers rows."""
    rows, tickers = [], []

    def instrument(m: _Market, contract: str = "LinearPerpetual", status: str = "Trading",
                   settle: str | None = None) -> dict:
        return {"symbol": m.symbol, "contractType": contract, "status": status, "baseCoin": m.base,
                "quoteCoin": m.quote, "settleCoin": settle or m.quote, "launchTime": "1700000000000",
                "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "7", "fundingInterval": m.interval_h * 60,
                "upperFundingRate": "0.02", "lowerFundingRate": "-0.02", "isPreListing": False}

    def ticker(m: _Market, single: bool) -> dict:
        last = float(m.last)
        row = {"symbol": m.symbol, "lastPrice": m.last, "indexPrice": m.index, "markPrice": m.mark,
               "prevPrice24h": decimal(last / (1 + m.change_pct / 100)), "price24hPcnt": f"{m.change_pct / 100:.6f}",
               "highPrice24h": decimal(last * 1.02), "lowPrice24h": decimal(last * 0.97),
               "openInterest": decimal(2 * m.oi_usd / float(m.mark), 10), "openInterestValue": f"{2 * m.oi_usd:.2f}",
               "turnover24h": f"{m.volume_usd:.4f}", "volume24h": decimal(m.volume_usd / last, 10),
               "fundingRate": _rate(m), "fundingIntervalHour": str(m.interval_h),
               "nextFundingTime": str(_next_settlement(m)), "deliveryTime": "0", "basis": "", "deliveryFeeRate": ""}
        if single:  # one side; the rest of the rows give openInterestValue alone (then it is the value used)
            row["singleOpenInterest"] = decimal(m.oi_usd / float(m.mark), 10)
            row["singleOpenInterestValue"] = f"{m.oi_usd:.2f}"
        else:
            row["openInterestValue"] = f"{m.oi_usd:.2f}"
        return row

    for i, m in enumerate(markets):
        rows.append(instrument(m))
        tickers.append(ticker(m, single=i % 5 != 0))
    names = []
    for m in excluded:
        kind, m.base = m.symbol, m.coin
        m.symbol = f"{m.coin}USDT"
        if kind == "dated":
            m.symbol, m.quote = "BTC-26DEC26", "USDC"
            r = instrument(m, "LinearFutures")
            r.update(deliveryTime="1798272000000", fundingInterval=0)
        elif kind == "inverse":
            m.symbol, m.quote = f"{m.coin}USD", "USD"
            r = instrument(m, "InversePerpetual", settle=m.coin)
        else:
            r = instrument(m, status={"prelaunch": "PreLaunch", "settling": "Settling", "delivering": "Delivering",
                                      "closed": "Closed"}[kind])
        rows.append(r)
        tickers.append(ticker(m, single=True))
        names.append(m.symbol)
    return rows, tickers, names


def _okx(markets: list[_Market], excluded: list[_Market]) -> tuple[dict[str, list], list[str]]:
    """instruments, tickers, funding-rate (instId=ANY), open-interest and mark-price rows."""
    out: dict[str, list] = {"instruments": [], "tickers": [], "funding": [], "open_interest": [], "marks": []}

    def rows(m: _Market, state: str = "live", settle: str | None = None, ct_type: str = "linear") -> None:
        family = m.symbol.rsplit("-", 1)[0]
        size = contract_size(m.true_price)
        last = float(m.last)
        out["instruments"].append({
            "instType": "SWAP", "instId": m.symbol, "uly": family, "instFamily": family,
            "settleCcy": settle or m.quote, "ctVal": size_text(size), "ctMult": "1", "ctValCcy": m.base,
            "ctType": ct_type, "state": state, "listTime": "1700000000000", "expTime": "", "lever": "50"})
        out["tickers"].append({
            "instType": "SWAP", "instId": m.symbol, "last": m.last, "lastSz": "1",
            "open24h": decimal(last / (1 + m.change_pct / 100)), "high24h": decimal(last * 1.02),
            "low24h": decimal(last * 0.97), "vol24h": decimal(m.volume_usd / last / size, 10),
            "volCcy24h": decimal(m.volume_usd / last, 10), "ts": str(NOW_MS)})
        next_time = _next_settlement(m)
        out["funding"].append({
            "instType": "SWAP", "instId": m.symbol, "fundingRate": _rate(m), "nextFundingRate": "",
            "fundingTime": str(next_time), "nextFundingTime": str(next_time + m.interval_h * HOUR_MS),
            "method": "current_period", "settState": "settled", "ts": str(NOW_MS)})
        coins = m.oi_usd / last
        out["open_interest"].append({"instType": "SWAP", "instId": m.symbol, "oi": decimal(coins / size, 10),
                                     "oiCcy": decimal(coins, 10), "oiUsd": f"{m.oi_usd:.2f}", "ts": str(NOW_MS)})
        out["marks"].append({"instType": "SWAP", "instId": m.symbol, "markPx": m.mark, "ts": str(NOW_MS)})

    for m in markets:
        rows(m)
    names = []
    for m in excluded:
        kind = m.symbol
        m.symbol = f"{m.coin}-USDT-SWAP"
        if kind == "inverse":
            m.symbol, m.quote = f"{m.coin}-USD-SWAP", "USD"
            rows(m, settle=m.coin, ct_type="inverse")
        else:
            rows(m, state=kind)
        names.append(m.symbol)
    return out, names


def _bitget(markets: list[_Market], excluded: list[_Market]) -> tuple[list, list, list, list[str]]:
    """contracts, tickers and current-fund-rate rows."""
    contracts, tickers, funding = [], [], []

    def rows(m: _Market, kind: str = "perpetual", status: str = "normal") -> None:
        last = float(m.last)
        contracts.append({
            "symbol": m.symbol, "baseCoin": m.base, "quoteCoin": "USDT", "supportMarginCoins": ["USDT"],
            "sizeMultiplier": size_text(contract_size(m.true_price) / 10), "symbolType": kind,
            "symbolStatus": status, "offTime": "-1", "limitOpenTime": "-1",
            "deliveryTime": "" if kind == "perpetual" else "1798272000000", "deliveryStartTime": "",
            "launchTime": "", "fundInterval": str(m.interval_h), "maxLever": "50", "pricePlace": "7"})
        tickers.append({
            "symbol": m.symbol, "lastPr": m.last, "askPr": m.last, "bidPr": m.last,
            "high24h": decimal(last * 1.02), "low24h": decimal(last * 0.97), "ts": str(NOW_MS),
            "change24h": f"{m.change_pct / 100:.6f}", "baseVolume": decimal(m.volume_usd / last, 10),
            "quoteVolume": f"{m.volume_usd:.2f}", "usdtVolume": f"{m.volume_usd:.2f}",
            "openUtc": decimal(last / (1 + m.change_pct / 100)), "changeUtc24h": f"{m.change_pct / 100:.6f}",
            "indexPrice": m.index, "fundingRate": _rate(m), "holdingAmount": decimal(m.oi_usd / float(m.mark), 10),
            "deliveryStartTime": None, "deliveryTime": None, "deliveryStatus": "",
            "open24h": decimal(last / (1 + m.change_pct / 100)), "markPrice": m.mark})
        funding.append({"symbol": m.symbol, "fundingRate": _rate(m), "fundingRateInterval": str(m.interval_h),
                        "nextUpdate": str(_next_settlement(m)), "minFundingRate": "-0.02", "maxFundingRate": "0.02"})

    for m in markets:
        rows(m)
    names = []
    for m in excluded:
        kind = m.symbol
        m.symbol = f"{m.coin}USDT"
        if kind == "delivery":
            m.symbol = "BTCUSDT1226"
            rows(m, kind="delivery")
        else:
            rows(m, status={"off": "off", "listed": "listed", "maintain": "maintain", "limit_open": "limit_open",
                            "restricted": "restrictedAPI"}[kind])
        names.append(m.symbol)
    return contracts, tickers, funding, names


def _gateio(markets: list[_Market], excluded: list[_Market]) -> tuple[list, list, list[str]]:
    """contracts and tickers rows."""
    contracts, tickers = [], []

    def rows(m: _Market, status: str = "trading", delisting: bool = False, kind: str = "direct") -> None:
        size = contract_size(m.true_price)
        last = float(m.last)
        btc = m.symbol == "BTC_USDT"
        contracts.append({
            "name": m.symbol, "type": kind, "quanto_multiplier": size_text(size), "leverage_min": "1",
            "leverage_max": "50", "mark_type": "index", "mark_price": m.mark, "index_price": m.index,
            "last_price": m.last, "funding_rate": _rate(m), "funding_interval": m.interval_h * 3600,
            "funding_next_apply": _next_settlement(m) // 1000, "order_size_min": 1, "order_size_max": 1000000,
            "long_users": 6100 if btc else 100, "short_users": 3900 if btc else 100, "in_delisting": delisting,
            "status": status, "enable_decimal": True})
        tickers.append({
            "contract": m.symbol, "last": m.last, "low_24h": decimal(last * 0.97), "high_24h": decimal(last * 1.02),
            "change_percentage": f"{m.change_pct:.3f}", "total_size": decimal(m.oi_usd / (size * float(m.mark)), 10),
            "volume_24h": decimal(m.volume_usd / last / size, 10), "volume_24h_base": decimal(m.volume_usd / last, 10),
            "volume_24h_quote": f"{m.volume_usd:.2f}", "volume_24h_settle": f"{m.volume_usd:.2f}",
            "mark_price": m.mark, "funding_rate": _rate(m), "funding_rate_indicative": _rate(m),
            "index_price": m.index, "highest_bid": m.last, "lowest_ask": m.last})

    for m in markets:
        rows(m)
    names = []
    for m in excluded:
        kind = m.symbol
        m.symbol = f"{m.coin}_USDT"
        if kind == "in_delisting":
            rows(m, status="delisting", delisting=True)
        elif kind == "inverse":
            rows(m, kind="inverse")
        else:
            rows(m, status=kind)
        names.append(m.symbol)
    return contracts, tickers, names


def _hyperliquid(markets: list[_Market], excluded: list[_Market]) -> tuple[list, list[str]]:
    """[meta, assetCtxs] of metaAndAssetCtxs."""
    universe, contexts = [], []

    def rows(m: _Market, delisted: bool = False) -> None:
        meta = {"name": m.symbol, "szDecimals": 2 if m.true_price * m.multiplier > 10 else 0, "maxLeverage": 20,
                "marginTableId": 20}
        if delisted:
            meta["isDelisted"] = True
        universe.append(meta)
        mark = float(m.mark)
        contexts.append({
            "dayNtlVlm": f"{m.volume_usd:.4f}", "funding": _rate(m), "openInterest": decimal(m.oi_usd / float(m.index), 10),
            "prevDayPx": decimal(mark / (1 + m.change_pct / 100)), "markPx": m.mark, "midPx": m.last,
            "oraclePx": m.index, "premium": "0.0001", "impactPxs": [m.last, m.last], "dayBaseVlm": "0"})

    for m in markets:
        rows(m)
    names = []
    for m in excluded:
        m.symbol = m.coin
        rows(m, delisted=True)
        names.append(m.symbol)
    return [{"universe": universe, "marginTables": [], "collateralToken": 0}, contexts], names


def _dydx(markets: list[_Market], excluded: list[_Market]) -> tuple[dict, list[str]]:
    """perpetualMarkets, keyed by ticker."""
    out: dict[str, dict] = {}

    def row(m: _Market, status: str = "ACTIVE") -> None:
        oracle = float(m.index)
        out[m.symbol] = {
            "clobPairId": str(len(out)), "ticker": m.symbol, "status": status, "oraclePrice": m.index,
            "priceChange24H": decimal(oracle - oracle / (1 + m.change_pct / 100), 10),
            "volume24H": f"{m.volume_usd:.6f}", "trades24H": m.trades, "nextFundingRate": _rate(m),
            "initialMarginFraction": "0.05", "maintenanceMarginFraction": "0.03",
            "openInterest": decimal(m.oi_usd / oracle, 10), "atomicResolution": -9, "quantumConversionExponent": -9,
            "tickSize": "0.000001", "stepSize": "1", "stepBaseQuantums": 1000000, "subticksPerTick": 1000000,
            "marketType": "CROSS", "openInterestLowerCap": "0", "openInterestUpperCap": "0",
            "baseOpenInterest": decimal(m.oi_usd / oracle, 10), "defaultFundingRate1H": "0"}

    for m in markets:
        row(m)
    names = []
    for m in excluded:
        kind = m.symbol
        m.symbol = f"{m.coin}-USD"
        row(m, status=kind)
        names.append(m.symbol)
    return {"markets": out}, names


def _deribit(markets: list[_Market], excluded: list[_Market]) -> tuple[list, list, list[str]]:
    """get_instruments and get_book_summary_by_currency results (currency=USDC, kind=future), JSON numbers."""
    instruments, summaries = [], []

    def rows(m: _Market, period: str = "perpetual", active: bool = True, settle: str = "USDC",
             kind: str = "linear") -> None:
        instruments.append({
            "instrument_name": m.symbol, "kind": "future", "settlement_period": period, "is_active": active,
            "instrument_type": kind, "future_type": kind, "base_currency": m.base, "quote_currency": m.quote,
            "counter_currency": m.quote, "settlement_currency": settle, "contract_size": 1 if kind == "linear" else 10,
            "price_index": f"{m.base.lower()}_usdc", "tick_size": float(decimal(float(m.last) / 1e4, 1)),
            "min_trade_amount": 0.01, "creation_timestamp": NOW_MS - 400 * 24 * HOUR_MS,
            "expiration_timestamp": 32503708800000 if period == "perpetual" else NOW_MS + 35 * 24 * HOUR_MS})
        mark = float(m.mark)
        summaries.append({
            "instrument_name": m.symbol, "base_currency": m.base, "quote_currency": m.quote,
            "volume": float(decimal(m.volume_usd / mark, 10)), "volume_usd": m.volume_usd,
            "volume_notional": m.volume_usd, "open_interest": float(decimal(m.oi_usd / mark, 10)), "mark_price": mark,
            "last": float(m.last), "bid_price": float(m.last), "ask_price": float(m.mark), "mid_price": float(m.last),
            "high": float(m.last) * 1.02, "low": float(m.last) * 0.98, "price_change": m.change_pct,
            "estimated_delivery_price": float(m.index), "funding_8h": m.funding_8h,
            "current_funding": m.funding_8h / 8, "creation_timestamp": NOW_MS})

    for m in markets:
        rows(m)
    names = []
    for m in excluded:
        kind, m.quote = m.symbol, "USDC"
        if kind in ("inverse", "inverse_eth"):  # settled in the coin: not in the USDC lists, but left out anyway
            m.base = m.coin = "BTC" if kind == "inverse" else "ETH"
            m.symbol, m.quote = f"{m.coin}-PERPETUAL", "USD"
            rows(m, settle=m.coin, kind="reversed")
        elif kind == "dated":
            m.symbol = "BTC_USDC-27DEC26"
            rows(m, period="month")
        else:
            m.symbol = f"{m.coin}_USDC-PERPETUAL"
            rows(m, active=False)
        names.append(m.symbol)
    return instruments, summaries, names


# -- what the product must store -------------------------------------------------------------------------


def _listing(m: _Market) -> Listing:
    """The stored row of a market, from the strings it was served with: prices per one coin."""
    mult = float(m.multiplier)

    def per(text: str) -> float:  # as served, per one coin
        return float(text) / mult

    no_mark = m.venue == "dydx"
    price = {"hyperliquid": m.mark, "dydx": m.index}.get(m.venue, m.last)
    return Listing(
        venue=m.venue, symbol=m.symbol, coin=m.coin, multiplier=mult, quote=m.quote, price=per(price),
        mark_price=None if no_mark else per(m.mark), index_price=None if m.venue == "okx" else per(m.index),
        volume_24h_usd=m.volume_usd, open_interest_usd=None if m.venue == "asterdex" else m.oi_usd,
        funding_rate_8h=m.funding_8h, funding_interval_h=float(m.interval_h), price_change_24h_pct=m.change_pct,
        true_price=m.true_price)


# -- routes ----------------------------------------------------------------------------------------------


def _encoded(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _query_checked(payload: bytes, key: str, value: str, refusal: Reply) -> Callable[[Request], Reply]:
    def respond(request: Request) -> Reply:
        return Reply(payload) if request.query.get(key) == value else refusal

    return respond


def install_universe(fake, seed: int = 7, scale: float = 1.0, weight: WeightCounter | None = None) -> Universe:
    """Serve the universe of `seed` at `scale` from every venue's snapshot routes; returns what was served."""
    coins, included, excluded = _build(seed, scale)
    names: dict[str, list[str]] = {}

    for venue in ("binance", "asterdex"):
        payloads, oi, names[venue] = _binance_like(venue, included[venue], excluded[venue])
        encoded = {path: _encoded(body) for path, body in payloads.items()}
        if venue == "binance":
            encoded[RATIO] = _encoded(load("binance", "globalLongShortAccountRatio"))
        install_venue(fake, venue, encoded, oi if venue == "binance" else None, weight or WeightCounter())
        if venue == "asterdex":  # no openInterest in Aster's docs
            fake.add(venue, OPEN_INTEREST, Reply({"code": -1, "msg": "Not Found"}, status=404))

    rows, tickers, names["bybit"] = _bybit(included["bybit"], excluded["bybit"])
    _install_bybit(fake, rows, tickers)

    okx, names["okx"] = _okx(included["okx"], excluded["okx"])
    okx_error = Reply({"code": "51000", "msg": "Parameter instType error", "data": []})
    for path, key in (("/api/v5/public/instruments", "instruments"), ("/api/v5/market/tickers", "tickers"),
                      ("/api/v5/public/open-interest", "open_interest"), ("/api/v5/public/mark-price", "marks")):
        fake.add("okx", path, _query_checked(_encoded({"code": "0", "msg": "", "data": okx[key]}), "instType", "SWAP",
                                             okx_error))
    fake.add("okx", "/api/v5/public/funding-rate",
             _query_checked(_encoded({"code": "0", "msg": "", "data": okx["funding"]}), "instId", "ANY",
                            Reply({"code": "51001", "msg": "Instrument ID does not exist", "data": []})))
    ratio = _encoded(load("okx", "long_short_account_ratio"))
    fake.add("okx", "/api/v5/rubik/stat/contracts/long-short-account-ratio", _query_checked(
        ratio, "ccy", "BTC", Reply({"code": "51000", "msg": "Parameter ccy error", "data": []})))

    contracts, tickers, funding, names["bitget"] = _bitget(included["bitget"], excluded["bitget"])
    bitget_error = Reply({"code": "40034", "msg": "Parameter productType does not exist", "requestTime": 1,
                          "data": None}, status=400)
    for path, data in (("/api/v2/mix/market/contracts", contracts), ("/api/v2/mix/market/tickers", tickers),
                       ("/api/v2/mix/market/current-fund-rate", funding)):
        body = _encoded({"code": "00000", "msg": "success", "requestTime": NOW_MS, "data": data})
        fake.add("bitget", path, _query_checked(body, "productType", "USDT-FUTURES", bitget_error))
    fake.add("bitget", "/api/v2/mix/market/account-long-short", _query_checked(
        _encoded(load("bitget", "account_long_short")), "symbol", "BTCUSDT", bitget_error))

    contracts, tickers, names["gateio"] = _gateio(included["gateio"], excluded["gateio"])
    fake.add("gateio", "/api/v4/futures/usdt/contracts", Reply(_encoded(contracts)))
    fake.add("gateio", "/api/v4/futures/usdt/tickers", Reply(_encoded(tickers)))

    meta, names["hyperliquid"] = _hyperliquid(included["hyperliquid"], excluded["hyperliquid"])
    meta_body = _encoded(meta)

    def info(request: Request) -> Reply:
        if (request.body or {}).get("type") != "metaAndAssetCtxs":
            return Reply({"error": "the universe serves metaAndAssetCtxs only"}, status=422)
        return Reply(meta_body)

    fake.add("hyperliquid", "/info", info, method="POST")

    markets, names["dydx"] = _dydx(included["dydx"], excluded["dydx"])
    fake.add("dydx", "/v4/perpetualMarkets", Reply(_encoded(markets)))

    instruments, summaries, names["deribit"] = _deribit(included["deribit"], excluded["deribit"])
    deribit_error = Reply({"jsonrpc": "2.0", "error": {"code": -32602, "message": "Invalid params"}}, status=400)
    from tests.fakes import deribit as small  # the options market: the small fake's chains and DVOL

    for method, result, options in (("get_instruments", instruments, small.option_instruments),
                                    ("get_book_summary_by_currency", summaries, small.option_summaries)):
        body = _encoded({"jsonrpc": "2.0", "result": result, "usIn": NOW_MS * 1000, "usOut": NOW_MS * 1000 + 2500,
                         "usDiff": 2500, "testnet": False})
        linear = _query_checked(body, "currency", "USDC", deribit_error)

        def respond(request: Request, linear=linear, options=options) -> Reply:
            if request.query.get("kind") == "option" and request.query.get("currency") in small.CHAINS:
                return small.ok(options(request.query["currency"]))
            return linear(request)

        fake.add("deribit", f"/api/v2/public/{method}", respond)
    fake.add("deribit", "/api/v2/public/get_volatility_index_data", small.volatility_index)

    listings = {(m.venue, m.symbol): _listing(m) for venue in VENUES for m in included[venue]}
    return Universe(seed, scale, coins, listings, names)


def _install_bybit(fake, rows: list[dict], tickers: list[dict]) -> None:
    """instruments-info `BYBIT_PAGE` rows a page, each naming the next by an opaque cursor (an unknown one is
    an error, as is a category other than linear); tickers in one call; the BTC account ratio fixture."""
    pages = [rows[i:i + BYBIT_PAGE] for i in range(0, len(rows), BYBIT_PAGE)]
    cursors = [None] + [f"page%3D{p}%26after%3D{pages[p - 1][-1]['symbol']}" for p in range(1, len(pages))]

    def ok(result: dict) -> bytes:
        return _encoded({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": NOW_MS})

    bodies = {cursor: ok({"category": "linear", "list": page,
                          "nextPageCursor": cursors[p + 1] if p + 1 < len(cursors) else ""})
              for p, (cursor, page) in enumerate(zip(cursors, pages))}
    error = Reply({"retCode": 10001, "retMsg": "params error", "result": {}, "retExtInfo": {}, "time": NOW_MS})

    def instruments(request: Request) -> Reply:
        body = bodies.get(request.query.get("cursor"))
        return Reply(body) if request.query.get("category") == "linear" and body is not None else error

    fake.add("bybit", "/v5/market/instruments-info", instruments)
    fake.add("bybit", "/v5/market/tickers",
             _query_checked(ok({"category": "linear", "list": tickers}), "category", "linear", error))
    ratio = _encoded(load("bybit", "account_ratio"))
    fake.add("bybit", "/v5/market/account-ratio", _query_checked(ratio, "symbol", "BTCUSDT", error))
