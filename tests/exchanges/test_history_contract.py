"""Contract tests of `history()` every venue in the registry must pass, against the loopback fake.

The twin of test_contract.py (which holds `fetch()` to the contract): a new venue gets these by
adding its module to the registry and serving its history endpoints from its fake's `install`
(values from tests/fakes/history.py). Whatever goes wrong at the venue, `history()` gives a
VenueHistory (what it lacks in one-line notes) or one one-line ExchangeError, never another exception.
"""

from __future__ import annotations

import inspect

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges import EXCHANGES
from perps_tracker.exchanges.http import HttpClient, HttpSettings
from perps_tracker.model.history import VenueHistory
from tests.fakes import Reply, venue_module
from tests.fakes.history import HOUR, NOW_HOUR

VENUES = sorted(EXCHANGES)
START, END = NOW_HOUR - 6 * HOUR, NOW_HOUR  # a few hours: a page or two per series
NOW = NOW_HOUR + 600  # the venues' clock, where they have one: ten minutes into the hour after the last
UNPACED = {"history_rate": 0, "history_rates": {}, "history_per_minute": 0, "history_weight_per_minute": 0}
SERIES = ("volume_usd", "markets", "trades", "open_interest_usd", "btc_open", "btc_close", "btc_mark",
          "btc_index", "btc_funding", "long_share")


def make(venue: str, fake, client):
    """The venue against its fake, unpaced (pacing has its own tests), its clock (if any) at `NOW`."""
    install = venue_module(venue).install
    install(fake, now=lambda: NOW) if "now" in inspect.signature(install).parameters else install(fake)
    exchange = EXCHANGES[venue](client, fake.url(venue))
    for name, value in UNPACED.items():
        if hasattr(exchange, name):
            setattr(exchange, name, value)
    if hasattr(exchange, "clock"):
        exchange.clock = lambda: NOW
    return exchange


def read(exchange, reports: list | None = None) -> VenueHistory:
    progress = (lambda done, total: reports.append((done, total))) if reports is not None else None
    h = exchange.history(START, END, progress)
    assert isinstance(h, VenueHistory)
    assert (h.exchange, h.kind, h.start, h.end) == (exchange.id, exchange.kind, START, END)
    for name in SERIES:
        series = getattr(h, name) or {}
        assert all(START <= t < END for t in series), name
    assert all("\n" not in note for note in h.notes)
    return h


def assert_one_line(error: ExchangeError, venue: str) -> None:
    message = str(error)
    assert "\n" not in message and message.startswith(f"{venue}: ")
    assert error.exchange == venue


@pytest.mark.parametrize("venue", VENUES)
def test_history_lies_in_the_window_and_reports_progress_to_the_end(venue, fake, client):
    reports: list[tuple[int, int]] = []
    h = read(make(venue, fake, client), reports)
    assert h.volume_usd and h.symbols >= 1 and h.symbols_failed == 0
    assert reports
    assert all(done <= total for done, total in reports)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)  # never goes back
    assert reports[-1][0] == reports[-1][1]  # done == total at the end


@pytest.mark.parametrize("venue", VENUES)
def test_429_then_success_gives_the_same_history(venue, fake, client):
    expected = read(make(venue, fake, client))
    seen = fake.throttle_first(venue)
    h = read(make(venue, fake, client))
    assert seen and all(n >= 2 for n in seen.values())  # each endpoint: a 429, then the answers
    assert (h.volume_usd, h.open_interest_usd, h.btc_close, h.btc_funding) == (
        expected.volume_usd, expected.open_interest_usd, expected.btc_close, expected.btc_funding)


FAILURES = {
    "http-500": Reply({"msg": "internal error"}, status=500),
    "malformed-json": Reply('{"data": [["1795388400000", "84010.5"'),
    "timeout": Reply({}, delay=1.0),
}


@pytest.mark.parametrize("where", ["every-request", "after-the-first-request", "every-second-request"])
@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("venue", VENUES)
def test_failures_are_a_one_line_error_or_a_note(venue, failure, where, fake):
    """Every request fails, or every one after the first (the listing: then the per-market and BTC
    series fail, each in its own way), or every second one (some series fail, some are read, some
    retried); no other exception escapes."""
    client = HttpClient(HttpSettings(connect_timeout=1.0, read_timeout=0.2, retries=1, backoff=0.0))
    try:
        exchange = make(venue, fake, client)
        paths: list[str] = []

        def failing(request):
            paths.append(request.path)
            if (where == "after-the-first-request" and len(paths) == 1
                    or where == "every-second-request" and len(paths) % 2):
                return fake.routed(request)
            return FAILURES[failure]

        fake.override(venue, failing)
        try:
            h = read(exchange)
        except ExchangeError as e:  # anything else fails the test
            assert_one_line(e, venue)
        else:  # what could not be read is said; what is not said was read whole
            if not (h.symbols_failed or any("unavailable" in note for note in h.notes)):
                assert where == "every-second-request", h.notes  # only a retry can have saved every request
                fake.override(venue, None)
                whole = read(make(venue, fake, client))
                assert (h.volume_usd, h.open_interest_usd, h.btc_close, h.btc_funding) == (
                    whole.volume_usd, whole.open_interest_usd, whole.btc_close, whole.btc_funding)
    finally:
        client.close()
