"""What every venue declares about itself.

A venue module subclasses `Exchange` and sets its id, kind (CEX/DEX) and default
endpoints; the registry in `perps_tracker.exchanges` maps ids to these classes.
"""

from __future__ import annotations

from typing import ClassVar


class Exchange:
    """A perpetual-futures venue: identity and default endpoints (DESIGN §2)."""

    id: ClassVar[str]
    kind: ClassVar[str]  # "CEX" or "DEX"
    name: ClassVar[str]
    base_url: ClassVar[str]
    ws_url: ClassVar[str | None] = None

    @classmethod
    def env_prefix(cls) -> str:
        """Prefix of this venue's environment overrides, e.g. `PERPS_TRACKER_BINANCE`."""
        return f"PERPS_TRACKER_{cls.id.upper()}"
