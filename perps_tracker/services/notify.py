"""Posting strategy alerts to webhooks: Discord, Slack and a generic JSON POST.

- Three kinds (`KINDS`): a Discord execute-webhook embed, a Slack incoming-webhook message
  with blocks, and a plain JSON document for anything else. One POST per alert per webhook.
- Delivered means any 2xx answer (Discord answers 204 with no body, Slack 200 "ok").
  Redirects are not followed: a webhook that moved answers with its 3xx status.
- Retried (up to `HttpSettings.retries` times, `backoff` doubling): HTTP 429, 5xx, timeouts
  and refused or dropped connections. A 429 (or 5xx) waits as long as `Retry-After` (or
  Discord's `{"retry_after": seconds}` body) asks, unless that is over 30 s: then it gives up.
  Other 4xx are final. Every failure is one `DeliveryError` with a short reason.
- A webhook URL is a secret: its path or query carries the token. It is never printed,
  logged or put in an error message: `Webhook` shows only its kind (`masked()` gives
  `scheme://host/***`), reasons never quote a `requests` exception (they embed the URL),
  and a 4xx body is quoted only when it holds no part of the URL's path or query. The log
  (`-v`) names each POST by `perps_tracker.config.mask_url`.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

from perps_tracker.config import mask_url
from perps_tracker.errors import TrackerError
from perps_tracker.exchanges.http import MAX_RETRY_AFTER, HttpSettings, make_session
from perps_tracker.model.times import iso, utc_minute

KINDS = ("discord", "slack", "json")
SOURCE = "perps-tracker"
COLOURS = {"long": 0x2ECC71, "short": 0xE74C3C, "neutral": 0x95A5A6}  # green, red, grey
DISCORD_TITLE_MAX = 256  # https://discord.com/developers/docs/resources/message#embed-object-embed-limits
DISCORD_DESCRIPTION_MAX = 4096
SLACK_TEXT_MAX = 3000  # a section block's text: https://api.slack.com/reference/block-kit/blocks#section
DETAIL_MAX = 120

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Webhook:
    """Where to post: a kind from `KINDS` and its URL (a secret, left out of repr and str)."""

    kind: str
    url: str = field(repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown webhook kind {self.kind!r}; expected one of {', '.join(KINDS)}")

    def masked(self) -> str:
        """`https://discord.com/***`: scheme, host and port only, never the path or query."""
        parts = urlsplit(self.url)
        host = parts.hostname or "?"
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            port = ""
        return f"{parts.scheme or '?'}://{host}{port}/***"

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True)
class Notice:
    """One alert to announce: which strategy fired, how strongly, and why."""

    strategy: str
    tier: int  # 1..3
    confidence: int  # 0..100
    direction: str | None  # "long" | "short" | "neutral" | None
    reasons: tuple[str, ...]  # plain words with numbers: "funding 0.052%/8h, top 5% of the last 30 days"
    snapshot_timestamp: int  # unix seconds: the hour bucket evaluated
    alert_time: int  # unix seconds: when the alert was raised
    delayed: bool = False  # a retry of a delivery that failed earlier


@dataclass(frozen=True)
class Digest:
    """A market report's headline sections to announce (`report --notify`)."""

    title: str
    sections: tuple[tuple[str, tuple[str, ...]], ...]  # (heading, lines): the first is the summary
    report_hour: int  # unix seconds: the newest snapshot hour the report covers
    hours: int  # its window
    made_at: int  # unix seconds: when the report was made
    delayed: bool = False  # a retry of a delivery that failed earlier


class DeliveryError(TrackerError):
    """A webhook did not take the alert. The reason never holds the URL or any part of it."""

    def __init__(self, kind: str, reason: str):
        super().__init__(f"{kind} webhook: {reason}")
        self.kind = kind
        self.reason = reason


# -- payloads ----------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _title(notice: Notice) -> str:
    return f"{notice.strategy} — {notice.direction.upper()}" if notice.direction else notice.strategy


def _lines(notice: Notice) -> list[str]:
    """The delayed note (if any) then one bullet per reason."""
    note = [f"Delayed: raised at {utc_minute(notice.alert_time)}, delivery failed earlier."] if notice.delayed else []
    return note + [f"• {reason}" for reason in notice.reasons]


def discord_payload(notice: Notice) -> dict:
    """An execute-webhook body with one embed, coloured by direction, within Discord's limits."""
    embed: dict[str, Any] = {
        "title": _cut(_title(notice), DISCORD_TITLE_MAX),
        "color": COLOURS.get(notice.direction or "neutral", COLOURS["neutral"]),
        "fields": [
            {"name": "Confidence", "value": f"{notice.confidence}/100", "inline": True},
            {"name": "Tier", "value": str(notice.tier), "inline": True},
            {"name": "Direction", "value": notice.direction or "-", "inline": True},
            {"name": "Snapshot", "value": utc_minute(notice.snapshot_timestamp), "inline": True},
        ],
        "timestamp": iso(notice.alert_time),
        "footer": {"text": SOURCE},
    }
    lines = _lines(notice)
    if lines:  # Discord rejects an empty description
        embed["description"] = _cut("\n".join(lines), DISCORD_DESCRIPTION_MAX)
    return {"username": SOURCE, "embeds": [embed]}


def _slack_escape(text: str) -> str:
    """Slack's three control characters: https://api.slack.com/reference/surfaces/formatting#escaping"""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(notice: Notice) -> dict:
    """An incoming-webhook message: a one-line fallback `text` and blocks (title, reasons, context)."""
    headline = f"{notice.strategy}: {notice.direction.upper()}" if notice.direction else notice.strategy
    tail = f"tier {notice.tier}, delayed" if notice.delayed else f"tier {notice.tier}"
    text = f"[{SOURCE}] {headline}, confidence {notice.confidence}/100 ({tail})"
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"*{_slack_escape(_title(notice))}*", SLACK_TEXT_MAX)}},
    ]
    lines = _lines(notice)
    if lines:  # a section's text must not be empty
        body = "\n".join(_slack_escape(line) for line in lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(body, SLACK_TEXT_MAX)}})
    context = f"Tier {notice.tier} · confidence {notice.confidence}/100 · snapshot {utc_minute(notice.snapshot_timestamp)}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": _slack_escape(text), "blocks": blocks}


def json_payload(notice: Notice) -> dict:
    """A flat JSON document for any other receiver; times as ISO 8601 UTC with Z."""
    return {
        "source": SOURCE,
        "strategy": notice.strategy,
        "tier": notice.tier,
        "confidence": notice.confidence,
        "direction": notice.direction,
        "reasons": list(notice.reasons),
        "snapshot": iso(notice.snapshot_timestamp),
        "alert_time": iso(notice.alert_time),
        "delayed": notice.delayed,
    }


# A digest's embed within Discord's limits: 25 fields of at most 1,024 characters, 6,000 in all
# (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
DISCORD_FIELDS_MAX = 25
DISCORD_FIELD_MAX = 1024
DISCORD_EMBED_MAX = 6000


def _bullets(lines: Sequence[str]) -> list[str]:
    return [f"• {line}" for line in lines]


def _delayed_note(digest: Digest) -> list[str]:
    return [f"Delayed: made at {utc_minute(digest.made_at)}, delivery failed earlier."] if digest.delayed else []


def discord_digest(digest: Digest) -> dict:
    """One embed: the first section as its description, each further one a field, within every limit
    (a field that no longer fits is left out with those after it)."""
    title = _cut(digest.title, DISCORD_TITLE_MAX)
    summary = digest.sections[0][1] if digest.sections else ()
    description = _cut("\n".join(_delayed_note(digest) + list(summary)), 1500)
    budget = DISCORD_EMBED_MAX - len(title) - len(description) - len(SOURCE)
    fields = []
    for name, lines in digest.sections[1:DISCORD_FIELDS_MAX + 1]:
        name = _cut(name, 256)
        room = min(DISCORD_FIELD_MAX, budget - len(name))
        if room < 20:
            break
        value = _cut("\n".join(_bullets(lines)) or "-", room)
        budget -= len(name) + len(value)
        fields.append({"name": name, "value": value, "inline": False})
    embed: dict[str, Any] = {"title": title, "color": COLOURS["neutral"], "fields": fields,
                             "timestamp": iso(digest.made_at), "footer": {"text": SOURCE}}
    if description:  # Discord rejects an empty description
        embed["description"] = description
    return {"username": SOURCE, "embeds": [embed]}


def slack_digest(digest: Digest) -> dict:
    """A fallback `text`, then the title, one section block per section, and a context line."""
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn",
                                                        "text": _cut(f"*{_slack_escape(digest.title)}*", SLACK_TEXT_MAX)}}]
    for k, (name, lines) in enumerate(digest.sections):
        body = "\n".join(_slack_escape(line) for line in (_delayed_note(digest) if k == 0 else [])
                         + (list(lines) if k == 0 else _bullets(lines)))
        text = f"*{_slack_escape(name)}*\n{body}" if body else f"*{_slack_escape(name)}*"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SLACK_TEXT_MAX)}})
    blocks = blocks[:49]  # Slack takes at most 50 blocks a message
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"{SOURCE} · made {utc_minute(digest.made_at)}"}]})
    return {"text": _slack_escape(f"[{SOURCE}] {digest.title}"), "blocks": blocks}


def json_digest(digest: Digest) -> dict:
    return {"source": SOURCE, "kind": "report", "title": digest.title, "report": iso(digest.report_hour),
            "hours": digest.hours, "made_at": iso(digest.made_at), "delayed": digest.delayed,
            "sections": [{"heading": name, "lines": list(lines)} for name, lines in digest.sections]}


_PAYLOADS: dict[str, Callable[[Notice], dict]] = {
    "discord": discord_payload,
    "slack": slack_payload,
    "json": json_payload,
}
_DIGESTS: dict[str, Callable[[Digest], dict]] = {
    "discord": discord_digest,
    "slack": slack_digest,
    "json": json_digest,
}


def payload(kind: str, message: Notice | Digest) -> dict:
    """The body to POST to a webhook of `kind`: of an alert's notice or a report's digest."""
    try:
        build = (_DIGESTS if isinstance(message, Digest) else _PAYLOADS)[kind]
    except KeyError:
        raise ValueError(f"unknown webhook kind {kind!r}; expected one of {', '.join(KINDS)}") from None
    return build(message)


# -- sending -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Transient:
    """A failed attempt worth retrying; `retry_after` is what the receiver asked us to wait."""

    reason: str
    retry_after: float | None = None


def send(webhook: Webhook, notice: Notice | Digest, http: HttpSettings, *, session: requests.Session | None = None,
         sleep: Callable[[float], None] = time.sleep) -> None:
    """POST `notice` to `webhook`, retrying 429, 5xx, timeouts and dropped connections.

    Returns once the webhook answered 2xx; raises DeliveryError (reason without the URL) otherwise.
    """
    body = payload(webhook.kind, notice)
    own = session is None
    session = session or make_session()
    try:
        attempt = 0
        while True:
            failure = _attempt(session, webhook, body, http)
            if failure is None:
                return
            wait = http.backoff * (2 ** attempt)
            if failure.retry_after is not None:
                if failure.retry_after > MAX_RETRY_AFTER:
                    raise DeliveryError(webhook.kind, f"{failure.reason}, asked to wait {failure.retry_after:g} s")
                wait = max(wait, failure.retry_after)
            if attempt >= http.retries:
                raise DeliveryError(webhook.kind, _after(failure.reason, attempt))
            log.info("%s webhook: retry %d of %d in %.1f s: %s", webhook.kind, attempt + 1, http.retries, wait,
                     failure.reason)
            sleep(wait)
            attempt += 1
    finally:
        if own:
            session.close()


def _after(reason: str, retries: int) -> str:
    if retries == 0:
        return reason
    return f"{reason} after {retries} {'retry' if retries == 1 else 'retries'}"


def _attempt(session: requests.Session, webhook: Webhook, body: dict, http: HttpSettings) -> _Transient | None:
    """One POST: None when delivered, a _Transient to retry, DeliveryError when final."""
    kind = webhook.kind
    started = time.monotonic()
    try:
        response = session.post(webhook.url, json=body, timeout=(http.connect_timeout, http.read_timeout),
                                allow_redirects=False)
    except requests.RequestException as e:
        failure = _failed(kind, e)
        log.info("%s webhook: POST %s -> %s, %d ms", kind, mask_url(webhook.url), failure.reason,
                 round((time.monotonic() - started) * 1000))
        if isinstance(failure, DeliveryError):
            raise failure from None
        return failure
    log.info("%s webhook: POST %s -> %d, %d ms", kind, mask_url(webhook.url), response.status_code,
             round((time.monotonic() - started) * 1000))
    with response:
        status = response.status_code
        if 200 <= status < 300:
            return None
        if status == 429:
            return _Transient("rate limited (HTTP 429)", _retry_after(response))
        if status >= 500:
            return _Transient(f"HTTP {status}", _retry_after(response))
        raise DeliveryError(kind, f"HTTP {status}{_detail(response, webhook.url)}")


def _failed(kind: str, error: requests.RequestException) -> _Transient | DeliveryError:
    """What a POST that got no answer means: a _Transient to retry, or a final DeliveryError. The
    reason never quotes `error`: its text names the URL."""
    if isinstance(error, requests.Timeout):
        return _Transient("timed out")
    if isinstance(error, requests.exceptions.SSLError):
        return DeliveryError(kind, "TLS handshake failed")
    if isinstance(error, requests.ConnectionError):
        return _Transient(_connection_reason(error))
    if isinstance(error, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                          requests.exceptions.InvalidSchema)):
        return DeliveryError(kind, "invalid webhook URL")
    return DeliveryError(kind, f"request failed ({type(error).__name__})")


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and every exception it wraps (urllib3 nests the socket error a few levels down)."""
    seen: set[int] = set()
    stack: list[Any] = [error]
    while stack:
        e = stack.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack.extend([e.__cause__, e.__context__, getattr(e, "reason", None), *e.args])


def _connection_reason(error: requests.ConnectionError) -> str:
    """Reason words for a failed connection, judged by exception type: never the host or URL."""
    for e in _chain(error):
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror) or type(e).__name__ == "NameResolutionError":
            return "cannot resolve host"
    return "connection failed"


def _retry_after(response: requests.Response) -> float | None:
    """Seconds to wait from `Retry-After`, else from Discord's JSON body `{"retry_after": 1.5}`."""
    values: list[Any] = [response.headers.get("Retry-After")]
    if "json" in response.headers.get("Content-Type", ""):
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            values.append(data.get("retry_after"))
    for value in values:
        try:
            return max(0.0, float(value))
        except (TypeError, ValueError):
            continue
    return None


def _secret_parts(url: str) -> list[str]:
    """The pieces of `url` that may carry its token: path segments, query names and values."""
    parts = urlsplit(url)
    pieces = [url, parts.path, parts.query]
    pieces += [unquote(segment) for segment in parts.path.split("/")]
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        pieces += [name, value]
    return [p.lower() for p in pieces if p]


def _detail(response: requests.Response, url: str) -> str:
    """`: <short text>` from a 4xx body (Discord `{"message": ...}`, Slack's plain `invalid_payload`),
    or "" when there is none, it is an HTML page, or it holds any part of the URL's path or query."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        text = data.get("message")
        text = text if isinstance(text, str) else ""
    elif data is not None:
        text = ""
    else:
        text = response.text
    text = " ".join(text.split())
    if not text or text.startswith("<"):
        return ""
    lowered = text.lower()
    if any(part in lowered for part in _secret_parts(url)):
        return ""
    return f": {_cut(text, DETAIL_MAX)}"
