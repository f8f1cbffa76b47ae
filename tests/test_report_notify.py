"""`report --notify`: the headline sections posted to Discord, Slack and a JSON webhook on loopback,
recorded before sending, once per snapshot hour and window, a failed post retried by the next run
and received exactly once; webhook URLs never shown."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from perps_tracker.cli import cli
from perps_tracker.services.notify import (
    DISCORD_EMBED_MAX,
    DISCORD_FIELD_MAX,
    SLACK_TEXT_MAX,
    Digest,
    discord_digest,
    json_digest,
    slack_digest,
)
from tests.fakes.webhooks import WebhookReceiver
from tests.synthetic_history import market_history, store_history, store_newest_hour_extras, with_venue_markets

NOW = datetime(2026, 11, 22, 11, 0, 42, tzinfo=timezone.utc)
NEWEST = int(NOW.timestamp()) // 3600 * 3600
SECRET = "/api/webhooks/987/REPORT-SECRET-xyz"
KINDS = ("discord", "json", "slack")


@pytest.fixture
def history(db_path, monkeypatch, isolated):
    from perps_tracker.storage.db import open_database

    db = open_database(str(db_path))
    n = 9 * 24
    store_history(db, with_venue_markets(market_history(NEWEST - (n - 1) * 3600, n, 3), 3))
    store_newest_hour_extras(db, NEWEST, 3)
    db.dispose()
    monkeypatch.setenv("PERPS_TRACKER_DB", str(db_path))
    monkeypatch.setenv("PERPS_TRACKER_RETRIES", "1")
    monkeypatch.setenv("PERPS_TRACKER_READ_TIMEOUT", "2")
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    return db_path


@pytest.fixture
def hooks(isolated):
    with WebhookReceiver() as receiver:
        (isolated / "perps_tracker.toml").write_text(
            "[webhooks]\n" + "".join(f'{kind} = "{receiver.url("/" + kind + SECRET)}"\n' for kind in KINDS))
        yield receiver


def run(runner, *args, at: datetime = NOW, monkeypatch=None):
    if monkeypatch is not None:
        monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: at)
    result = runner.invoke(cli, ["report", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def by_kind(receiver) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {k: [] for k in KINDS}
    for r in receiver.received:
        out[r.path.split("/")[1]].append(r.body)
    return out


def test_the_headline_sections_reach_each_webhook_once(runner, history, hooks, monkeypatch):
    report = json.loads(run(runner, "--json").stdout)
    result = run(runner, "--notify", "-q")
    assert result.exit_code == 0, result.stderr
    got = by_kind(hooks)
    assert {k: len(v) for k, v in got.items()} == {"discord": 1, "json": 1, "slack": 1}
    doc = got["json"][0]
    assert doc["kind"] == "report" and doc["report"] == "2026-11-22T11:00:00Z" and doc["hours"] == 24
    assert doc["delayed"] is False and doc["title"].startswith("Market report · 24 h to 2026-11-22 11:00 UTC")
    headings = [s["heading"] for s in doc["sections"]]
    assert headings[:7] == ["Headline", "Market", "Positioning", "Funding arbitrage", "Liquidations", "Anomalies",
                            "Alerts"]
    headline = " ".join(doc["sections"][0]["lines"])
    assert f"Composite score {report['headline']['composite_24h']['now']:+.3f}" in headline
    assert report["headline"]["sentiment"] in headline
    top = report["coins"]["opportunities"][0]
    assert doc["sections"][3]["lines"][0].startswith(f"{top['coin']}: short {top['short']['exchange']}, long "
                                                     f"{top['long']['exchange']}, {top['apr_pct']:.1f}% APR")
    embed = got["discord"][0]["embeds"][0]
    assert embed["title"] == doc["title"] and embed["description"].startswith("Composite score")
    assert [f["name"] for f in embed["fields"]] == headings[1:]
    slack = got["slack"][0]
    assert slack["blocks"][1]["text"]["text"].startswith("*Headline*\nComposite score")
    # Again in the same hour (a second cron line, a re-run): nothing is sent twice.
    result = run(runner, "--notify")
    assert result.exit_code == 0 and "recorded by an earlier run" in result.stderr
    assert len(hooks.received) == 3
    assert SECRET not in result.stdout + result.stderr


def test_a_failed_post_is_retried_next_run_and_received_exactly_once(runner, history, hooks, monkeypatch):
    hooks.fail_next(2, status=503)  # the first post and its one retry
    result = run(runner, "--notify", "-q")
    assert result.exit_code == 3
    assert "will retry on the next run" in result.stderr and "503" in result.stderr
    assert SECRET not in result.stdout + result.stderr and "REPORT-SECRET" not in result.stderr
    failed = hooks.attempts[0].path.split("/")[1]
    assert {k: len(v) for k, v in by_kind(hooks).items()} == {k: 0 if k == failed else 1 for k in KINDS}
    # The next run, an hour later (no new snapshot): the failed one goes out, marked delayed.
    later = datetime.fromtimestamp(NEWEST + 2 * 3600 + 42, timezone.utc)
    result = run(runner, "--notify", at=later, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.stderr
    got = by_kind(hooks)
    assert {k: len(v) for k, v in got.items()} == {"discord": 1, "json": 1, "slack": 1}
    if failed == "json":
        assert got["json"][0]["delayed"] is True
    assert "Report posted to" in result.stderr
    # and a third run sends nothing more
    assert run(runner, "--notify", at=later, monkeypatch=monkeypatch).exit_code == 0
    assert len(hooks.received) == 3


def test_recorded_before_sending_a_crash_mid_send_loses_nothing(runner, history, hooks, monkeypatch):
    """The message and its pending deliveries are in the database before the first POST: a run that
    dies while posting leaves them for the next run."""
    import perps_tracker.services.notify as notify

    def dies(*args, **kwargs):
        raise KeyboardInterrupt

    send = notify.send
    monkeypatch.setattr(notify, "send", dies)
    result = run(runner, "--notify", "-q")
    assert result.exit_code == 130 and hooks.received == []
    monkeypatch.setattr(notify, "send", send)
    later = datetime.fromtimestamp(NEWEST + 3600 + 42, timezone.utc)
    result = run(runner, "--notify", "-q", at=later, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.stderr
    assert {k: len(v) for k, v in by_kind(hooks).items()} == {"discord": 1, "json": 1, "slack": 1}


def test_notify_without_webhooks_is_one_error_line(runner, history):
    result = run(runner, "--notify", "-q")
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("Error: no webhook configured for --notify")


def test_payloads_keep_within_discord_and_slack_limits():
    long_lines = tuple("x" * 900 for _ in range(5))
    digest = Digest("T" * 400, tuple((f"Section {k}", long_lines) for k in range(30)), NEWEST, 24, NEWEST + 42)
    embed = discord_digest(digest)["embeds"][0]
    total = len(embed["title"]) + len(embed.get("description", "")) + sum(len(f["name"]) + len(f["value"])
                                                                           for f in embed["fields"])
    total += len(embed["footer"]["text"])
    assert total <= DISCORD_EMBED_MAX and len(embed["fields"]) <= 25 and len(embed["title"]) <= 256
    assert all(len(f["value"]) <= DISCORD_FIELD_MAX for f in embed["fields"]) and embed["fields"]
    slack = slack_digest(digest)
    assert len(slack["blocks"]) <= 50 and all(len(b["text"]["text"]) <= SLACK_TEXT_MAX
                                              for b in slack["blocks"] if b["type"] == "section")
    hostile = Digest("<!channel> & <b>", (("Headline", ("<@U123> spread > 5% & <x>",)),), NEWEST, 24, NEWEST)
    text = json.dumps(slack_digest(hostile))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "&amp;" in text
    assert json_digest(hostile)["sections"] == [{"heading": "Headline", "lines": ["<@U123> spread > 5% & <x>"]}]
