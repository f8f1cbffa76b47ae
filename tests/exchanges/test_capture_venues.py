"""Each venue's capture protocol on its documented frames: units (contracts × ctVal, size prefixes), the
taker side, subscribe frames within the venue's limits, incremental books and their sequence checks;
and the engine's per-frame path (`Reader`): malformed frames counted, duplicates dropped by id."""

from __future__ import annotations

import json

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.capture import Book, Connection, Session
from perps_tracker.model.ticks import ASK, BBO, BID, BOOK, BUY, CHANNELS, SELL, TRADES, Bbo, Instrument, Trade
from perps_tracker.services.capture import CaptureStats, Gaps, Reader, book_rows, decode, decode_rate
from tests.fakes.capture import okx_checksum

RECV = 1_795_000_000_999


class Out:
    """A Receiver that keeps everything it is told."""

    def __init__(self):
        self.trades, self.bbos, self.gaps, self.resynced, self.sent, self.skips = [], [], [], [], [], 0

    def trade(self, row):
        self.trades.append(row)

    def bbo(self, row):
        self.bbos.append(row)

    def skipped(self):
        self.skips += 1

    def gap(self, symbol, channel, reason):
        self.gaps.append((symbol, channel, reason))

    def synced(self, symbol, channel):
        self.resynced.append((symbol, channel))

    def send(self, frame):
        self.sent.append(frame)


def protocol(venue: str, *instruments: Instrument, channels=CHANNELS, depth=10):
    from perps_tracker.exchanges import EXCHANGES

    return EXCHANGES[venue](None).capture(list(instruments), tuple(channels), depth)


def handled(capture, *messages):
    out, conn = Out(), Connection(Session("ws://x", (), ()))
    for m in messages:
        capture.handle(m, RECV, conn, out)
    return out, conn


# -- Binance ------------------------------------------------------------------------------------------

BTCUSDT = Instrument("binance", "BTCUSDT", "BTC")
PEPE = Instrument("binance", "1000PEPEUSDT", "PEPE", multiplier=1000)


def test_binance_agg_trade_buyer_maker_is_a_taker_sell_in_coins():
    cap = protocol("binance", BTCUSDT, PEPE)
    sample = {"e": "aggTrade", "E": 123456789, "s": "BTCUSDT", "a": 5933014, "p": "84000.5", "q": "0.25",
              "f": 100, "l": 105, "T": 123456785, "m": True}
    pepe = {**sample, "s": "1000PEPEUSDT", "p": "0.012345", "q": "2000", "m": False, "a": 7}
    out, _ = handled(cap, {"stream": "btcusdt@aggTrade", "data": sample},
                     {"stream": "1000pepeusdt@aggTrade", "data": pepe})
    assert out.trades == [
        Trade("binance", "BTCUSDT", "BTC", 123456785, RECV, "5933014", SELL, 84000.5, 0.25, 84000.5 * 0.25),
        Trade("binance", "1000PEPEUSDT", "PEPE", 123456785, RECV, "7", BUY, pytest.approx(0.012345 / 1000),
              2_000_000.0, pytest.approx(0.012345 * 2000)),
    ]


def test_binance_book_ticker_and_partial_depth():
    cap = protocol("binance", BTCUSDT)
    ticker = {"e": "bookTicker", "u": 400900217, "E": 1568014460893, "T": 1568014460891, "s": "BTCUSDT",
              "b": "25.35190000", "B": "31.21000000", "a": "25.36520000", "A": "40.66000000"}
    depth = {"e": "depthUpdate", "E": 1571889248277, "T": 1571889248276, "s": "BTCUSDT", "U": 390497796,
             "u": 390497878, "pu": 390497794, "b": [["7403.89", "0.002"], ["7403.80", "3.906"]],
             "a": [["7405.96", "3.340"], ["7406.63", "4.525"]]}
    out, conn = handled(cap, {"result": None, "id": 1}, {"stream": "btcusdt@bookTicker", "data": ticker},
                        {"stream": "btcusdt@depth10@100ms", "data": depth})
    assert out.bbos == [Bbo("binance", "BTCUSDT", "BTC", 1568014460891, RECV, 25.3519, 31.21, 25.3652, 40.66)]
    rows = book_rows("binance", BTCUSDT, conn.books["BTCUSDT"], 1, RECV)
    assert [(r.side, r.level, r.price, r.qty, r.ts_ms) for r in rows] == [
        (BID, 0, 7403.89, 0.002, 1571889248276), (ASK, 0, 7405.96, 3.34, 1571889248276)]


def test_binance_streams_by_url_at_most_200_a_connection():
    instruments = [Instrument("binance", f"C{i}USDT", f"C{i}") for i in range(150)]
    sessions = protocol("binance", *instruments, depth=7).sessions("wss://fstream.binance.com")
    assert len(sessions) >= 3  # 450 streams
    streams = [s.url.partition("streams=")[2].split("/") for s in sessions]
    assert all(len(x) <= 200 for x in streams) and all(s.subscribe == () for s in sessions)
    assert sorted(x for share in streams for x in share) == sorted(
        f"c{i}usdt{suffix}" for i in range(150) for suffix in ("@aggTrade", "@bookTicker", "@depth10@100ms"))
    assert {t for s in sessions for t in s.topics} == {(f"C{i}USDT", c) for i in range(150) for c in CHANNELS}
    again = protocol("binance", *instruments, depth=7).sessions("wss://fstream.binance.com")
    assert again == sessions  # stable


# -- Bybit --------------------------------------------------------------------------------------------

BYBIT = Instrument("bybit", "BTCUSDT", "BTC")


def test_bybit_public_trade_taker_side_and_a_bad_fill_skipped():
    cap = protocol("bybit", BYBIT)
    push = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1672304486868, "data": [
        {"T": 1672304486865, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "16578.50", "L": "PlusTick",
         "i": "20f43950-d8dd-5b31-9112-a178eb6023af", "BT": False},
        {"T": 1672304486866, "s": "BTCUSDT", "S": "Sell", "v": "0.5", "p": "16578.00", "i": "b"},
        {"T": 1672304486866, "s": "BTCUSDT", "S": "Sideways", "v": "1", "p": "16578.00", "i": "c"},
        {"T": 1672304486866, "s": "BTCUSDT", "S": "Sell", "v": "0", "p": "16578.00", "i": "d"}]}
    out, _ = handled(cap, {"success": True, "ret_msg": "", "conn_id": "x", "op": "subscribe"}, push)
    assert [(t.trade_id, t.side, t.qty, t.price, t.ts_ms) for t in out.trades] == [
        ("20f43950-d8dd-5b31-9112-a178eb6023af", BUY, 0.001, 16578.5, 1672304486865),
        ("b", SELL, 0.5, 16578.0, 1672304486866)]
    assert out.skips == 2  # an unknown side, a zero size


def test_bybit_refused_subscription_is_an_exchange_error():
    with pytest.raises(ExchangeError, match="subscribe refused: Invalid topic"):
        handled(protocol("bybit", BYBIT), {"success": False, "ret_msg": "Invalid topic", "op": "subscribe"})


def ob(kind, u, b, a, ts=1672304484978, depth=50):
    return {"topic": f"orderbook.{depth}.BTCUSDT", "type": kind, "ts": ts,
            "data": {"s": "BTCUSDT", "b": b, "a": a, "u": u, "seq": 7961638724}, "cts": ts - 2}


def test_bybit_book_from_snapshot_and_deltas_and_a_skipped_update_id():
    cap = protocol("bybit", BYBIT, channels=(BOOK,))
    snapshot = ob("snapshot", 100, [["16493.50", "0.006"], ["16493.00", "0.1"]], [["16611.00", "0.029"]])
    delta = ob("delta", 101, [["16493.50", "0"], ["16492.00", "2"]], [["16610.00", "1.5"]], ts=1672304484998)
    out, conn = handled(cap, snapshot, delta)
    book = conn.books["BTCUSDT"]
    assert book.levels(5) == ([(16493.0, 0.1), (16492.0, 2.0)], [(16610.0, 1.5), (16611.0, 0.029)])
    assert (book.ts_ms, book.valid, out.resynced, out.gaps) == (1672304484998, True, [("BTCUSDT", BOOK)], [])

    cap.handle(ob("delta", 103, [], [["16612", "1"]]), RECV, conn, out)  # 102 never came
    assert out.gaps == [("BTCUSDT", BOOK, "sequence gap: update 103 after 101")]
    assert not book.valid
    cap.handle(ob("delta", 104, [], [["16613", "1"]]), RECV, conn, out)  # ignored until a snapshot
    assert not book.valid and len(out.gaps) == 1
    cap.handle(ob("snapshot", 1, [["16000", "1"]], [["16001", "1"]]), RECV, conn, out)  # u = 1: a new snapshot
    assert book.valid and book.levels(5) == ([(16000.0, 1.0)], [(16001.0, 1.0)])
    assert cap.resubscribe("BTCUSDT", BOOK) == ['{"op": "unsubscribe", "args": ["orderbook.50.BTCUSDT"]}',
                                                '{"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}']


def test_bybit_bbo_is_the_level_one_book():
    cap = protocol("bybit", BYBIT, channels=(BBO,))
    out, conn = handled(cap, ob("snapshot", 5, [["100.5", "2"]], [["101", "3"]], ts=10, depth=1),
                        ob("delta", 6, [["100.5", "0"], ["100.4", "1"]], [], ts=11, depth=1))
    assert out.bbos == [Bbo("bybit", "BTCUSDT", "BTC", 10, RECV, 100.5, 2.0, 101.0, 3.0),
                        Bbo("bybit", "BTCUSDT", "BTC", 11, RECV, 100.4, 1.0, 101.0, 3.0)]
    assert conn.books == {}  # the level-1 book is not sampled as `book`


def test_bybit_subscriptions_ten_topics_a_request():
    instruments = [Instrument("bybit", f"C{i}USDT", f"C{i}") for i in range(7)]
    (session,) = protocol("bybit", *instruments).sessions("wss://stream.bybit.com")
    assert session.url == "wss://stream.bybit.com/v5/public/linear"
    args = [json.loads(f)["args"] for f in session.subscribe]
    assert all(len(a) <= 10 for a in args) and sum(map(len, args)) == 21
    assert {t for a in args for t in a} >= {"publicTrade.C0USDT", "orderbook.1.C0USDT", "orderbook.50.C0USDT"}


# -- OKX ----------------------------------------------------------------------------------------------

OKX = Instrument("okx", "BTC-USDT-SWAP", "BTC", contract=0.01)


def test_okx_trade_size_is_contracts_times_ct_val():
    cap = protocol("okx", OKX)
    push = {"arg": {"channel": "trades", "instId": "BTC-USDT-SWAP"},
            "data": [{"instId": "BTC-USDT-SWAP", "tradeId": "130639474", "px": "42219.9", "sz": "12",
                      "side": "sell", "ts": "1630048897897", "count": "3"}]}
    out, _ = handled(cap, {"event": "subscribe", "arg": {"channel": "trades"}, "connId": "a"}, push)
    (t,) = out.trades
    assert (t.trade_id, t.side, t.price, t.qty, t.usd) == ("130639474", SELL, 42219.9, 0.12,
                                                          pytest.approx(42219.9 * 0.12))


def test_okx_bbo_tbt_in_coins():
    out, _ = handled(protocol("okx", OKX), {"arg": {"channel": "bbo-tbt", "instId": "BTC-USDT-SWAP"}, "data": [
        {"asks": [["42220.1", "55", "0", "2"]], "bids": [["42220", "31", "0", "4"]], "ts": "1670324386802",
         "seqId": 363996337}]})
    assert out.bbos == [Bbo("okx", "BTC-USDT-SWAP", "BTC", 1670324386802, RECV, 42220.0, pytest.approx(0.31),
                            42220.1, pytest.approx(0.55))]


def okx_books(action, prev, seq, bids, asks, checksum=None):
    row = {"asks": [x + ["0", "1"] for x in asks], "bids": [x + ["0", "1"] for x in bids], "ts": str(1000 + seq),
           "prevSeqId": prev, "seqId": seq}
    row["checksum"] = okx_checksum(*_book_after(action, bids, asks)) if checksum is None else checksum
    return {"arg": {"channel": "books", "instId": "BTC-USDT-SWAP"}, "action": action, "data": [row]}


_STATE: dict = {}


def _book_after(action, bids, asks):
    """The book an OKX client holds after this push (for the checksum the fake venue would send)."""
    if action == "snapshot":
        _STATE.clear()
    for side, rows in (("b", bids), ("a", asks)):
        for px, sz in rows:
            if float(sz) == 0:
                _STATE.pop((side, float(px)), None)
            else:
                _STATE[(side, float(px))] = [px, sz]
    b = [v for (s, p), v in sorted(_STATE.items(), key=lambda kv: -kv[0][1]) if s == "b"]
    a = [v for (s, p), v in sorted(_STATE.items(), key=lambda kv: kv[0][1]) if s == "a"]
    return b, a


def test_okx_books_sequence_and_checksum():
    cap = protocol("okx", OKX, channels=(BOOK,))
    snap = okx_books("snapshot", -1, 10, [["8476.97", "256"], ["8476.5", "3"]], [["8476.98", "415"], ["8477", "7"]])
    upd = okx_books("update", 10, 12, [["8476.97", "0"]], [["8476.99", "9"]])
    out, conn = handled(cap, snap, upd)
    book = conn.books["BTC-USDT-SWAP"]
    assert book.valid and out.gaps == [] and out.resynced == [("BTC-USDT-SWAP", BOOK)]
    bids, asks = book.top(2, OKX)
    assert bids == [(8476.5, pytest.approx(0.03))] and asks == [(8476.98, 4.15), (8476.99, pytest.approx(0.09))]

    cap.handle(okx_books("update", 13, 14, [], [["8478", "1"]]), RECV, conn, out)  # prevSeqId 13, last 12
    assert out.gaps == [("BTC-USDT-SWAP", BOOK, "sequence gap: prevSeqId 13 after seqId 12")] and not book.valid

    cap.handle(okx_books("snapshot", -1, 20, [["1", "1"]], [["2", "1"]]), RECV, conn, out)
    cap.handle(okx_books("update", 20, 21, [["1.5", "1"]], [], checksum=123), RECV, conn, out)
    assert out.gaps[-1] == ("BTC-USDT-SWAP", BOOK, "checksum mismatch") and not book.valid


def test_okx_checksum_is_the_documented_interleaving():
    book = Book()
    book.reset(0, 1, [["3366.1", "7"], ["3366", "6"]], [["3366.8", "9"], ["3368", "8"], ["3372", "8"]])
    text = "3366.1:7:3366.8:9:3366:6:3368:8:3372:8"
    import zlib

    crc = zlib.crc32(text.encode())
    assert book.okx_checksum() == (crc - 2 ** 32 if crc >= 2 ** 31 else crc)


def test_okx_books5_for_a_shallow_depth_and_refusals():
    cap = protocol("okx", OKX, channels=(BOOK,), depth=5)
    (session,) = cap.sessions("wss://ws.okx.com:8443")
    assert json.loads(session.subscribe[0])["args"] == [{"channel": "books5", "instId": "BTC-USDT-SWAP"}]
    out, conn = handled(cap, {"arg": {"channel": "books5", "instId": "BTC-USDT-SWAP"}, "data": [
        {"asks": [["8476.98", "415", "0", "13"]], "bids": [["8476.97", "256", "0", "12"]],
         "instId": "BTC-USDT-SWAP", "ts": "1597026383085", "seqId": 1}]})
    assert conn.books["BTC-USDT-SWAP"].top(5, OKX) == ([(8476.97, 2.56)], [(8476.98, 4.15)])
    with pytest.raises(ExchangeError, match="subscription refused"):
        handled(cap, {"event": "error", "code": "60012", "msg": "Invalid request", "connId": "a"})


# -- Deribit ------------------------------------------------------------------------------------------

DERIBIT = Instrument("deribit", "BTC_USDC-PERPETUAL", "BTC")


def test_deribit_trades_direction_is_the_taker_and_amount_in_coins():
    cap = protocol("deribit", DERIBIT)
    out, _ = handled(cap, {"jsonrpc": "2.0", "method": "subscription", "params": {
        "channel": "trades.BTC_USDC-PERPETUAL.100ms", "data": [
            {"trade_seq": 30289432, "trade_id": "USDC-48079254", "timestamp": 1590484156350, "tick_direction": 0,
             "price": 8950.0, "mark_price": 8948.9, "instrument_name": "BTC_USDC-PERPETUAL",
             "index_price": 8955.88, "direction": "sell", "amount": 0.01}]}})
    assert out.trades == [Trade("deribit", "BTC_USDC-PERPETUAL", "BTC", 1590484156350, RECV, "USDC-48079254", SELL,
                                8950.0, 0.01, 89.5)]


def test_deribit_quote_book_heartbeat_and_errors():
    cap = protocol("deribit", DERIBIT, depth=5)
    (session,) = cap.sessions("wss://www.deribit.com")
    assert session.url == "wss://www.deribit.com/ws/api/v2"
    assert json.loads(session.subscribe[0])["params"]["channels"] == [
        "trades.BTC_USDC-PERPETUAL.100ms", "quote.BTC_USDC-PERPETUAL", "book.BTC_USDC-PERPETUAL.none.10.100ms"]
    assert json.loads(cap.opened(None)[0])["method"] == "public/set_heartbeat"
    note = lambda channel, data: {"jsonrpc": "2.0", "method": "subscription",  # noqa: E731
                                  "params": {"channel": channel, "data": data}}
    out, conn = handled(cap, note("quote.BTC_USDC-PERPETUAL", {
        "timestamp": 1550658624149, "instrument_name": "BTC_USDC-PERPETUAL", "best_bid_price": 3914.97,
        "best_bid_amount": 4.0, "best_ask_price": None, "best_ask_amount": 0}),
        note("book.BTC_USDC-PERPETUAL.none.10.100ms", {
            "timestamp": 1554375447971, "instrument_name": "BTC_USDC-PERPETUAL", "change_id": 109615,
            "bids": [[160, 40]], "asks": [[161, 20]]}),
        {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}},
        {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "heartbeat"}},
        {"jsonrpc": "2.0", "id": 1, "result": ["quote.BTC_USDC-PERPETUAL"]})
    assert out.bbos == [Bbo("deribit", "BTC_USDC-PERPETUAL", "BTC", 1550658624149, RECV, 3914.97, 4.0, None, None)]
    assert conn.books["BTC_USDC-PERPETUAL"].levels(10) == ([(160.0, 40.0)], [(161.0, 20.0)])
    assert [json.loads(f)["method"] for f in out.sent] == ["public/test"]
    with pytest.raises(ExchangeError, match="Invalid params"):
        handled(cap, {"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "Invalid params"}})


# -- Hyperliquid --------------------------------------------------------------------------------------

HL = Instrument("hyperliquid", "BTC", "BTC")
KPEPE = Instrument("hyperliquid", "kPEPE", "PEPE", multiplier=1000)


def test_hyperliquid_b_is_a_buy_a_is_a_sell_and_kpepe_in_coins():
    cap = protocol("hyperliquid", HL, KPEPE)
    out, _ = handled(cap, {"channel": "subscriptionResponse", "data": {}}, {"channel": "pong"},
                     {"channel": "trades", "data": [
                         {"coin": "BTC", "side": "A", "px": "104300.0", "sz": "0.00500", "hash": "0x0",
                          "time": 1769916000000, "tid": 300001, "users": ["0xb", "0xs"]},
                         {"coin": "kPEPE", "side": "B", "px": "0.012", "sz": "100", "hash": "0x0",
                          "time": 1769916000001, "tid": 300002, "users": ["0xb", "0xs"]}]})
    assert [(t.symbol, t.coin, t.side, t.price, t.qty) for t in out.trades] == [
        ("BTC", "BTC", SELL, 104300.0, 0.005), ("kPEPE", "PEPE", BUY, pytest.approx(0.000012), 100_000.0)]


def test_hyperliquid_bbo_l2book_subscriptions_and_errors():
    cap = protocol("hyperliquid", HL)
    (session,) = cap.sessions("wss://api.hyperliquid.xyz")
    assert session.url == "wss://api.hyperliquid.xyz/ws"
    assert [json.loads(f) for f in session.subscribe] == [
        {"method": "subscribe", "subscription": {"type": t, "coin": "BTC"}} for t in ("trades", "bbo", "l2Book")]
    out, conn = handled(cap, {"channel": "bbo", "data": {"coin": "BTC", "time": 5, "bbo": [None, {
        "px": "104301.0", "sz": "0.4", "n": 1}]}}, {"channel": "l2Book", "data": {"coin": "BTC", "time": 6, "levels": [
            [{"px": "104299.0", "sz": "1.2", "n": 3}], [{"px": "104301.0", "sz": "0.4", "n": 1}]]}})
    assert out.bbos == [Bbo("hyperliquid", "BTC", "BTC", 5, RECV, None, None, 104301.0, 0.4)]
    assert conn.books["BTC"].levels(20) == ([(104299.0, 1.2)], [(104301.0, 0.4)])
    with pytest.raises(ExchangeError, match="Invalid subscription"):
        handled(cap, {"channel": "error", "data": "Invalid subscription"})


# -- the per-frame path -------------------------------------------------------------------------------


def reader(venue: str, *instruments):
    cap = protocol(venue, *instruments)
    stats = CaptureStats(venue)
    rows: list = []
    return Reader(cap, Connection(Session("ws://x", (), ())), stats, rows, {}, Gaps({venue: stats})), stats, rows


def test_malformed_frames_are_counted_never_raised():
    r, stats, rows = reader("binance", BTCUSDT)
    trade = json.dumps({"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade", "s": "BTCUSDT", "a": 1, "p": "1",
                                                              "q": "2", "T": 5, "m": False}})
    for frame in ("{not json", "[1, 2]", "null", '{"stream": "x"}', json.dumps({"data": {"e": "aggTrade"}}),
                  json.dumps({"data": {"e": "aggTrade", "s": "ETHUSDT"}}), trade.replace('"2"', '"-2"'),
                  b"\xff\xfe", trade + " ", " " + trade, trade):
        r.feed(frame, RECV)
    assert (stats.messages, stats.malformed, stats.trades, stats.duplicates) == (11, 8, 1, 2)
    assert len(rows) == 1


def test_duplicates_are_dropped_by_id_per_market_in_a_bounded_window(monkeypatch):
    import perps_tracker.services.capture as service

    monkeypatch.setattr(service, "RECENT_TRADES", 3)
    eth = Instrument("binance", "ETHUSDT", "ETH")
    r, stats, rows = reader("binance", BTCUSDT, eth)

    def frame(symbol, i):
        return json.dumps({"data": {"e": "aggTrade", "s": symbol, "a": i, "p": "1", "q": "1", "T": i, "m": True}})

    for i in (1, 2, 1, 3, 2):
        r.feed(frame("BTCUSDT", i), RECV)
    r.feed(frame("ETHUSDT", 1), RECV)  # another market: another window
    assert (stats.trades, stats.duplicates) == (4, 2)
    for i in (4, 5, 6):
        r.feed(frame("BTCUSDT", i), RECV)
    r.feed(frame("BTCUSDT", 1), RECV)  # forgotten: the window holds 3 ids
    assert stats.trades == 8 and len(r.recent["BTCUSDT"]) == 3


def test_decode_is_json_loads():
    for text in ('{"a": [1, 2.5, "x"]}', ' {"a": 1}\n', "[]", '"s"'):
        assert decode(text) == json.loads(text)
    for text in ("{not json", '{"a": 1} x', ""):
        with pytest.raises(ValueError):
            decode(text)


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_decode_rate_runs_the_real_path(venue):
    if venue == "binance":
        frames = [json.dumps({"stream": "btcusdt@aggTrade", "data": {
            "e": "aggTrade", "E": 1, "s": "BTCUSDT", "a": i, "p": "84000.5", "q": "0.01", "f": i, "l": i, "T": 1,
            "m": i % 2 == 0}}) for i in range(2000)]
    else:
        frames = [json.dumps({"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1, "data": [
            {"T": 1, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "84000.5", "i": f"id-{i}", "BT": False}]})
            for i in range(2000)]
    assert decode_rate(venue, frames) > 1000
    with pytest.raises(ValueError, match="malformed"):
        decode_rate(venue, frames[:10] + ["{oops"])


def test_book_rows_level_zero_is_best_and_in_coins():
    book = Book()
    book.reset(77, 1, [["0.01", "5"], ["0.011", "1"]], [["0.013", "2"], ["0.012", "3"]])
    rows = book_rows("hyperliquid", KPEPE, book, 5, RECV)
    assert [(r.side, r.level, r.price, r.qty, r.ts_ms, r.recv_ms) for r in rows] == [
        (BID, 0, pytest.approx(0.000011), 1000.0, 77, RECV), (BID, 1, pytest.approx(0.00001), 5000.0, 77, RECV),
        (ASK, 0, pytest.approx(0.000012), 3000.0, 77, RECV), (ASK, 1, pytest.approx(0.000013), 2000.0, 77, RECV)]
    with pytest.raises(ValueError):
        book.apply(78, 2, [["nan", "1"]], [])
    assert TRADES in CHANNELS


def test_an_incremental_book_keeps_its_depth():
    book = Book(limit=3)
    book.reset(1, 1, [[str(100 - i), "1"] for i in range(5)], [[str(101 + i), "1"] for i in range(5)])
    assert book.levels(10) == ([(100.0, 1.0), (99.0, 1.0), (98.0, 1.0)], [(101.0, 1.0), (102.0, 1.0), (103.0, 1.0)])
    book.apply(2, 2, [["100.5", "2"]], [["100.8", "2"]])  # better levels push the worst out
    assert book.levels(10) == ([(100.5, 2.0), (100.0, 1.0), (99.0, 1.0)], [(100.8, 2.0), (101.0, 1.0), (102.0, 1.0)])
