"""Coins: the asset a contract is written on, the same on every venue, and its sector.

`normalise` turns a venue's base asset into (coin, multiplier): `1000PEPE` (Binance, AsterDEX),
`SHIB1000` (Bybit), `kPEPE` (Hyperliquid), `1000000MOG`, `1MBABYDOGE` are PEPE, SHIB, PEPE, MOG
and BABYDOGE on contracts of 1000, 1000, 1000, 1,000,000 and 1,000,000 coins; a price per
contract divided by the multiplier is the price of one coin. `1INCH` is a coin (no multiplier
is ever "1"). Renamed tokens that venues list under different names come from `ALIASES`, which
the config extends (`[coins.aliases]`; a key is a base, or `venue:base` for one venue only).

`SECTORS` is the shipped coin → sector table (OTHER for a coin it does not name); the config
overrides and extends it (`[coins.sectors]`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

# A size prefix: a power of ten from 1000 to 10^9, `1M`, or Hyperliquid's lower-case `k`, followed
# by the coin (which starts with a letter). A suffix: Bybit's `SHIB1000`.
_PREFIX = re.compile(r"^(10{3,9}|1M|k)(?=[A-Z])")
_SUFFIX = re.compile(r"(?<=[A-Z])(10{3,9})$")
_SIZES = {"1M": 1_000_000, "k": 1000}

# Bases some venues list under another name than the rest (a renamed or migrated token).
ALIASES: dict[str, str] = {
    "RNDR": "RENDER",  # Render's ticker since 2024; some venues kept RNDR
    "MATIC": "POL",  # Polygon's migration to POL
    "LUNA2": "LUNA",  # Terra 2.0 where LUNA is taken by the old chain (Bybit, Bitget)
    "XBT": "BTC",
    "UBTC": "BTC",
    "UETH": "ETH",
}

SECTOR_NAMES = ("MAJORS", "L1", "L2", "DEFI", "MEME", "GAMING", "AI", "RWA", "EXCHANGE", "OTHER")
OTHER = "OTHER"

_SECTOR_TABLE = """
MAJORS: BTC ETH
L1: SOL BNB XRP ADA AVAX TRX DOT TON NEAR ATOM APT SUI SEI INJ TIA ALGO XLM HBAR ICP FIL ETC LTC BCH
    XMR EOS XTZ EGLD KAVA KAS FTM S ONE ZIL NEO QTUM ROSE CELO MINA FLOW CFX CORE BERA HYPE IOTA VET
    THETA WAVES ICX IOST ONT ZEN DASH ZEC DCR RVN KSM GLMR ASTR AR STX TAO BSV XEM KDA CKB ALPH VANRY
    XDC ELF HNT SAGA DYM ALEO ZETA AVAIL NTRN ONG LUNA LUNC USTC OSMO AXL SCRT RUNE MOVE IP BERA
L2: OP ARB POL STRK ZK MANTA METIS MNT BLAST SCR TAIKO LRC SKL BOBA CELR OMNI LINEA MERL BB CTSI
DEFI: AAVE UNI COMP CRV MKR SKY SNX SUSHI YFI BAL 1INCH DYDX GMX LDO RPL FXS CVX PENDLE JUP RAY ORCA
    CAKE JOE KNC ZRX BNT LQTY SPELL ALPHA BADGER PERP RDNT ENA ETHFI EIGEN REZ ZRO MORPHO AERO VELO
    ENS UMA API3 BAND LINK PYTH TRB DIA SSV ANKR LISTA JTO DRIFT KMNO AEVO SYN STG ACX COW GNO BAKE
    ALPACA DODO QUICK HFT WOO RSR FRAX USUAL MAV CETUS NAVX SCA DEEP EUL RESOLV OGN IDEX LEVER COTI
    CHR CTK SOLV BANANA CHESS LINA
MEME: DOGE SHIB PEPE FLOKI BONK WIF BOME MEW POPCAT BRETT MOG BABYDOGE NEIRO TURBO PNUT GOAT MOODENG
    CHILLGUY ACT PEOPLE MEME DOGS CAT CATI SATS ORDI RATS WEN MYRO SLERF PONKE TRUMP MELANIA FARTCOIN
    SPX PENGU LADYS AIDOGE CHEEMS WHY X BAN LUCE SUNDOG MUBARAK BROCCOLI TST PUMP BOOK DEGEN TOSHI
    MICHI GIGA MOTHER BILLY RETARDIO MANEKI HIPPO SIREN VINE JELLYJELLY PIPPIN FWOG DOG BANANAS31
    KOMA SNEK ELON KISHU TOKEN NEIROETH QUACK COQ ANIME PEIPEI BEER PORK MUMU
GAMING: GALA IMX AXS SAND MANA APE ENJ ILV YGG MAGIC PRIME BEAM PIXEL PORTAL XAI RON ALICE TLM GMT
    SUPER GHST ULTRA WAXP HIGH VOXEL MBOX PYR GODS NOT HMSTR CATS SLP DAR AGLD ACE BIGTIME MAVIA
    SHRAP BNX CHZ FLM VANA
AI: FET RENDER AGIX OCEAN WLD ARKM AI16Z AIXBT VIRTUAL GRASS IO NMR AKT GRT PHB ALT CGPT AIOZ GLM
    RLC OLAS KAITO COOKIE GRIFFAIN SWARMS ZEREBRO AI NFP ARC VVV SHELL TRAC IQ LPT SAHARA NEWT PROMPT
    HOLO B3 AVA TAI BIO
RWA: ONDO OM POLYX CFG MPL TRU RIO GFI LAND PLUME PROPC CPOOL DUSK HIFI LCX SYRUP PAXG XAUT
EXCHANGE: OKB CRO GT KCS LEO BGB MX FTT ASTER APEX BLUR
"""


def _sector_table(text: str) -> dict[str, str]:
    """The shipped table: `SECTOR: COIN COIN ...` lines, continued by indented lines."""
    table: dict[str, str] = {}
    sector = OTHER
    for line in text.strip().splitlines():
        if ":" in line:
            sector, line = line.split(":", 1)
            sector = sector.strip()
        for coin in line.split():
            table.setdefault(coin, sector)
    return table


SECTORS: dict[str, str] = _sector_table(_SECTOR_TABLE)


@dataclass(frozen=True)
class Coins:
    """How bases become coins and coins sectors: the shipped tables with the config's additions."""

    aliases: Mapping[str, str] = field(default_factory=lambda: dict(ALIASES))
    sectors: Mapping[str, str] = field(default_factory=lambda: dict(SECTORS))

    @classmethod
    def with_config(cls, aliases: Mapping[str, str] | None = None,
                    sectors: Mapping[str, str] | None = None) -> "Coins":
        """The shipped tables extended (and overridden) by the config's; keys are upper case
        except the `venue:` part of a venue-only alias and Hyperliquid's `k` prefix."""
        return cls({**ALIASES, **{_key(k): v.upper() for k, v in (aliases or {}).items()}},
                   {**SECTORS, **{k.upper(): v.upper() for k, v in (sectors or {}).items()}})

    def normalise(self, base: str, exchange: str = "") -> tuple[str, float]:
        """(coin, multiplier) of a venue's base asset (see the module's docstring)."""
        return normalise(base, exchange, self.aliases)

    def sector(self, coin: str) -> str:
        return self.sectors.get(coin, OTHER)


def _key(key: str) -> str:
    venue, sep, base = key.rpartition(":")
    return f"{venue.lower()}{sep}{base.upper() if not base.startswith('k') else base}"


def normalise(base: str, exchange: str = "", aliases: Mapping[str, str] = ALIASES) -> tuple[str, float]:
    """(coin, multiplier) of a venue's base asset: an alias (for this venue first, then for all) wins;
    else a size prefix or suffix is taken off and becomes the multiplier (1 without one)."""
    base = base.strip()
    for key in (f"{exchange}:{base}", base, f"{exchange}:{base.upper()}", base.upper()):
        if key in aliases:
            return aliases[key], 1.0
    coin, multiplier = base, 1.0
    if m := _PREFIX.match(base):
        size = m.group(1)
        coin, multiplier = base[m.end():], float(_SIZES.get(size) or int(size))
    elif m := _SUFFIX.search(base.upper()):
        coin, multiplier = base[:m.start()], float(int(m.group(1)))
    coin = coin.upper()
    return aliases.get(f"{exchange}:{coin}", aliases.get(coin, coin)), multiplier
