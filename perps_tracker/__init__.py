"""perps-tracker: hourly sentiment and liquidation-risk snapshots of crypto perpetual futures."""

__version__ = "0.1.0"
