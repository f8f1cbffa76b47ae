"""Contract tests every venue in the registry must pass, against the loopback fake.

A new venue gets these by adding its module to the registry and a `tests/fakes/<venue>.py`
with `install(fake)`, `EXPECTED` and `ERROR_IN_200`.
"""

from __future__ import annotations

from collections import Counter

import pytest

from perps_tracker.errors import ExchangeError, RateLimited, TemporaryExchangeError
from perps_tracker.exchanges import EXCHANGES
from perps_tracker.exchanges.http import Deadline, HttpClient, HttpSettings
from tests.fakes import Reply, closed_port_url, venue_module

VENUES = sorted(EXCHANGES)


def make(venue: str, fake, client, url: str | None = None, deadline: Deadline | None = None):
    fake.install(venue)
    return EXCHANGES[venue](client, url or fake.url(venue), deadline)


def one_line_error(excinfo, venue: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message.startswith(f"{venue}: ")
    assert excinfo.value.exchange == venue
    return message


@pytest.mark.parametrize("venue", VENUES)
def test_registry_entry(venue):
    cls = EXCHANGES[venue]
    assert cls.id == venue and cls.kind in ("CEX", "DEX") and cls.name
    assert cls.base_url.startswith("https://")
    assert cls.__module__ == f"perps_tracker.exchanges.{venue}"


@pytest.mark.parametrize("venue", VENUES)
def test_fetch_matches_hand_computed_expectation(venue, fake, client):
    snap = make(venue, fake, client).fetch()
    assert snap.exchange == venue and snap.kind == EXCHANGES[venue].kind and snap.ok
    expected = venue_module(venue).EXPECTED
    for key, value in expected.items():
        assert getattr(snap, key) == value, key


@pytest.mark.parametrize("venue", VENUES)
def test_fixtures_exercise_skipping(venue):
    # Every venue's fixtures carry at least one record with a missing or NaN field.
    assert venue_module(venue).EXPECTED["records_skipped"] >= 1


@pytest.mark.parametrize("venue", VENUES)
def test_timeout(venue, fake):
    client = HttpClient(HttpSettings(connect_timeout=1.0, read_timeout=0.3, retries=0, backoff=0))
    exchange = make(venue, fake, client)
    fake.override(venue, Reply({}, delay=2.0))
    with pytest.raises(TemporaryExchangeError) as err:
        exchange.fetch()
    assert "timed out at /" in one_line_error(err, venue)


@pytest.mark.parametrize("venue", VENUES)
def test_deadline_bounds_a_venue(venue, fake, client):
    exchange = make(venue, fake, client, deadline=Deadline(0.5))
    fake.override(venue, Reply({}, delay=1.5))
    with pytest.raises(ExchangeError) as err:
        exchange.fetch()
    one_line_error(err, venue)


@pytest.mark.parametrize("venue", VENUES)
def test_connection_refused(venue, fake, client):
    exchange = make(venue, fake, client, url=closed_port_url())
    with pytest.raises(TemporaryExchangeError) as err:
        exchange.fetch()
    assert "connection refused at /" in one_line_error(err, venue)


@pytest.mark.parametrize("venue", VENUES)
def test_429_then_success(venue, fake, client):
    exchange = make(venue, fake, client)
    seen = fake.throttle_first(venue)
    snap = exchange.fetch()
    assert snap.ok and snap.markets == venue_module(venue).EXPECTED["markets"]
    assert seen and all(n >= 2 for n in seen.values())  # each endpoint: a 429, then the answer


@pytest.mark.parametrize("venue", VENUES)
def test_429_every_time_is_rate_limited(venue, fake, client):
    exchange = make(venue, fake, client)
    fake.override(venue, Reply({"msg": "Too many requests"}, status=429, headers={"Retry-After": "0"}))
    with pytest.raises(RateLimited) as err:
        exchange.fetch()
    assert "rate limited (HTTP 429)" in one_line_error(err, venue)


@pytest.mark.parametrize(
    ("status", "fragment"),
    [(418, "IP banned (HTTP 418)"), (451, "unavailable from this location (HTTP 451)"), (403, "HTTP 403")],
)
@pytest.mark.parametrize("venue", VENUES)
def test_bans_are_not_retried(venue, status, fragment, fake, client):
    exchange = make(venue, fake, client)
    fake.override(venue, Reply({"code": 0, "msg": "Way too many requests; IP banned"}, status=status))
    with pytest.raises(ExchangeError) as err:
        exchange.fetch()
    assert not isinstance(err.value, TemporaryExchangeError)
    assert fragment in one_line_error(err, venue)
    per_path = Counter(r.path for r in fake.requests)
    assert max(per_path.values()) == 1  # never retried


@pytest.mark.parametrize("venue", VENUES)
def test_500_is_retried_then_reported(venue, fake, client):
    exchange = make(venue, fake, client)
    fake.override(venue, Reply({"msg": "internal error"}, status=500))
    with pytest.raises(TemporaryExchangeError) as err:
        exchange.fetch()
    assert "HTTP 500 at /" in one_line_error(err, venue)
    assert max(Counter(r.path for r in fake.requests).values()) == 1 + client.settings.retries


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        (Reply("<!DOCTYPE html><html><body>Just a moment...</body></html>", content_type="text/html"),
         "an HTML page"),
        (Reply('{"symbols": [{"symbol": "BTCUSDT", "status": "TRAD'), "malformed JSON"),
        (Reply(""), "an empty body"),
    ],
    ids=["html", "truncated", "empty-body"],
)
@pytest.mark.parametrize("venue", VENUES)
def test_invalid_bodies(venue, reply, fragment, fake, client):
    exchange = make(venue, fake, client)
    fake.override(venue, reply)
    with pytest.raises(ExchangeError) as err:
        exchange.fetch()
    assert "invalid response from /" in one_line_error(err, venue) and fragment in str(err.value)


@pytest.mark.parametrize("venue", VENUES)
def test_error_inside_http_200(venue, fake, client):
    error_reply = venue_module(venue).ERROR_IN_200
    if error_reply is None:
        pytest.skip(f"{venue} reports errors with HTTP status codes only")
    body, message = error_reply
    exchange = make(venue, fake, client)
    fake.override(venue, Reply(body))
    with pytest.raises(ExchangeError) as err:
        exchange.fetch()
    assert message in one_line_error(err, venue)


@pytest.mark.parametrize("body", [[], {}, {"data": []}, {"result": {"list": []}}, None,
                                  [{"universe": []}, []], {"markets": {}}],
                         ids=["list", "object", "data", "result", "null", "hl-empty", "dydx-empty"])
@pytest.mark.parametrize("venue", VENUES)
def test_empty_payloads_fail_the_venue(venue, body, fake, client):
    # An empty answer is a broken venue, never a venue with zero volume.
    exchange = make(venue, fake, client)
    fake.override(venue, Reply(body))
    with pytest.raises(ExchangeError) as err:
        exchange.fetch()
    one_line_error(err, venue)
