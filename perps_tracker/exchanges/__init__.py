"""Registry of venues: id → class. A new venue is one module plus one `VenueInfo` line in
`venues.py`.

`VENUES` (from venues.py) holds what the command line and the settings need before any venue runs (id, name,
default URLs, liquidation sources), so `--help`, `stats` and the other database commands never
import the venue modules. `EXCHANGES` maps id → class and imports a venue's module the first
time its class is asked for (iterating it gives the ids without importing anything).
The classes take those facts from `VENUES`, so they are written once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module
from typing import TYPE_CHECKING

from perps_tracker.exchanges.venues import VENUES, VenueInfo

if TYPE_CHECKING:
    from perps_tracker.exchanges.base import Exchange


class _Registry(Mapping[str, "type[Exchange]"]):
    """id → Exchange class, in registry order; a venue's module is imported on first lookup."""

    def __init__(self, venues: Mapping[str, VenueInfo]):
        self._venues = venues
        self._classes: dict[str, type[Exchange]] = {}

    def __getitem__(self, venue_id: str) -> "type[Exchange]":
        cls = self._classes.get(venue_id)
        if cls is None:
            info = self._venues[venue_id]  # KeyError for an unknown venue, as a dict would
            cls = getattr(import_module(f"{__name__}.{info.module}"), info.cls)
            self._classes[venue_id] = cls
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(self._venues)

    def __len__(self) -> int:
        return len(self._venues)

    def __contains__(self, venue_id: object) -> bool:
        return venue_id in self._venues

    def __repr__(self) -> str:
        return f"EXCHANGES({', '.join(self._venues)})"


EXCHANGES: Mapping[str, type[Exchange]] = _Registry(VENUES)


def __getattr__(name: str):
    if name == "Exchange":  # the base class, imported on use like the venues
        from perps_tracker.exchanges.base import Exchange

        return Exchange
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EXCHANGES", "VENUES", "Exchange", "VenueInfo"]
