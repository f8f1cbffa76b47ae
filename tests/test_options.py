"""The options market end to end against the loopback fakes: `snapshot` reads Deribit's BTC and ETH chains
(tests/fakes/deribit.py CHAINS, figures chosen by hand) and stores `options_snapshots`; `options` shows
them with the smile; `trend` shows DVOL; `backfill` fills DVOL; the parsers skip what is malformed."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pytest import approx
from sqlalchemy import text

from perps_tracker.cli import cli
from perps_tracker.exchanges.deribit import parse_dvol, parse_option_instruments, parse_option_summary
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.options import OptionQuote, options_metrics
from tests.fakes import Reply
from tests.fakes import deribit as fake_deribit

NOW = datetime.fromtimestamp(fake_deribit.OPTIONS_NOW + 42, timezone.utc)  # 2026-11-22 11:00:42 UTC
HOUR = 3600
SUMMARY = "/api/v2/public/get_book_summary_by_currency"


@pytest.fixture
def env(venues_env, monkeypatch):
    clock = {"now": NOW}
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: clock["now"])
    venues_env.clock = clock
    return venues_env


def run(runner, *args):
    return runner.invoke(cli, list(args), catch_exceptions=False)


def stored(db):
    with db.engine.connect() as conn:
        return {r.currency: r for r in conn.execute(text("SELECT * FROM options_snapshots ORDER BY currency"))}


def expected(currency: str):
    """The figures of the fake's chain, from the model (itself checked by hand in test_options_model.py)."""
    quotes = [OptionQuote(fake_deribit.option_name(currency, e, k, t), float(k), t, fake_deribit.EXPIRIES[e], oi, vol,
                          iv, forward)
              for e, forward, rows in fake_deribit.CHAINS[currency] for k, t, oi, vol, iv in rows]
    return options_metrics(currency, quotes, None, int(NOW.timestamp()))


def test_snapshot_stores_the_options_market_of_btc_and_eth(runner, env, fake):
    result = run(runner, "snapshot", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["options_failed"] == []
    btc, eth = doc["options"]
    # BTC by hand: OI calls 300 + 4,400 + 2,000 = 6,700, puts 280 + 3,300 + 1,800 = 5,380; volume 530 / 475;
    # OI in USD 580 × 84,100 + 7,700 × 84,500 + 3,800 × 86,000; the expiry 2026-12-25 (32.9 days away)
    assert btc["currency"] == "BTC" and btc["timestamp"] == "2026-11-22T11:00:00Z"
    assert btc["put_call_oi_ratio"] == approx(5380 / 6700)
    assert btc["put_call_volume_ratio"] == approx(475 / 530)
    assert btc["options_oi_usd"] == approx(1_026_228_000)
    assert btc["expiry"] == "2026-12-25T08:00:00Z" and btc["options"] == 12
    want = expected("BTC")
    assert btc["skew_25d"] == approx(want.skew_25d) and -6 < btc["skew_25d"] < -1  # puts dearer
    assert btc["atm_iv_30d"] == approx(want.atm_iv_30d)
    # DVOL: the close of the newest hourly candle up to now: the one still open, opened at 11:00 (its last value)
    assert btc["dvol"] == approx(fake_deribit.dvol("BTC", fake_deribit.OPTIONS_NOW))
    assert eth["skew_25d"] is None and eth["atm_iv_30d"] is not None  # one OTM put only: no bracket
    rows = stored(env)
    assert rows["BTC"].skew_25d == approx(want.skew_25d) and rows["BTC"].source == "live"
    assert len(json.loads(rows["BTC"].smile)) == 8
    # the table shows a line per currency under the venues
    text_out = run(runner, "snapshot").stdout
    assert "options" in text_out and "DVOL" in text_out and "2026-12-25" in text_out


def test_options_shows_the_figures_the_smile_and_the_history(runner, env, fake):
    assert run(runner, "snapshot", "--quiet").exit_code == 0
    env.clock["now"] = NOW.replace(hour=12)
    assert run(runner, "snapshot", "--quiet").exit_code == 0
    out = run(runner, "options", "--hours", "2", "--no-fetch")
    assert out.exit_code == 0, out.stderr
    assert "BTC options" in out.stdout and "Smile of the 2026-12-25 expiry" in out.stdout
    assert any(ch in out.stdout for ch in "⠁⠂⠄⡀⠈⠐⠠⢀")  # the braille curve
    assert "Last 2 h:" in out.stdout
    doc = json.loads(run(runner, "options", "--currency", "eth", "--hours", "2", "--json", "--no-fetch").stdout)
    assert doc["currency"] == "ETH" and doc["source"] == "live" and len(doc["history"]) == 2
    assert [round(p["delta"], 3) for p in doc["smile"]] == sorted(round(p["delta"], 3) for p in doc["smile"])
    assert doc["skew_25d"] is None


def test_options_takes_a_snapshot_when_the_newest_is_old_and_says_when_none(runner, env, fake):
    result = run(runner, "options", "--no-fetch")
    assert result.exit_code == 1 and "no options figures stored yet" in result.stderr
    assert "Traceback" not in result.stderr
    result = run(runner, "options", "--json")  # nothing stored: it takes a snapshot first
    assert result.exit_code == 0 and json.loads(result.stdout)["options"] == 12
    assert len(stored(env)) == 2


def test_an_unknown_currency_is_one_error_line_naming_the_choices(runner):
    result = run(runner, "options", "--currency", "xrp", "--no-fetch")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == ("Error: Invalid value for '--currency': 'XRP' is not one of "
                                                      "'BTC', 'ETH'.")


def test_a_failed_chain_is_named_exit_3_and_the_rest_is_stored(runner, env, fake):
    def failing(request):
        if request.query.get("kind") == "option":
            return Reply({"jsonrpc": "2.0", "error": {"code": 11044, "message": "not_open_order"}}, status=400)
        return None  # the perpetuals as usual

    fake.add("deribit", SUMMARY, lambda request: failing(request) or fake_deribit_summary(request))
    result = run(runner, "snapshot", "--quiet")
    assert result.exit_code == 3
    assert result.stderr.count("deribit options failed:") == 2 and "not_open_order" in result.stderr
    assert stored(env) == {}
    with env.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM market_snapshots")).scalar_one() == 1


def fake_deribit_summary(request):
    from tests.fakes import load

    return Reply(load("deribit", "get_book_summary_by_currency"))


def test_trend_shows_dvol_beside_the_score(runner, env, fake):
    for hour in (9, 10, 11):
        env.clock["now"] = NOW.replace(hour=hour)
        assert run(runner, "snapshot", "--quiet").exit_code == 0
    doc = json.loads(run(runner, "trend", "--json").stdout)
    assert doc["dvol"]["currency"] == "BTC"
    assert doc["dvol"]["latest"] == approx(fake_deribit.dvol("BTC", fake_deribit.OPTIONS_NOW))
    assert doc["dvol"]["change_24h"] is None  # no row a day before
    assert "BTC DVOL" in run(runner, "trend").stdout


def test_backfill_fills_dvol_only_where_missing(runner, env, fake):
    assert run(runner, "snapshot", "--quiet").exit_code == 0
    with env.engine.begin() as conn:  # pretend the live row is of an hour ago, inside the window
        conn.execute(text("UPDATE options_snapshots SET timestamp = timestamp - 3600"))
    live = stored(env)
    doc = json.loads(run(runner, "backfill", "--days", "1", "--coins", "none", "--json").stdout)
    assert [(d["currency"], d["rows_added"], d["error"]) for d in doc["dvol"]] == [("BTC", 23, None), ("ETH", 23, None)]
    with env.engine.connect() as conn:
        rows = conn.execute(text("SELECT timestamp, dvol, source, skew_25d FROM options_snapshots "
                                 "WHERE currency = 'BTC' ORDER BY timestamp")).all()
    assert len(rows) == 24 and rows[-1].timestamp == fake_deribit.OPTIONS_NOW - HOUR
    assert rows[-1].source == "live" and rows[-1].skew_25d == live["BTC"].skew_25d  # kept
    t, value, source, skew = rows[0]
    assert source == "backfill" and skew is None  # the chain has no history
    assert value == approx(fake_deribit.dvol("BTC", t - HOUR))  # the close of the candle that opened an hour before
    calls = fake.count("deribit", "/api/v2/public/get_volatility_index_data")
    again = json.loads(run(runner, "backfill", "--days", "1", "--coins", "none", "--json").stdout)
    assert [d["rows_added"] for d in again["dvol"]] == [0, 0]
    assert fake.count("deribit", "/api/v2/public/get_volatility_index_data") == calls  # nothing downloaded again


def test_parsers_skip_malformed_rows():
    terms = parse_option_instruments({"result": [
        {"instrument_name": "BTC-X-1-C", "strike": 1.0, "option_type": "call", "expiration_timestamp": 2000},
        {"instrument_name": "BTC-X-2-C", "strike": None, "option_type": "call", "expiration_timestamp": 2000},
        {"instrument_name": "BTC-X-3-Z", "strike": 3.0, "option_type": "other", "expiration_timestamp": 2000},
        {"instrument_name": "BTC-X-4-P", "strike": 4.0, "option_type": "put", "expiration_timestamp": 2000,
         "is_active": False},
        "junk"]})
    assert list(terms) == ["BTC-X-1-C"] and terms["BTC-X-1-C"].expiry == 2
    skipped = Skips()
    quotes = parse_option_summary({"result": [{"instrument_name": "BTC-X-1-C", "mark_iv": "NaN", "open_interest": 5},
                                              {"instrument_name": "UNKNOWN"}, {"mark_iv": 50}, 7]}, terms, skipped)
    assert [(q.instrument, q.mark_iv, q.open_interest) for q in quotes] == [("BTC-X-1-C", None, 5.0)]
    assert skipped.count == 2
    skipped = Skips()
    assert parse_dvol({"result": {"data": [[3_600_000, 1, 2, 0.5, 1.5], [7_200_000, 1, 2], ["x", 1, 2, 3, 4]]}},
                      skipped) == {3600: 1.5}
    assert skipped.count == 2
    with pytest.raises(ValueError):
        parse_dvol({"result": []}, Skips())


def test_options_snapshots_export_as_csv(runner, env, fake):
    assert run(runner, "snapshot", "--quiet").exit_code == 0
    out = run(runner, "export", "options_snapshots", "--since", "2026-11-22", "--format", "csv")
    assert out.exit_code == 0, out.stderr
    header, btc, eth = out.stdout.strip().splitlines()
    assert header.split(",")[:4] == ["timestamp", "currency", "dvol", "put_call_oi_ratio"]
    assert btc.startswith(f"{fake_deribit.OPTIONS_NOW},BTC,") and eth.startswith(f"{fake_deribit.OPTIONS_NOW},ETH,")
