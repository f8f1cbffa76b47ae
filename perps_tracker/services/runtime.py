"""What the services of one command share: the settings, the database and the HTTP client.

A command makes one `Runtime`; each service asks it for what it needs (`db()`, `reader()`,
`client()`, `venue(id)`), which is opened on first use and closed once when the runtime closes.
Tests hand in an open database (`Runtime(settings, db=...)`), which the runtime then leaves open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the services import these lazily: `--help` stays light
    from perps_tracker.config import Settings
    from perps_tracker.exchanges.base import Exchange
    from perps_tracker.exchanges.http import HttpClient
    from perps_tracker.model.coins import Coins
    from perps_tracker.storage.db import Database


class Runtime:
    def __init__(self, settings: "Settings", *, db: "Database | None" = None):
        self.settings = settings
        self._db = db
        self._own_db = db is None
        self._client: HttpClient | None = None

    def db(self, *, create: bool = True) -> "Database":
        """The database, opened for writing (created if `create`, its schema brought up to date)."""
        if self._db is None:
            from perps_tracker.storage.db import open_database

            self._db = open_database(self.settings.db, create=create)
        return self._db

    def reader(self) -> "Database":
        """The database for reading only: a read-only connection, no migration (an open one is reused)."""
        if self._db is None:
            from perps_tracker.storage.db import open_for_reading

            self._db = open_for_reading(self.settings.db)
        return self._db

    def reopen_for_writing(self) -> None:
        """Close a database opened for reading, so that the next `db()` opens it for writing."""
        if self._db is not None and self._own_db and self._db.read_only:
            self._db.dispose()
            self._db = None

    def has_database(self) -> bool:
        """Whether the configured database exists already (checks its location; creates nothing)."""
        if self._db is not None:
            return True
        from perps_tracker.storage.db import check_database

        return check_database(self.settings.db)

    def client(self) -> "HttpClient":
        """The shared HTTP client (one session: connection reuse across venues)."""
        if self._client is None:
            from perps_tracker.exchanges.http import HttpClient, HttpSettings

            self._client = HttpClient(HttpSettings.from_settings(self.settings))
        return self._client

    def venue(self, venue_id: str, *, deadline: bool = True) -> "Exchange":
        """A venue at its configured URL through the shared client, bounded by `http.venue_timeout`."""
        from perps_tracker.exchanges import EXCHANGES
        from perps_tracker.exchanges.http import Deadline

        limit = Deadline(self.settings["http.venue_timeout"]) if deadline else None
        return EXCHANGES[venue_id](self.client(), self.settings.venue_url(venue_id), limit)

    def coins(self) -> "Coins":
        """The coin aliases and sectors: the shipped tables with the config's `[coins]` additions."""
        from perps_tracker.model.coins import Coins

        return Coins.with_config(self.settings["coins.aliases"], self.settings["coins.sectors"])

    def watchlist(self) -> list[str]:
        return list(self.settings["watchlist"])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._db is not None and self._own_db:
            self._db.dispose()
            self._db = None

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
