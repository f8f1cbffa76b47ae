"""Webhook notifications: payload shapes, delivery, retries, and that the URL never leaks."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import traceback

import pytest
import requests

from perps_tracker.errors import TrackerError
from perps_tracker.exchanges.http import USER_AGENT, HttpSettings
from perps_tracker.services.notify import (
    COLOURS,
    KINDS,
    DeliveryError,
    Notice,
    Webhook,
    _connection_reason,
    discord_payload,
    json_payload,
    payload,
    send,
    slack_payload,
)
from tests.fakes import closed_port_url
from tests.fakes.webhooks import WebhookReceiver

SECRET = "SECRET-TOKEN"
HOOK_PATH = f"/api/webhooks/123/{SECRET}"
FAST = HttpSettings(connect_timeout=0.5, read_timeout=0.5, retries=2, backoff=0.25)
SNAPSHOT = 1795345200  # 2026-11-22 11:00:00 UTC
RAISED = 1795345397  # 2026-11-22 11:03:17 UTC

NOTICE = Notice(
    strategy="Momentum Breakout",
    tier=1,
    confidence=72,
    direction="long",
    reasons=("price +4.1% in 4 h", "open interest +12% in 4 h"),
    snapshot_timestamp=SNAPSHOT,
    alert_time=RAISED,
)


@pytest.fixture
def receiver():
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def sleeps():
    return []


def hook(receiver: WebhookReceiver, kind: str = "discord") -> Webhook:
    return Webhook(kind, receiver.url(HOOK_PATH))


def failing(webhook: Webhook, sleeps: list, settings: HttpSettings = FAST) -> DeliveryError:
    """The DeliveryError `send` raises, checked for any trace of the URL's secret parts."""
    with pytest.raises(DeliveryError) as info:
        send(webhook, NOTICE, settings, sleep=sleeps.append)
    error = info.value
    shown = [str(error), repr(error), error.reason, repr(webhook), str(webhook),
             "".join(traceback.format_exception(error))]
    for text in shown:
        assert SECRET not in text and "/api/webhooks" not in text and webhook.url not in text
    assert error.kind == webhook.kind and isinstance(error, TrackerError)
    return error


# -- payloads ----------------------------------------------------------------------------


def test_discord_payload_shape():
    assert discord_payload(NOTICE) == {
        "username": "perps-tracker",
        "embeds": [{
            "title": "Momentum Breakout — LONG",
            "description": "• price +4.1% in 4 h\n• open interest +12% in 4 h",
            "color": 0x2ECC71,
            "fields": [
                {"name": "Confidence", "value": "72/100", "inline": True},
                {"name": "Tier", "value": "1", "inline": True},
                {"name": "Direction", "value": "long", "inline": True},
                {"name": "Snapshot", "value": "2026-11-22 11:00 UTC", "inline": True},
            ],
            "timestamp": "2026-11-22T11:03:17Z",
            "footer": {"text": "perps-tracker"},
        }],
    }


@pytest.mark.parametrize("direction, colour, shown", [
    ("long", 0x2ECC71, "long"), ("short", 0xE74C3C, "short"), ("neutral", 0x95A5A6, "neutral"), (None, 0x95A5A6, "-"),
])
def test_discord_colour_and_direction(direction, colour, shown):
    embed = discord_payload(dataclasses.replace(NOTICE, direction=direction))["embeds"][0]
    assert embed["color"] == colour == COLOURS.get(direction or "neutral")
    assert embed["fields"][2]["value"] == shown
    assert embed["title"] == ("Momentum Breakout" if direction is None else f"Momentum Breakout — {direction.upper()}")


def test_discord_limits_are_respected():
    notice = dataclasses.replace(NOTICE, strategy="S" * 300, reasons=("x" * 1000,) * 6)
    embed = discord_payload(notice)["embeds"][0]
    assert len(embed["title"]) == 256 and embed["title"].endswith("…")
    assert len(embed["description"]) == 4096 and embed["description"].endswith("…")
    assert "description" not in discord_payload(dataclasses.replace(NOTICE, reasons=()))["embeds"][0]


def test_slack_payload_shape():
    body = slack_payload(NOTICE)
    assert body["text"] == "[perps-tracker] Momentum Breakout: LONG, confidence 72/100 (tier 1)"
    title, reasons, context = body["blocks"]
    assert title == {"type": "section", "text": {"type": "mrkdwn", "text": "*Momentum Breakout — LONG*"}}
    assert reasons == {"type": "section",
                       "text": {"type": "mrkdwn", "text": "• price +4.1% in 4 h\n• open interest +12% in 4 h"}}
    assert context["type"] == "context"
    assert context["elements"][0]["text"] == "Tier 1 · confidence 72/100 · snapshot 2026-11-22 11:00 UTC"


def test_slack_escapes_control_characters():
    notice = dataclasses.replace(NOTICE, strategy="Squeeze <fast> & loud", reasons=("OI < 5% & funding > 0.01%",))
    body = slack_payload(notice)
    assert body["text"].startswith("[perps-tracker] Squeeze &lt;fast&gt; &amp; loud: LONG")
    assert body["blocks"][0]["text"]["text"] == "*Squeeze &lt;fast&gt; &amp; loud — LONG*"
    assert body["blocks"][1]["text"]["text"] == "• OI &lt; 5% &amp; funding &gt; 0.01%"


def test_json_payload_shape():
    assert json_payload(dataclasses.replace(NOTICE, direction=None)) == {
        "source": "perps-tracker",
        "strategy": "Momentum Breakout",
        "tier": 1,
        "confidence": 72,
        "direction": None,
        "reasons": ["price +4.1% in 4 h", "open interest +12% in 4 h"],
        "snapshot": "2026-11-22T11:00:00Z",
        "alert_time": "2026-11-22T11:03:17Z",
        "delayed": False,
    }


def test_delayed_note():
    late = dataclasses.replace(NOTICE, delayed=True)
    note = "Delayed: raised at 2026-11-22 11:03 UTC, delivery failed earlier."
    assert discord_payload(late)["embeds"][0]["description"] == note + "\n• price +4.1% in 4 h\n• open interest +12% in 4 h"
    slack = slack_payload(late)
    assert slack["blocks"][1]["text"]["text"].startswith(note + "\n• price")
    assert slack["text"].endswith("(tier 1, delayed)")
    assert json_payload(late)["delayed"] is True
    assert "Delayed" not in discord_payload(NOTICE)["embeds"][0]["description"]


def test_payload_dispatches_by_kind():
    assert payload("discord", NOTICE) == discord_payload(NOTICE)
    assert payload("slack", NOTICE) == slack_payload(NOTICE)
    assert payload("json", NOTICE) == json_payload(NOTICE)
    with pytest.raises(ValueError):
        payload("teams", NOTICE)


# -- the webhook -------------------------------------------------------------------------


def test_webhook_hides_its_url():
    webhook = Webhook("discord", f"https://discord.com{HOOK_PATH}?wait=true")
    assert webhook.masked() == "https://discord.com/***"
    assert str(webhook) == "discord"
    assert repr(webhook) == "Webhook(kind='discord')"
    assert Webhook("json", f"http://user:pw@127.0.0.1:8080{HOOK_PATH}").masked() == "http://127.0.0.1:8080/***"
    assert Webhook("slack", "https://[::1]:9000/services/T/B/X").masked() == "https://[::1]:9000/***"
    with pytest.raises(ValueError):
        Webhook("teams", "https://example.com/hook")


# -- delivery ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_posted_as_json(receiver, kind, sleeps):
    send(hook(receiver, kind), NOTICE, FAST, sleep=sleeps.append)
    [got] = receiver.received
    assert got.path == HOOK_PATH
    assert got.body == payload(kind, NOTICE)
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"] == USER_AGENT
    assert sleeps == []


@pytest.mark.parametrize("status", [200, 201, 204])
def test_any_2xx_is_delivered(receiver, status):
    receiver.status = status
    send(hook(receiver, "slack"), NOTICE, FAST)
    assert len(receiver.received) == 1 and len(receiver.attempts) == 1


def test_a_given_session_is_used_and_left_open(receiver):
    with requests.Session() as session:
        send(hook(receiver), NOTICE, FAST, session=session)
        send(hook(receiver), NOTICE, FAST, session=session)
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["User-Agent"] != USER_AGENT  # ours, not make_session()'s


def test_server_error_then_success_is_delivered_once(receiver, sleeps):
    receiver.fail_next(2, 500, "upstream broke")
    send(hook(receiver), NOTICE, FAST, sleep=sleeps.append)
    assert len(receiver.attempts) == 3 and len(receiver.received) == 1
    assert sleeps == [0.25, 0.5]  # backoff doubling


def test_server_errors_past_the_retries(receiver, sleeps):
    receiver.fail_next(5, 503)
    error = failing(hook(receiver), sleeps)
    assert str(error) == "discord webhook: HTTP 503 after 2 retries"
    assert len(receiver.attempts) == 3 and receiver.received == []


def test_not_found_is_not_retried(receiver, sleeps):
    receiver.fail_next(1, 404, '{"message": "Unknown Webhook", "code": 10015}')
    error = failing(hook(receiver), sleeps)
    assert str(error) == "discord webhook: HTTP 404: Unknown Webhook"
    assert len(receiver.attempts) == 1 and sleeps == []


def test_slack_plain_text_error_is_quoted(receiver, sleeps):
    receiver.fail_next(1, 400, "invalid_payload")
    assert str(failing(hook(receiver, "slack"), sleeps)) == "slack webhook: HTTP 400: invalid_payload"


@pytest.mark.parametrize("body", [
    f'{{"message": "Invalid Webhook Token {SECRET}"}}',
    f"no such hook: {HOOK_PATH}",
    "<html><body>Forbidden</body></html>",
    "",
])
def test_error_body_holding_the_url_is_not_quoted(receiver, sleeps, body):
    receiver.fail_next(1, 403, body)
    assert failing(hook(receiver, "json"), sleeps).reason == "HTTP 403"


def test_long_error_body_is_shortened(receiver, sleeps):
    receiver.fail_next(1, 400, "bad  \n  thing " * 40)
    reason = failing(hook(receiver, "slack"), sleeps).reason
    assert reason.startswith("HTTP 400: bad thing bad thing") and len(reason) == len("HTTP 400: ") + 120


def test_redirect_is_not_followed(receiver, sleeps):
    receiver.fail_next(1, 301, headers={"Location": "/elsewhere"})
    assert failing(hook(receiver), sleeps).reason == "HTTP 301"
    assert len(receiver.attempts) == 1


def test_rate_limit_honours_retry_after(receiver, sleeps):
    receiver.fail_next(1, 429, headers={"Retry-After": "2"})
    send(hook(receiver), NOTICE, FAST, sleep=sleeps.append)
    assert sleeps == [2.0] and len(receiver.received) == 1


def test_rate_limit_honours_discord_body(receiver, sleeps):
    receiver.fail_next(1, 429, '{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}')
    receiver.fail_next(1, 429, '{"retry_after": 0.01}')  # shorter than the backoff: backoff wins
    send(hook(receiver), NOTICE, FAST, sleep=sleeps.append)
    assert sleeps == [1.5, 0.5] and len(receiver.received) == 1


def test_rate_limit_asking_too_long_gives_up(receiver, sleeps):
    receiver.fail_next(1, 429, headers={"Retry-After": "120"})
    error = failing(hook(receiver), sleeps)
    assert str(error) == "discord webhook: rate limited (HTTP 429), asked to wait 120 s"
    assert sleeps == [] and len(receiver.attempts) == 1


def test_rate_limit_past_the_retries(receiver, sleeps):
    receiver.fail_next(5, 429, headers={"Retry-After": "1"})
    error = failing(hook(receiver, "slack"), sleeps, dataclasses.replace(FAST, retries=1))
    assert error.reason == "rate limited (HTTP 429) after 1 retry" and sleeps == [1.0]


def test_connection_refused(sleeps):
    webhook = Webhook("discord", closed_port_url() + HOOK_PATH)
    error = failing(webhook, sleeps)
    assert str(error) == "discord webhook: connection refused after 2 retries"
    assert sleeps == [0.25, 0.5]


def test_timeout(sleeps):
    settings = HttpSettings(connect_timeout=0.5, read_timeout=0.1, retries=1, backoff=0)
    with WebhookReceiver(delay=0.4) as slow:
        error = failing(hook(slow, "json"), sleeps, settings)
        assert len(slow.attempts) == 2
    assert str(error) == "json webhook: timed out after 1 retry"
    no_retry = failing(Webhook("json", closed_port_url() + HOOK_PATH), [], dataclasses.replace(settings, retries=0))
    assert no_retry.reason == "connection refused"


def test_invalid_url_is_not_quoted(sleeps):
    assert failing(Webhook("json", f"ftp://example.invalid{HOOK_PATH}"), sleeps).reason == "invalid webhook URL"


def test_connection_reasons_leave_the_host_out():
    import socket

    from urllib3.exceptions import MaxRetryError, NameResolutionError

    url = f"https://hooks.example.invalid{HOOK_PATH}"
    resolve = NameResolutionError("hooks.example.invalid", None, socket.gaierror(-2, "Name or service not known"))
    error = requests.ConnectionError(MaxRetryError(None, HOOK_PATH, resolve))
    assert _connection_reason(error) == "cannot resolve host"
    assert _connection_reason(requests.ConnectionError(f"reset by peer at {url}")) == "connection failed"


def test_import_stays_light():
    code = ("import sys, perps_tracker.services.notify; "
            "print(sorted(m for m in ('sqlalchemy', 'rich', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
