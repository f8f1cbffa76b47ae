"""`liquidations watch` against a loopback websocket server replaying each venue's documented
messages: drops mid-stream, malformed frames, pings, duplicates, refused subscriptions."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import replace
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from perps_tracker.exchanges.base import LiveFeed
from perps_tracker.exchanges.binance import parse_force_order
from perps_tracker.services.watch import (
    Backoff,
    Collector,
    EventSink,
    FeedStats,
    RecentKeys,
)
from perps_tracker.storage.models import Liquidation, LiquidationCoverage
from tests.fakes.bybit import install_listing
from tests.fakes.ws import (
    T0,
    Close,
    Drop,
    Expect,
    FakeStreams,
    Ping,
    Respond,
    Sleep,
    binance_frame,
    bybit_frame,
    liquidation_sessions,
    okx_frame,
)

binance, bybit, okx = binance_frame, bybit_frame, okx_frame


@pytest.fixture
def streams():
    with FakeStreams() as server:
        yield server


def fast_backoff() -> Backoff:
    return Backoff(base=0.02, cap=0.1, rng=random.Random(1))


def collect(database, sources, seconds: float, **kwargs) -> Collector:
    collector = Collector(sources, database, backoff=fast_backoff, flush_every=0.05, **kwargs)
    asyncio.run(collector.run(seconds))
    return collector


def rows(database) -> list[tuple]:
    with database.engine.connect() as conn:
        return conn.execute(select(Liquidation.exchange, Liquidation.symbol, Liquidation.side, Liquidation.price,
                                   Liquidation.quantity, Liquidation.value_usd, Liquidation.event_time_ms,
                                   Liquidation.source).order_by(Liquidation.event_time_ms)).all()


def binance_feed(streams: FakeStreams):
    return lambda: LiveFeed(url=streams.url("binance") + "/ws/!forceOrder@arr",
                            parse=lambda m, skipped: parse_force_order(m, skipped))


def test_binance_stream_across_a_drop_stores_each_event_once(streams, database):
    e1 = binance("BTCUSDT", "SELL", "84000", "0.5", T0)
    e2 = binance("ETHUSDT", "BUY", "3000.5", "2", T0 + 1000)
    e3 = binance("BTCUSDT", "SELL", "83950", "0.014", T0 + 2000)
    e4 = binance("SOLUSDT", "BUY", "150", "10", T0 + 3000)
    streams.script("binance",
                   [e1, e2, e2, "not json {", {"result": None, "id": 1}, Ping(), e3, Drop()],
                   [e2, e3, e4])  # the venue replays what the client may have missed
    c = collect(database, {"binance": binance_feed(streams)}, 1.0)

    s = c.stats["binance"]
    assert (s.connects, s.drops, s.events, s.stored, s.duplicates, s.malformed) == (2, 1, 7, 4, 3, 1)
    assert streams.pongs["binance"] == 1  # the client answered the server's ping
    assert rows(database) == [
        ("binance", "BTCUSDT", "long", 84000.0, 0.5, 42000.0, T0, "ws"),  # S=SELL: a long was liquidated
        ("binance", "ETHUSDT", "short", 3000.5, 2.0, 6001.0, T0 + 1000, "ws"),
        ("binance", "BTCUSDT", "long", 83950.0, 0.014, pytest.approx(83950 * 0.014), T0 + 2000, "ws"),
        ("binance", "SOLUSDT", "short", 150.0, 10.0, 1500.0, T0 + 3000, "ws"),
    ]
    assert streams.paths["binance"] == ["/ws/!forceOrder@arr"] * 2


def test_events_stored_in_an_earlier_run_are_duplicates_not_new_rows(streams, database):
    e1, e2 = binance("BTCUSDT", "SELL", "84000", "0.5", T0), binance("BTCUSDT", "BUY", "84010", "0.2", T0 + 5)
    streams.script("binance", [e1])
    collect(database, {"binance": binance_feed(streams)}, 0.4)
    streams.script("binance", [e1, e2])
    c = collect(database, {"binance": binance_feed(streams)}, 0.4)
    assert (c.stats["binance"].stored, c.stats["binance"].duplicates) == (1, 1)
    assert len(rows(database)) == 2


def test_each_connection_is_recorded_as_coverage(streams, database):
    streams.script("binance", [Sleep(0.2), Drop()], [Sleep(5)])
    collect(database, {"binance": binance_feed(streams)}, 0.8)
    with database.engine.connect() as conn:
        spans = conn.execute(select(LiquidationCoverage.exchange, LiquidationCoverage.source,
                                    LiquidationCoverage.start_ms, LiquidationCoverage.end_ms,
                                    LiquidationCoverage.detail).order_by(LiquidationCoverage.id)).all()
    assert [(ex, src) for ex, src, *_ in spans] == [("binance", "ws"), ("binance", "ws")]
    first, second = spans
    assert 150 <= first.end_ms - first.start_ms < 700  # the first connection lasted ~0.2 s
    assert second.start_ms >= first.end_ms and second.end_ms > second.start_ms


def bybit_source(fake, client, streams, symbols=2, heartbeat_every=None):
    from perps_tracker.exchanges.bybit import Bybit

    fake.install("bybit")

    def build():
        feed = Bybit(client, fake.url("bybit")).live_feed(streams.url("bybit"), symbols)
        return replace(feed, heartbeat_every=heartbeat_every) if heartbeat_every else feed
    return build


def test_bybit_subscribes_to_the_top_symbols_in_batches_and_sends_heartbeats(fake, client, streams, database):
    streams.script("bybit", [Expect(1), {"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "x"},
                             bybit("BTCUSDT", ("Buy", "0.5", "84000", T0), ("Sell", "2", "84100", T0 + 1)),
                             {"success": True, "ret_msg": "pong", "op": "ping"},
                             bybit("ETHUSDT", ("Sell", "1.5", "3000", T0 + 2), ("Buy", "x", "3000", T0 + 3)),
                             Expect(4)])
    c = collect(database, {"bybit": bybit_source(fake, client, streams, symbols=2, heartbeat_every=0.05)}, 0.6)

    sent = streams.received["bybit"][0]
    assert json.loads(sent[0]) == {"op": "subscribe", "args": ["allLiquidation.BTCUSDT", "allLiquidation.ETHUSDT"]}
    assert json.loads(sent[1]) == {"op": "ping"}  # the application-level heartbeat
    assert streams.paths["bybit"] == ["/v5/public/linear"]
    assert [(r.symbol, r.side, r.quantity, r.value_usd) for r in rows(database)] == [
        ("BTCUSDT", "long", 0.5, 42000.0),  # Bybit: S=Buy means a long was liquidated
        ("BTCUSDT", "short", 2.0, 168200.0),
        ("ETHUSDT", "short", 1.5, 4500.0),
    ]
    s = c.stats["bybit"]
    assert (s.events, s.stored, s.malformed, s.description) == (3, 3, 1, "top 2 by volume")


def test_bybit_subscriptions_are_batched_ten_topics_a_request(fake, client, streams, database):
    from perps_tracker.exchanges import bybit
    from perps_tracker.model.market import top_by_volume

    markets = [bybit.Market(symbol=f"S{i}USDT", base=f"S{i}", quote="USDT", volume_24h_usd=float(i))
               for i in range(25)]
    assert top_by_volume(markets, 3) == ["S24USDT", "S23USDT", "S22USDT"]
    streams.script("bybit", [Expect(3)])
    fake.install("bybit")
    feed = bybit.Bybit(client, fake.url("bybit")).live_feed(streams.url("bybit"), 50)
    frames = [frame for connection in feed.connections for frame in connection]
    assert frames and all(len(json.loads(frame)["args"]) <= bybit.SUBSCRIBE_BATCH for frame in frames)


def test_a_refused_subscription_is_reported_and_retried(fake, client, streams, database):
    streams.script("bybit", [Expect(1), {"success": False, "ret_msg": "error:handler not found,topic:x",
                                         "op": "subscribe", "conn_id": "x"}, Sleep(5)])
    c = collect(database, {"bybit": bybit_source(fake, client, streams)}, 0.5)
    s = c.stats["bybit"]
    assert s.drops >= 2 and s.connects >= 2
    assert s.last_error == "subscribe refused: error:handler not found,topic:x"


# -- Bybit: every linear perpetual, over several connections -------------------------------------

LISTED = 600  # generated Bybit linear perpetuals: more than one connection's args allow


def subscribed(frames: list[str]) -> list[str]:
    """The topics of the subscribe requests among one connection's frames, in the order sent."""
    return [topic for frame in frames if (m := json.loads(frame)).get("op") == "subscribe" for topic in m["args"]]


def own_event(t: int) -> Respond:
    """A step for the fake: one push for the least traded symbol this connection subscribed to."""
    def steps(frames: list[str]) -> list:
        symbol = max((topic.split(".", 1)[1] for topic in subscribed(frames)), key=lambda s: int(s[4:-4]))
        return [bybit(symbol, ("Buy", "1", "2", t))]
    return Respond(steps)


def listing_source(fake, client, streams, symbols=None, heartbeat_every=None):
    from perps_tracker.exchanges.bybit import Bybit

    def build():
        feed = Bybit(client, fake.url("bybit")).live_feed(streams.url("bybit"), symbols)
        return replace(feed, heartbeat_every=heartbeat_every) if heartbeat_every else feed
    return build


def coverage(database) -> list[tuple]:
    with database.engine.connect() as conn:
        return conn.execute(select(LiquidationCoverage.exchange, LiquidationCoverage.start_ms,
                                   LiquidationCoverage.end_ms, LiquidationCoverage.detail)
                            .order_by(LiquidationCoverage.id)).all()


def test_bybit_reads_every_linear_perpetual_over_as_many_connections_as_its_limits_need(
        fake, client, streams, database):
    from perps_tracker.exchanges import bybit as venue
    from perps_tracker.exchanges.streams import args_chars

    fake.install("bybit")
    symbols = install_listing(fake, LISTED)
    streams.script("bybit", [Expect(1), Sleep(0.2), own_event(T0)], [Expect(1), Sleep(0.2), own_event(T0 + 1)])
    c = collect(database, {"bybit": listing_source(fake, client, streams, heartbeat_every=0.1)}, 1.0)

    per_connection = [subscribed(frames) for frames in streams.received["bybit"]]
    topics = [topic for each in per_connection for topic in each]
    assert sorted(topics) == sorted(f"allLiquidation.{s}" for s in symbols)  # every one, exactly once
    assert args_chars(topics) > venue.ARGS_CHARS_PER_CONNECTION  # one connection would not do
    assert len(per_connection) == 2
    for frames, each in zip(streams.received["bybit"], per_connection):
        assert args_chars(each) <= venue.ARGS_CHARS_PER_CONNECTION
        requests = [json.loads(f) for f in frames if json.loads(f)["op"] == "subscribe"]
        assert all(len(request["args"]) <= venue.SUBSCRIBE_BATCH for request in requests)
        assert '{"op": "ping"}' in frames  # each connection sends the heartbeat
    assert streams.paths["bybit"] == ["/v5/public/linear"] * 2
    stored = {r.symbol for r in rows(database)}
    assert len(stored) == 2 and not stored & set(symbols[:50])  # small caps outside the top 50 are read
    s = c.stats["bybit"]
    assert (s.connects, s.drops, s.stored, s.complete) == (2, 0, 2, 1)
    assert s.description == "all 600 linear perpetuals over 2 connections"
    assert [(ex, detail) for ex, _, _, detail in coverage(database)] == [
        ("bybit", "all 600 linear perpetuals over 2 connections")]


def test_one_bybit_connection_dropping_resubscribes_only_its_own_symbols(fake, client, streams, database):
    fake.install("bybit")
    install_listing(fake, LISTED)
    streams.script("bybit",
                   [Expect(1), Sleep(0.2), own_event(T0), Sleep(0.1), Drop()],  # the first to connect drops
                   [Expect(1), Sleep(0.2), own_event(T0 + 1), Sleep(0.6), own_event(T0 + 2)],  # the other stays
                   [Expect(1), Sleep(0.2), own_event(T0 + 3)])  # the first one, reconnected
    c = collect(database, {"bybit": listing_source(fake, client, streams)}, 1.5)

    assert streams.connections("bybit") == 3
    first, other, again = (subscribed(frames) for frames in streams.received["bybit"])
    assert again == first and not set(first) & set(other)
    assert fake.count("bybit", "/v5/market/instruments-info") == 4  # two pages, and again before reconnecting
    s = c.stats["bybit"]
    assert (s.connects, s.drops, s.stored, s.complete) == (3, 1, 4, 2)
    assert s.last_error == "connection dropped"
    spans = coverage(database)
    assert [detail for *_, detail in spans] == ["all 600 linear perpetuals over 2 connections"] * 2
    assert spans[1].start_ms > spans[0].end_ms  # not covered while one of its connections was down


def test_a_venue_over_several_connections_is_covered_only_while_all_are_up(streams, database):
    """A generic feed of two connections: the venue drops the one subscribing "B" each time; "A" stays up."""
    event = binance("BTCUSDT", "SELL", "84000", "0.5", T0)
    streams.script("binance", [Expect(1), Respond(lambda got: [Drop()] if got[0] == "B" else [event])])
    feed = LiveFeed(url=streams.url("binance") + "/ws", parse=lambda m, skipped: parse_force_order(m, skipped),
                    connections=(("A",), ("B",)), description="two halves")
    c = collect(database, {"binance": lambda: feed}, 0.6)

    firsts = [frames[0] for frames in streams.received["binance"]]
    assert firsts.count("A") == 1 and firsts.count("B") >= 3  # a drop of one does not drop the other
    s = c.stats["binance"]
    assert s.stored == 1 and s.drops >= 2 and s.last_error == "connection dropped"
    spans = coverage(database)
    assert spans and {detail for *_, detail in spans} == {"two halves over 2 connections"}
    assert sum(end - start for _, start, end, _ in spans) < 200  # ms of 600: only the instants both were up


def okx_source(fake, client, streams, heartbeat_every=None):
    from perps_tracker.exchanges.okx import Okx

    fake.install("okx")

    def build():
        feed = Okx(client, fake.url("okx")).live_feed(streams.url("okx"), 50)
        return replace(feed, heartbeat_every=heartbeat_every) if heartbeat_every else feed
    return build


def test_okx_contracts_sides_and_pong(fake, client, streams, database):
    streams.script("okx", [
        Expect(1),
        {"event": "subscribe", "arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "connId": "a"},
        okx("BTC-USDT-SWAP",
            {"side": "sell", "posSide": "long", "bkPx": "84000", "sz": "25", "bkLoss": "0", "ts": str(T0)},
            {"side": "buy", "posSide": "net", "bkPx": "84100", "sz": "2.5", "ts": str(T0 + 1)},
            {"side": "sell", "posSide": "", "bkPx": "83900", "sz": "10", "ts": str(T0 + 2)},
            {"side": "", "posSide": "short", "bkPx": "84200", "sz": "1", "ts": str(T0 + 3)},
            {"side": "", "posSide": "", "bkPx": "84200", "sz": "1", "ts": str(T0 + 4)}),  # no side: skipped
        okx("BTC-USD-SWAP", {"side": "sell", "posSide": "long", "bkPx": "84000", "sz": "3", "ts": str(T0)}),
        okx("DOGE-USDT-SWAP", {"side": "buy", "posSide": "short", "bkPx": "0.4", "sz": "3", "ts": str(T0 + 5)}),
        Expect(2), "pong",
    ])
    c = collect(database, {"okx": okx_source(fake, client, streams, heartbeat_every=0.05)}, 0.6)

    sent = streams.received["okx"][0]
    assert json.loads(sent[0]) == {"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]}
    assert sent[1] == "ping"
    assert [(r.symbol, r.side, r.quantity, r.value_usd) for r in rows(database)] == [
        ("BTC-USDT-SWAP", "long", pytest.approx(0.25), pytest.approx(21000.0)),  # 25 contracts × ctVal 0.01
        ("BTC-USDT-SWAP", "short", pytest.approx(0.025), pytest.approx(2102.5)),  # net mode, side=buy
        ("BTC-USDT-SWAP", "long", pytest.approx(0.1), pytest.approx(8390.0)),  # net mode, side=sell
        ("BTC-USDT-SWAP", "short", pytest.approx(0.01), pytest.approx(842.0)),
        ("DOGE-USDT-SWAP", "short", pytest.approx(3000.0), pytest.approx(1200.0)),  # ctVal 1000
    ]
    s = c.stats["okx"]
    assert (s.events, s.malformed) == (5, 1)  # the coin-margined BTC-USD-SWAP is not a market we include


def test_okx_error_event_drops_and_reconnects(fake, client, streams, database):
    streams.script("okx", [Expect(1), {"event": "error", "code": "60012", "msg": "Invalid request"}, Sleep(5)])
    c = collect(database, {"okx": okx_source(fake, client, streams)}, 1.5)  # room for a GC pause
    assert c.stats["okx"].last_error == "subscription refused: Invalid request (code 60012)"


def test_a_venue_that_never_answers_does_not_stop_the_others(streams, database):
    from tests.fakes import closed_port_url

    e1 = binance("BTCUSDT", "SELL", "84000", "0.5", T0)
    streams.script("binance", [e1])
    dead = closed_port_url().replace("http", "ws")
    sources = {"binance": binance_feed(streams),
               "bybit": lambda: LiveFeed(url=dead + "/v5/public/linear", parse=lambda m, s: [])}
    c = collect(database, sources, 0.5)
    assert c.stats["binance"].stored == 1
    assert c.stats["bybit"].connects == 0 and c.stats["bybit"].last_error == "connection refused"
    assert c.stats["bybit"].drops >= 2  # kept retrying with backoff


def test_a_clean_close_by_the_venue_reconnects(streams, database):
    streams.script("binance", [binance("BTCUSDT", "SELL", "84000", "0.5", T0), Close(1001)],
                   [binance("BTCUSDT", "SELL", "84000", "0.5", T0 + 1)])
    c = collect(database, {"binance": binance_feed(streams)}, 0.6)
    assert c.stats["binance"].stored == 2 and c.stats["binance"].last_error == "closed by the venue (code 1001)"


def test_backoff_doubles_up_to_the_cap_and_resets():
    b = Backoff(base=0.5, cap=4, rng=random.Random(0))
    delays = [b.next() for _ in range(6)]
    for got, nominal in zip(delays, [0.5, 1, 2, 4, 4, 4]):
        assert nominal * 0.8 <= got <= nominal * 1.2
    b.reset()
    assert b.next() <= 0.6


def test_recent_keys_forget_the_oldest_beyond_their_size():
    keys = RecentKeys(3)
    assert [keys.seen(k) for k in "abca"] == [False, False, False, True]
    keys.seen("d")  # "a" was refreshed? no: membership does not reorder; "a" is the oldest and goes
    assert len(keys) == 3 and keys.seen("a") is False


def test_a_failed_write_keeps_the_events_for_the_next_flush(database):
    from perps_tracker.errors import DatabaseError
    from perps_tracker.model.liquidation import LiquidationEvent

    stats = {"binance": FeedStats("binance")}
    sink = EventSink(database, stats)
    event = LiquidationEvent("binance", "BTCUSDT", "long", 1.0, 2.0, 2.0, T0)
    sink.add([event])
    span = sink.open_span("binance", "all symbols")
    batch = sink.take()
    sink.db = SimpleNamespace(engine=_BrokenEngine())
    with pytest.raises(DatabaseError, match="database is locked"):
        sink.write(batch)
    sink.give_back(batch)
    sink.db = database
    assert span.id is None  # the coverage row was rolled back with the events
    retry = sink.take()
    assert retry.events == [event]
    assert sink.write(retry) == {"binance": 1} and span.id is not None


class _BrokenEngine:
    def begin(self):
        from sqlalchemy.exc import OperationalError

        raise OperationalError("INSERT", {}, Exception("database is locked"))


# -- the command, end to end ---------------------------------------------------------------------


@pytest.fixture
def watch_env(fake, streams, monkeypatch, database):
    """Bybit's and OKX's REST symbol lists on the HTTP fake, the three streams on the websocket fake."""
    fake.install("bybit", "okx")
    for name, value in {**fake.env("bybit", "okx"), **streams.env("binance", "bybit", "okx")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PERPS_TRACKER_DB", database.url)
    return database


def count_by_venue(database) -> dict[str, int]:
    from sqlalchemy import func

    with database.engine.connect() as conn:
        return dict(conn.execute(select(Liquidation.exchange, func.count()).group_by(Liquidation.exchange)).all())


def test_watch_command_stores_every_distinct_event_once_across_reconnects(runner, watch_env, streams):
    from perps_tracker.cli import cli
    from perps_tracker.services.watch import now_ms

    start = now_ms() - 60_000
    expected = {}
    for venue in ("binance", "bybit", "okx"):
        scripts, expected[venue] = liquidation_sessions(venue, sessions=3, per_session=30, interval=0.005,
                                                        start_ms=start)
        streams.script(venue, *scripts)
    result = runner.invoke(cli, ["liquidations", "watch", "--duration", "3s"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert count_by_venue(watch_env) == expected == {"binance": 90, "bybit": 90, "okx": 90}
    for venue in ("binance", "bybit", "okx"):
        assert streams.connections(venue) == 3 and streams.pongs[venue] == 3
    summary = result.stdout
    assert "Liquidation streams" in summary
    for venue in ("binance", "bybit", "okx"):
        # received: 90 new + 1 repeat on each of 3 connections + 5 replayed on each of 2 reconnects = 103
        cells = next(line.split() for line in summary.splitlines() if line.split()[:1] == [venue])
        assert cells[1:7] == ["103", "90", "13", "3", "3", "2"], summary  # 3 malformed frames
    assert "binance: connected, all symbols" in result.stderr and "reconnecting in" in result.stderr

    report = runner.invoke(cli, ["liquidations", "--no-fetch", "--json"], catch_exceptions=False)
    data = json.loads(report.stdout)
    counts = {v["exchange"]: v["count"] for v in data["venues"]}
    assert counts == {"binance": 90, "bybit": 90, "okx": 90, "gateio": None}
    assert data["market"]["count"] == 270


def test_watch_quiet_prints_nothing_and_a_dead_venue_exits_3(runner, watch_env, streams, monkeypatch):
    from perps_tracker.cli import cli
    from tests.fakes import closed_port_url

    monkeypatch.setenv("PERPS_TRACKER_OKX_WS_URL", closed_port_url().replace("http", "ws"))
    streams.script("binance", [binance_frame("BTCUSDT", "SELL", "84000", "0.5", T0)])
    result = runner.invoke(cli, ["liquidations", "watch", "--duration", "1s", "--exchange", "binance",
                                 "--exchange", "okx", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.strip().endswith("Warning: okx never connected: connection refused")
    assert count_by_venue(watch_env) == {"binance": 1}


def test_watch_reads_every_bybit_perpetual_by_default_in_one_summary_row(runner, watch_env, fake, streams):
    from perps_tracker.cli import cli
    from perps_tracker.services.watch import now_ms

    install_listing(fake, LISTED)
    t = now_ms() - 60_000
    streams.script("bybit", [Expect(1), Sleep(0.3), own_event(t)], [Expect(1), Sleep(0.3), own_event(t + 1)])
    result = runner.invoke(cli, ["liquidations", "watch", "--exchange", "bybit", "--duration", "1.5s"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert streams.connections("bybit") == 2
    assert "bybit: connected, all 600 linear perpetuals over 2 connections" in result.stderr
    venues = [line.split() for line in result.stdout.splitlines() if line.split()[:1] == ["bybit"]]
    assert len(venues) == 1 and venues[0][1:7] == ["2", "2", "0", "0", "2", "0"], result.stdout  # connections summed

    report = json.loads(runner.invoke(cli, ["liquidations", "--no-fetch", "--json", "--exchange", "bybit"],
                                      catch_exceptions=False).stdout)
    assert report["sources"] == {"bybit": ["ws: all 600 linear perpetuals over 2 connections"]}
    assert report["venues"][0]["count"] == 2


def test_watch_symbols_50_subscribes_exactly_the_top_50(runner, watch_env, fake, streams):
    from perps_tracker.cli import cli

    symbols = install_listing(fake, LISTED)
    streams.script("bybit", [Expect(1), Sleep(5)])
    result = runner.invoke(cli, ["liquidations", "watch", "--exchange", "bybit", "--symbols", "50",
                                 "--duration", "0.5s"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert streams.connections("bybit") == 1
    assert subscribed(streams.received["bybit"][0]) == [f"allLiquidation.{s}" for s in symbols[:50]]
    assert "bybit: connected, top 50 by volume" in result.stderr

    report = json.loads(runner.invoke(cli, ["liquidations", "--no-fetch", "--json", "--exchange", "bybit"],
                                      catch_exceptions=False).stdout)
    assert report["sources"] == {"bybit": ["ws: top 50 by volume"]}


def test_symbols_default_all_for_watch_and_50_for_the_report():
    from perps_tracker.cli import liquidations

    def default(command) -> object:
        return next(p.default for p in command.params if p.name == "symbols")

    assert default(liquidations.commands["watch"]) is None  # every perpetual
    assert default(liquidations) == 50  # OKX's REST history: the 50 largest families, as before


@pytest.mark.parametrize("value, message", [("0s", "not a positive duration"), ("5 minutes", "not a duration"),
                                            ("-3", "not a duration")])
def test_watch_bad_duration_is_a_usage_error(runner, value, message):
    from perps_tracker.cli import cli

    result = runner.invoke(cli, ["liquidations", "watch", "--duration", value])
    assert result.exit_code == 2 and message in result.stderr


def test_duration_parsing():
    from perps_tracker.cli import Duration

    d = Duration()
    assert [d.convert(v, None, None) for v in ("30s", "59m", "2h", "1d", "1h30m", "90", "0.5m")] == \
        [30, 3540, 7200, 86400, 5400, 90, 30]


def watch_process(streams, database):
    """A real `liquidations watch --exchange binance` process, once it has stored 20 events."""
    import os
    import subprocess
    import sys

    from tests.fakes import wait_until

    if database.engine.dialect.name != "sqlite":
        pytest.skip("one backend is enough for the process test")
    scripts, _ = liquidation_sessions("binance", sessions=1, per_session=20, interval=0.0)
    streams.script("binance", scripts[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPS_TRACKER_")}
    env.update(streams.env("binance"), PERPS_TRACKER_DB=database.url)
    proc = subprocess.Popen([sys.executable, "-m", "perps_tracker", "liquidations", "watch", "--exchange", "binance"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait_until(lambda: count_by_venue(database).get("binance") == 20, timeout=20):
        proc.kill()
        pytest.fail("the collector did not store the 20 events")
    return proc


def stop(proc, sig) -> tuple[str, str]:
    try:
        proc.send_signal(sig)
        return proc.communicate(timeout=20)
    finally:
        proc.kill()


def test_sigterm_flushes_and_exits_0(fake, streams, database, tmp_path):
    """The real process: SIGTERM (systemd's stop) ends the run cleanly, with the events stored."""
    import signal

    proc = watch_process(streams, database)
    out, err = stop(proc, signal.SIGTERM)
    assert proc.returncode == 0, err
    assert "Liquidation streams" in out and "Traceback" not in err
    cells = next(line.split() for line in out.splitlines() if line.split()[:1] == ["binance"])
    assert cells[1:4] == ["21", "20", "1"], out


def test_ctrl_c_flushes_summarises_and_exits_130(fake, streams, database):
    """Ctrl-C at a terminal: the events are stored, the summary printed, then one `Interrupted:` line."""
    import signal

    proc = watch_process(streams, database)
    out, err = stop(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "Liquidation streams" in out and "Aborted" not in out + err and "Traceback" not in err
    assert err.splitlines()[-1] == "Interrupted: every event received was stored (20 new)."
