"""One exception tree for every expected failure.

Core code raises these with a one-line, user-readable message; the CLI turns any
`TrackerError` into `Error: <message>` and a non-zero exit, never a traceback.
"""


class TrackerError(Exception):
    """Base of every failure a user can cause or meet (bad input, venue down, bad database)."""


class ConfigError(TrackerError):
    """A configuration file, environment variable or flag holds something unusable."""


class DatabaseError(TrackerError):
    """The database cannot be opened, created, upgraded or written."""


class ExchangeError(TrackerError):
    """A venue answered with an error or with something we cannot read."""

    def __init__(self, exchange: str, message: str):
        super().__init__(f"{exchange}: {message}")
        self.exchange = exchange
        self.reason = message


class TemporaryExchangeError(ExchangeError):
    """A failure worth retrying later: timeouts, dropped connections, 5xx."""


class RateLimited(TemporaryExchangeError):
    """The venue asked us to slow down (HTTP 429)."""
