"""`perps-tracker alerts`: decisions on stored snapshots, cooldowns and caps, webhook delivery.

The rules themselves are tested threshold by threshold in test_rules.py; here the inputs
come from stored rows, and the expected decisions are worked out by hand from docs/design.md#strategy-alerts.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from freezegun import freeze_time
from sqlalchemy import insert, select, text

from perps_tracker.cli import cli
from perps_tracker.model.alerts import COOLDOWN, Raised, decide
from perps_tracker.model.rules import STRATEGIES, Evaluation
from perps_tracker.storage.alerts import latest_inputs
from perps_tracker.storage.models import (
    Alert,
    AlertDelivery,
    ExchangeSnapshot,
    LiquidationSnapshot,
    MarketSnapshot,
    SentimentFactors,
)
from tests.conftest import ts
from tests.fakes.webhooks import WebhookReceiver

H = 3600
T0 = ts(2026, 11, 22, 0)
SECRET = "/api/webhooks/123456/SECRET-TOKEN-abc"

# A market worked out by hand (docs/design.md#strategy-alerts), with F = 0.02 %/8 h, σ% = 0.002, X = 0.5, P = +6.2 %:
#   Liquidation Cascade Risk: F, S, P, liquidations 3 % of volume, cascade 0.65 hold (X does not):
#       5 × 17 + 20 (both liquidation conditions) = 105 → 100; longs were 70 % → short.   tier 1
#   Momentum Breakout: 30 + 30 + 25 + 15 = 100, sign of P → long.                        tier 1
#   Trend Following: 30 + 30 + 20 + 20 = 100, −25 without a rising trend → 75 / 100.    tier 2
#   Funding Rate Arbitrage: (0.0003 − 0.0001) × 3 × 365 × 100 = 21.9 % → min(109.5, 100).   tier 3
#   Basis Arbitrage: bybit 99,600 / 100,000 − 1 = −0.4 % ≥ 0.3 → 100, against it → long.    tier 3
#   Not fired: Contrarian (0 of 2), Breakout (|P| ≥ 4), Volatility (|P| ≥ 3), Range (S), Mean
#   Reversion (|S| ≥ 0.6), Delta Neutral (|P| ≥ 2), Scalping (|S| > 0.15).
MARKET = dict(price_change_24h_pct=6.2, funding_rate_8h=0.0002, funding_divergence=0.00002, oi_vol_ratio=0.5,
              long_share=0.55, total_volume_usd=1.5e11, composite_score=0.62)
VENUES = {"binance": (0.0001, 100_100.0, 100_000.0), "bybit": (0.0003, 99_600.0, 100_000.0)}
LIQ = dict(total_usd=3.0e8, long_liq_share=0.7, volume_usd=1.0e10, cascade_risk_score=0.65)
FIRES = {  # strategy: (tier, confidence without / with a confirmed trend, direction)
    "Liquidation Cascade Risk": (1, 100, 100, "short"),
    "Momentum Breakout": (1, 100, 100, "long"),
    "Trend Following": (2, 75, 100, "long"),
    "Funding Rate Arbitrage": (3, 100, 100, "neutral"),
    "Basis Arbitrage": (3, 100, 100, "long"),
}


def store(db, t: int, *, market=None, venues=None, liq=LIQ, factors=(0.55, 1.0), failed=("okx",)) -> None:
    """One stored snapshot: market row, factor scores, venues (funding, mark, index), liquidation line."""
    m = {**MARKET, **(market or {})}
    with db.engine.begin() as conn:
        sid = conn.execute(insert(MarketSnapshot).values(
            timestamp=t, taken_at=t + 42, source="live", exchanges_ok=2, exchanges_failed=len(failed),
            sentiment="BULLISH", strength="MODERATE", **m)).inserted_primary_key[0]
        conn.execute(insert(SentimentFactors).values(snapshot_id=sid, funding=factors[0], price=factors[1],
                                                     missing=""))
        for venue, (funding, mark, index) in (VENUES if venues is None else venues).items():
            conn.execute(insert(ExchangeSnapshot).values(
                snapshot_id=sid, exchange=venue, kind="CEX", status="ok", btc_funding_rate_8h=funding,
                btc_mark_price=mark, btc_index_price=index, records_skipped=0))
        for venue in failed:  # a failed venue's leftovers never feed a rule
            conn.execute(insert(ExchangeSnapshot).values(
                snapshot_id=sid, exchange=venue, kind="CEX", status="error", error="timeout",
                btc_funding_rate_8h=0.01, btc_mark_price=1.0, btc_index_price=2.0, records_skipped=0))
        if liq is not None:
            conn.execute(insert(LiquidationSnapshot).values(
                snapshot_id=sid, exchange="all", window_hours=1.0, count=10, long_usd=liq["total_usd"] * 0.7,
                short_usd=liq["total_usd"] * 0.3, sampled=False, **liq))


@pytest.fixture
def env(monkeypatch, database):
    """The database (SQLite, and PostgreSQL when configured) in PERPS_TRACKER_DB; fast HTTP settings."""
    monkeypatch.setenv("PERPS_TRACKER_DB", database.url)
    monkeypatch.setenv("PERPS_TRACKER_BACKOFF", "0")
    monkeypatch.setenv("PERPS_TRACKER_RETRIES", "1")
    monkeypatch.setenv("PERPS_TRACKER_READ_TIMEOUT", "2")
    return database


@pytest.fixture
def hooks(monkeypatch, isolated):
    """A loopback webhook receiver behind all three kinds, configured in ./perps_tracker.toml."""
    with WebhookReceiver() as receiver:
        (isolated / "perps_tracker.toml").write_text(
            "[webhooks]\n" + "".join(f'{kind} = "{receiver.url("/" + kind + SECRET)}"\n'
                                     for kind in ("discord", "slack", "json")))
        yield receiver


def run(runner, *args, at: int | None = None):
    if at is None:
        return runner.invoke(cli, ["alerts", *args], catch_exceptions=False)
    with freeze_time(datetime.fromtimestamp(at, timezone.utc)):
        return runner.invoke(cli, ["alerts", *args], catch_exceptions=False)


def as_json(result) -> dict:
    assert result.exit_code in (0, 3), result.stdout + result.stderr
    return json.loads(result.stdout)


def statuses(doc) -> dict[str, str]:
    return {a["strategy"]: a["status"] for a in doc["alerts"]}


# -- inputs from the database ------------------------------------------------------------------


def test_inputs_come_from_the_newest_snapshot_in_design_units(env):
    for k, s in enumerate([0.1, 0.2, 0.3, 0.4, 0.5]):  # rising 0.1 per hour before the newest
        store(env, T0 + k * H, market={"composite_score": s}, liq=None)
    store(env, T0 - 20 * H, market={"composite_score": -5.0})  # older than 12 h: not part of the trend
    store(env, T0 + 5 * H, market={"composite_score": 0.6})
    ref, i = latest_inputs(env)
    assert ref.timestamp == T0 + 5 * H
    assert (i.S, i.fs, i.ps, i.P, i.X, i.long_share) == (0.6, 0.55, 1.0, 6.2, 0.5, 0.55)
    assert i.F_pct == pytest.approx(0.02) and i.sigma_pct == pytest.approx(0.002)
    assert i.btc_funding_8h == {"binance": 0.0001, "bybit": 0.0003}  # the failed okx row is ignored
    assert i.basis == {"binance": pytest.approx(0.001), "bybit": pytest.approx(-0.004)}
    assert (i.liq_total_usd, i.liq_long_share, i.liq_volume_usd, i.cascade_score) == (3.0e8, 0.7, 1.0e10, 0.65)
    assert i.slope == pytest.approx(0.1)


def test_missing_inputs_stay_missing(env):
    store(env, T0, market={k: None for k in MARKET}, venues={}, liq=None, factors=(None, None))
    _, i = latest_inputs(env)
    assert (i.S, i.P, i.F_pct, i.sigma_pct, i.X, i.liq_total_usd, i.slope) == (None,) * 7
    assert i.btc_funding_8h == {} and i.basis == {}


# -- decisions on stored snapshots = the hand evaluation ------------------------------------------


def test_decisions_match_the_hand_evaluation(runner, env):
    store(env, T0)
    doc = as_json(run(runner, "--json", "--all", at=T0 + 42))
    assert doc["snapshot"] == "2026-11-22T00:00:00Z" and doc["evaluated_at"] == "2026-11-22T00:00:42Z"
    assert [a["strategy"] for a in doc["alerts"]] == STRATEGIES
    got = {a["strategy"]: (a["tier"], a["confidence"], a["direction"], a["status"]) for a in doc["alerts"]}
    for name in STRATEGIES:
        if name in FIRES:
            tier, conf, _, direction = FIRES[name]
            assert got[name] == (tier, conf, direction, "fired"), name
        else:
            assert got[name][3] == "not_fired" and got[name][1] == 0, name
    by = {a["strategy"]: a for a in doc["alerts"]}
    assert any("P = +6.20%" in r for r in by["Momentum Breakout"]["reasons"])
    assert "bybit basis -0.400%" in by["Basis Arbitrage"]["reasons"][0]
    assert "short binance" not in by["Funding Rate Arbitrage"]["reasons"][0]
    assert "short bybit, long binance" in by["Funding Rate Arbitrage"]["reasons"][0]
    assert "|P| < 4" in by["Breakout Trading"]["why"]
    # Without --all only what fired; the decisions are stored.
    again = as_json(run(runner, "--json", at=T0 + 60))
    assert set(statuses(again)) == set(FIRES)
    with env.engine.connect() as conn:
        stored = conn.execute(select(Alert.strategy, Alert.status, Alert.confidence, Alert.timestamp)).all()
    assert sorted(s for s, *_ in stored) == sorted(FIRES)
    assert {t for *_, t in stored} == {T0 + 42}  # the second run raised nothing twice


def test_a_confirmed_trend_lifts_trend_following(runner, env):
    for k in range(5):
        store(env, T0 - (5 - k) * H, market={"composite_score": 0.52 + 0.02 * k}, liq=None)
    store(env, T0, market={"composite_score": 0.62})
    doc = as_json(run(runner, "--json", at=T0 + 42))
    trend = next(a for a in doc["alerts"] if a["strategy"] == "Trend Following")
    assert trend["confidence"] == 100 and not any("trend not confirmed" in r for r in trend["reasons"])


def test_text_output_lists_alerts_and_why_not(runner, env):
    store(env, T0)
    result = run(runner, "--all", at=T0 + 42)
    assert result.exit_code == 0
    out = result.stdout
    assert "FIRED      Momentum Breakout · tier 1 · ▲ LONG · confidence 100" in out
    assert "Not fired:" in out and "Scalping (tier 3):" in out


def test_stale_snapshot_is_pointed_out(runner, env):
    store(env, T0)
    assert "5 h old" in run(runner, at=T0 + 5 * H).stdout


def test_empty_or_missing_database_is_a_one_line_error(runner, env, tmp_path, monkeypatch):
    result = run(runner)
    assert result.exit_code == 1 and "no snapshot to evaluate yet" in result.stderr
    monkeypatch.setenv("PERPS_TRACKER_DB", str(tmp_path / "none.db"))
    result = run(runner)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# -- cooldown and caps --------------------------------------------------------------------------


def ev(name: str, tier: int, confidence: int) -> Evaluation:
    return Evaluation(name, tier, True, confidence, "long", ("x",))


@pytest.mark.parametrize("tier", [1, 2, 3])
def test_cooldown_by_tier(tier):
    cooldown = COOLDOWN[tier]
    assert cooldown == {1: H, 2: 2 * H, 3: 4 * H}[tier]
    before = [Raised("S", T0, 70)]
    inside = decide([ev("S", tier, 70)], T0 + cooldown - H, before)[0]
    after = decide([ev("S", tier, 70)], T0 + cooldown, before)[0]
    if cooldown > H:
        assert inside.status == "suppressed" and inside.why.startswith("cooldown")
    assert after.status == "fired"


@pytest.mark.parametrize("confidence, status", [(89, "suppressed"), (90, "fired"), (51, "suppressed"),
                                                (50, "fired")])
def test_repeat_inside_the_cooldown_only_when_confidence_moved_20(confidence, status):
    d = decide([ev("S", 3, confidence)], T0 + H, [Raised("S", T0, 70)])[0]
    assert d.status == status
    if status == "suppressed":
        assert f"moved {abs(confidence - 70)})" in d.why


def test_at_most_three_per_strategy_in_24h():
    raised = [Raised("S", T0 + k * H, 60 + 20 * k) for k in range(3)]
    assert decide([ev("S", 1, 60)], T0 + 3 * H, raised)[0].why.startswith("daily cap: 3 alerts")
    assert decide([ev("S", 1, 60)], T0 + 24 * H, raised)[0].status == "fired"  # the first fell out
    assert decide([ev("Other", 1, 60)], T0 + 3 * H, raised)[0].status == "fired"


def test_at_most_ten_an_hour_keeping_the_most_important():
    evaluations = [ev(f"T1-{k}", 1, 60 + k) for k in range(4)] + [ev(f"T3-{k}", 3, 90 + k) for k in range(8)]
    decisions = {d.evaluation.strategy: d for d in decide(evaluations, T0, [])}
    suppressed = sorted(s for s, d in decisions.items() if d.status == "suppressed")
    assert suppressed == ["T3-0", "T3-1"]  # tier first, then confidence
    assert decisions["T3-0"].why == "hourly cap: 10 alerts in the last hour (at most 10)"
    # Alerts raised already this hour (an earlier run on the same snapshot) count too.
    earlier = [Raised(f"E{k}", T0, 60) for k in range(9)]
    decisions = decide([ev("A", 1, 80), ev("B", 2, 80)], T0, earlier)
    assert [d.status for d in decisions] == ["fired", "suppressed"]


def test_below_50_or_not_holding_is_not_fired():
    low = Evaluation("S", 2, True, 49, "long", ("x",))
    off = Evaluation("S", 2, False, 0, None, (), why_not="1 of 4 needed conditions hold; not: ...")
    assert decide([low], T0, [])[0].why == "confidence 49 is below 50"
    assert decide([off], T0, [])[0].why.startswith("1 of 4")


def test_suppression_over_simulated_hours(runner, env):
    """Hourly snapshots of the same market for 28 h, `alerts` run at :00:42 each hour (freezegun)."""
    seen: dict[str, list[str]] = {name: [] for name in FIRES}
    for h in range(28):
        store(env, T0 + h * H)
        doc = as_json(run(runner, "--json", at=T0 + h * H + 42))
        got = statuses(doc)
        for name in FIRES:
            seen[name].append(got[name][0])  # f(ired) or s(uppressed)
    # Tier 1, 1 h cooldown: fires hours 0-2, then the daily cap until hour 0 and 1 leave the 24 h window.
    tier1 = "fffsssssssssssssssssssssfffs"
    # Tier 2, 2 h cooldown: 0, 2, 4, then capped until hour 24 (hours 2, 4 left inside), 26 (4 and 24).
    tier2 = "fsfsfsssssssssssssssssssfsfs"
    # Tier 3, 4 h cooldown: 0, 4, 8, then capped; hour 24 has 4 and 8 inside; 28 would be next.
    tier3 = "fsssfsssfsssssssssssssssfsss"
    assert "".join(seen["Momentum Breakout"]) == tier1
    assert "".join(seen["Liquidation Cascade Risk"]) == tier1
    assert "".join(seen["Trend Following"]) == tier2
    assert "".join(seen["Funding Rate Arbitrage"]) == tier3
    assert "".join(seen["Basis Arbitrage"]) == tier3
    with env.engine.connect() as conn:
        raised = conn.execute(text("SELECT count(*) FROM alerts WHERE status IN ('fired', 'sent')")).scalar()
    assert raised == 2 * tier1.count("f") + tier2.count("f") + 2 * tier3.count("f")


def test_suppressed_reason_is_shown(runner, env):
    store(env, T0)
    run(runner, at=T0 + 42)
    store(env, T0 + H)
    doc = as_json(run(runner, "--json", at=T0 + H + 42))
    trend = next(a for a in doc["alerts"] if a["strategy"] == "Trend Following")
    assert trend["status"] == "suppressed"
    assert trend["why"] == ("cooldown: raised on the 2026-11-22 00:00 UTC snapshot with confidence 75; "
                            "tier 2 waits 2 h unless confidence moves ≥ 20 points (moved 0)")


# -- webhooks ------------------------------------------------------------------------------


def received_kinds(receiver) -> list[tuple[str, str]]:
    """(kind, strategy) of each delivery received."""
    out = []
    for r in receiver.received:
        kind = r.path.split("/")[1]
        body = r.body
        if kind == "discord":
            title = body["embeds"][0]["title"]
        elif kind == "slack":
            title = body["text"]
        else:
            title = body["strategy"]
        out.append((kind, next(s for s in FIRES if s in title)))
    return out


def test_notify_posts_each_alert_once_to_each_webhook(runner, env, hooks):
    store(env, T0)
    result = run(runner, "--notify", "--json", at=T0 + 42)
    doc = as_json(result)
    assert result.exit_code == 0
    assert set(statuses(doc).values()) == {"sent"}
    assert sorted(received_kinds(hooks)) == sorted((k, s) for k in ("discord", "slack", "json") for s in FIRES)
    assert doc["delivered"] == 15 and doc["notified"] == ["discord", "json", "slack"]
    discord = next(r.body for r in hooks.received if r.path.startswith("/discord")
                   and "Momentum" in r.body["embeds"][0]["title"])
    assert discord["embeds"][0]["color"] == 0x2ECC71  # long: green
    short = next(r.body for r in hooks.received if r.path.startswith("/discord")
                 and "Cascade" in r.body["embeds"][0]["title"])
    assert short["embeds"][0]["color"] == 0xE74C3C
    # Running again (same snapshot, or the next hour inside the cooldown) sends nothing new.
    run(runner, "--notify", at=T0 + 100)
    assert len(hooks.received) == 15
    with env.engine.connect() as conn:
        assert conn.execute(select(Alert.status).distinct()).scalars().all() == ["sent"]


def test_a_failing_webhook_is_retried_next_run_and_received_exactly_once(runner, env, hooks):
    store(env, T0)
    hooks.fail_next(2, status=503)  # the first delivery and its one retry
    result = run(runner, "--notify", "--json", at=T0 + 42)
    assert result.exit_code == 3
    assert "will retry on the next run" in result.stderr and "503" in result.stderr
    assert SECRET not in result.stdout + result.stderr and "SECRET" not in result.stdout + result.stderr
    first = received_kinds(hooks)
    # The webhook that failed is not tried again on this run; the others got everything.
    failed_kind = hooks.attempts[0].path.split("/")[1]
    assert all(kind != failed_kind for kind, _ in first) and len(first) == 10
    with env.engine.connect() as conn:
        pending = conn.execute(select(AlertDelivery.webhook, AlertDelivery.attempts, AlertDelivery.error)
                               .where(AlertDelivery.status == "pending")).all()
    assert {w for w, *_ in pending} == {failed_kind} and len(pending) == 5
    assert all(SECRET not in (e or "") for *_, e in pending)
    # Next hour: the failed ones go out, marked as delayed; nothing is sent twice. The tier-1
    # pair fires again on the new snapshot (1 h cooldown), the rest is suppressed.
    store(env, T0 + H)
    result = run(runner, "--notify", at=T0 + H + 42)
    assert result.exit_code == 0, result.stderr
    got = received_kinds(hooks)
    tier1 = ("Momentum Breakout", "Liquidation Cascade Risk")
    for kind in ("discord", "slack", "json"):
        for strategy in FIRES:
            assert got.count((kind, strategy)) == (2 if strategy in tier1 else 1), (kind, strategy)
    late = [r.body for r in hooks.received[10:] if r.path.startswith("/json")]
    if failed_kind == "json":
        assert sum(b["delayed"] for b in late) == 5
    history = as_json(run(runner, "--since", "7d", "--json", at=T0 + H + 60))
    assert all(a["deliveries"] == {"discord": "delivered", "json": "delivered", "slack": "delivered"}
               for a in history["alerts"] if a["snapshot"] == "2026-11-22T00:00:00Z")


def test_summary_names_only_the_webhooks_that_took_the_notifications(runner, env, hooks):
    # Issue 12 item 3: with one webhook answering 500 the summary named every configured webhook.
    store(env, T0)
    hooks.fail_next(2, status=500)  # the first post and its one retry: that webhook is broken for this run
    result = run(runner, "--notify", at=T0 + 42)
    assert result.exit_code == 3
    failed_kind = hooks.attempts[0].path.split("/")[1]
    ok = sorted({"discord", "slack", "json"} - {failed_kind})
    summary = " ".join(result.stdout[result.stdout.index("Delivered"):].split())  # wrapped at 80 columns
    assert summary == (f"Delivered 10 notification(s): {ok[0]} 5, {ok[1]} 5. Not delivered to {failed_kind} "
                       "(retried on the next run; see the warnings).")
    doc = as_json(run(runner, "--since", "1d", "--json", at=T0 + 60))
    assert all(a["deliveries"][failed_kind] == "pending" for a in doc["alerts"] if a["status"] == "fired")


def test_delivery_gives_up_after_a_day(runner, env, hooks, monkeypatch):
    store(env, T0)
    monkeypatch.setenv("PERPS_TRACKER_RETRIES", "0")
    hooks.fail_next(3, status=500)  # the first alert's post to each webhook: all three marked broken
    assert run(runner, "--notify", at=T0 + 42).exit_code == 3
    store(env, T0 + 25 * H)
    result = run(runner, "--notify", "--json", at=T0 + 25 * H + 42)
    doc = as_json(result)
    expired = [f for f in doc["delivery_failures"] if f["expired"]]
    assert len(expired) == 15 and "given up" in result.stderr
    # Only the new snapshot's alerts went out; the day-old ones were not sent late.
    assert len(hooks.received) == 15
    assert {r.body["snapshot"] for r in hooks.received if r.path.startswith("/json")} == {"2026-11-23T01:00:00Z"}


def test_notify_without_webhooks_is_a_config_error(runner, env):
    store(env, T0)
    result = run(runner, "--notify")
    assert result.exit_code == 1 and "--notify needs a webhook" in result.stderr


def test_since_lists_history_and_rejects_notify(runner, env):
    store(env, T0)
    run(runner, at=T0 + 42)
    store(env, T0 + H)
    run(runner, at=T0 + H + 42)
    doc = as_json(run(runner, "--since", "7d", "--json", at=T0 + 2 * H))
    assert len(doc["alerts"]) == 5 + 2  # hour 1: the tier-1 pair again; the rest suppressed (hidden)
    full = as_json(run(runner, "--since", "7d", "--json", "--all", at=T0 + 2 * H))
    assert len(full["alerts"]) == 10
    text_out = run(runner, "--since", "30m", at=T0 + H + 60).stdout
    assert "Alerts since" in text_out and "Momentum Breakout" in text_out
    bad = runner.invoke(cli, ["alerts", "--since", "7d", "--notify"])
    assert bad.exit_code == 2 and "cannot be combined" in bad.stderr


@pytest.mark.parametrize(("value", "since"), [
    ("24h", "2026-11-21T12:30:42Z"), ("7d", "2026-11-15T12:30:42Z"), ("1h30m", "2026-11-22T11:00:42Z"),
    ("2026-11-01", "2026-11-01T00:00:00Z"), ("2026-11-01T12:00", "2026-11-01T12:00:00Z"),
    ("2026-11-01 12:00", "2026-11-01T12:00:00Z"), ("2026-11-01T12:00:00Z", "2026-11-01T12:00:00Z"),
    ("2026-11-01T14:00+02:00", "2026-11-01T12:00:00Z"), ("2026-11-01T07:00:00-0500", "2026-11-01T12:00:00Z"),
])
def test_since_takes_durations_and_dates(runner, env, value, since):
    # Issue 12 item 7: --since refused absolute dates. Without an offset a time is UTC.
    store(env, T0)
    with freeze_time("2026-11-22 12:30:42"):
        run(runner, at=None)
        result = runner.invoke(cli, ["alerts", "--since", value, "--json"], catch_exceptions=False)
        text_out = runner.invoke(cli, ["alerts", "--since", value], catch_exceptions=False).stdout
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["since"] == since and {a["strategy"] for a in doc["alerts"]} == set(FIRES)
    assert text_out.startswith(f"Alerts since {since.replace('T', ' ').replace('Z', ' UTC')}: 5")


@pytest.mark.parametrize(("value", "message"), [
    ("yesterday", "'yesterday' is neither a duration (24h, 7d, 1h30m) nor a date (2026-11-01, 2026-11-01T12:00, "
                  "2026-11-01T12:00:00Z)"),
    ("7x", "'7x' is neither a duration"),
    ("2026-11-1", "'2026-11-1' is neither a duration"),
    ("2026-13-01", "'2026-13-01' is not a valid date: month must be in 1..12"),
    ("2026-11-01T25:00", "'2026-11-01T25:00' is not a valid date: hour must be in 0..23"),
    ("2027-01-01", "'2027-01-01' is in the future"),
    ("0h", "'0h' is not a positive duration"),
])
def test_a_malformed_since_is_a_usage_error(runner, env, value, message):
    with freeze_time("2026-11-22 12:30:42"):
        result = runner.invoke(cli, ["alerts", "--since", value])
    assert result.exit_code == 2
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"Error: Invalid value for '--since': {message}") and "Traceback" not in result.stderr


def test_webhook_urls_are_never_shown(runner, env, hooks, isolated):
    result = runner.invoke(cli, ["config"])
    assert result.exit_code == 0 and SECRET not in result.stdout and "/***" in result.stdout
    result = runner.invoke(cli, ["config", "--json"])
    assert "SECRET" not in result.stdout
    (isolated / "perps_tracker.toml").write_text('[webhooks]\ndiscord = "discord.com/api/webhooks/1/SECRET"\n')
    result = runner.invoke(cli, ["alerts"])
    assert result.exit_code == 1 and "webhooks.discord" in result.stderr and "SECRET" not in result.stderr
    (isolated / "perps_tracker.toml").write_text("[webhooks]\nslack = 42\n")
    result = runner.invoke(cli, ["alerts"])
    assert result.exit_code == 1 and "42" not in result.stderr


def test_snapshot_with_alerts_on_the_venue_fakes(runner, env, fake, hooks, monkeypatch):
    fake.install()
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    store(env, T0 - H)  # an earlier hour, so the trend has something
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: datetime.fromtimestamp(T0 + 42, timezone.utc))
    result = runner.invoke(cli, ["snapshot", "--alerts", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["timestamp"] == "2026-11-22T00:00:00Z"
    assert doc["alerts"]["snapshot"] == "2026-11-22T00:00:00Z"
    sent = [a for a in doc["alerts"]["alerts"] if a["status"] == "sent"]
    assert len(hooks.received) == 3 * len(sent)
    with env.engine.connect() as conn:
        n = conn.execute(select(Alert.id).where(Alert.snapshot_timestamp == T0)).all()
    assert len(n) == len([a for a in doc["alerts"]["alerts"] if a["status"] != "not_fired"])


def test_snapshot_alerts_quiet_without_webhooks_prints_only_new_alerts(runner, env, fake, monkeypatch):
    fake.install()
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: datetime.fromtimestamp(T0 + 42, timezone.utc))
    result = runner.invoke(cli, ["snapshot", "--alerts", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    # The fake market is calm: Breakout Trading (|P| 1.52 < 4, X 0.485, |S| 0.077, σ% 0.0008) fires at 100.
    assert " ".join(result.stdout.split()).startswith("FIRED Breakout Trading · tier 2 · ● NEUTRAL · confidence 100")
    assert "Perpetual futures" not in result.stdout
    again = runner.invoke(cli, ["snapshot", "--alerts", "--quiet"], catch_exceptions=False)
    assert again.exit_code == 0 and again.stdout == ""  # decided already: nothing new to say
