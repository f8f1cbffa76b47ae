"""Against the real venues: opt in with `pytest -m live` (needs the internet; skipped by default).

These check that the documented shapes still hold, not particular numbers.
"""

from __future__ import annotations

import asyncio
import time

import pytest

pytestmark = pytest.mark.live


@pytest.fixture
def live_client():
    from perps_tracker.exchanges.http import HttpClient, HttpSettings

    c = HttpClient(HttpSettings(connect_timeout=10.0, read_timeout=20.0, retries=2, backoff=1.0))
    yield c
    c.close()


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx"])
def test_live_stream_connects_and_every_frame_parses(venue, live_client, database):
    from perps_tracker.exchanges import EXCHANGES
    from perps_tracker.services.watch import Collector

    cls = EXCHANGES[venue]
    exchange = cls(live_client)
    collector = Collector({venue: lambda: exchange.live_feed(cls.ws_url, 10)}, database)
    asyncio.run(collector.run(15))
    s = collector.stats[venue]
    assert s.connects >= 1 and s.drops == 0, s.last_error
    assert s.malformed == 0


@pytest.mark.parametrize("venue", ["okx", "gateio"])
def test_live_rest_history_parses(venue, live_client):
    from perps_tracker.exchanges import EXCHANGES

    exchange = EXCHANGES[venue](live_client)
    end = int(time.time() * 1000)
    events = exchange.poll_liquidations(end - 3_600_000, end, 3)
    assert all(e.side in ("long", "short") and e.value_usd > 0 for e in events)
    assert not [n for n in exchange.notes if "malformed" in n]
