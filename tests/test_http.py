"""The shared HTTP client: messages for connection failures and Retry-After handling."""

from __future__ import annotations

import pytest

from perps_tracker.errors import ExchangeError, RateLimited, TemporaryExchangeError
from perps_tracker.exchanges.http import Deadline, HttpClient, HttpSettings
from tests.fakes import Reply


@pytest.fixture
def no_dns(monkeypatch):
    """Every host name fails to resolve, as on a machine without network; counts the lookups
    (and keeps the test from asking a real resolver)."""
    import socket

    lookups = []

    def fail(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    return lookups


def test_unresolvable_host_is_named_and_not_retried(no_dns):
    # Issue 12 item 6: DNS failures were retried three times, so an offline first run sat silent.
    client = HttpClient(HttpSettings(retries=3, backoff=5.0), sleep=lambda s: pytest.fail("slept"))
    with pytest.raises(ExchangeError) as err:
        client.request_json("binance", "GET", "http://no-such-host.invalid/fapi/v1/exchangeInfo")
    assert str(err.value) == "binance: cannot resolve host no-such-host.invalid at /fapi/v1/exchangeInfo"
    assert not isinstance(err.value, TemporaryExchangeError) and no_dns == ["no-such-host.invalid"]


def test_retry_after_is_honoured_and_bounded(fake):
    waits = []
    client = HttpClient(HttpSettings(retries=2, backoff=0.01), sleep=waits.append)
    fake.add("binance", "/x", Reply({"msg": "slow down"}, status=429, headers={"Retry-After": "3"}))
    with pytest.raises(RateLimited):
        client.request_json("binance", "GET", fake.url("binance") + "/x")
    assert waits == [3.0, 3.0]  # Retry-After beats the 0.01 s / 0.02 s backoff
    waits.clear()
    fake.add("binance", "/y", Reply({"msg": "banned"}, status=429, headers={"Retry-After": "600"}))
    with pytest.raises(RateLimited):
        client.request_json("binance", "GET", fake.url("binance") + "/y")
    assert waits == [] and fake.count("binance", "/y") == 1  # too long to wait for: reported at once


def test_no_retry_sleep_past_the_deadline(fake):
    waits = []
    client = HttpClient(HttpSettings(retries=3, backoff=5.0), sleep=waits.append)
    fake.add("okx", "/z", Reply({"msg": "down"}, status=503))
    with pytest.raises(TemporaryExchangeError):
        client.request_json("okx", "GET", fake.url("okx") + "/z", deadline=Deadline(1.0))
    assert waits == [] and fake.count("okx", "/z") == 1


def test_expired_deadline_sends_nothing(fake):
    client = HttpClient(HttpSettings())
    with pytest.raises(ExchangeError, match=r"^dydx: gave up after 0 s \(venue time limit\) at /dydx/v4/x$"):
        client.request_json("dydx", "GET", fake.url("dydx") + "/v4/x", deadline=Deadline(0))
    assert fake.requests == []


def test_a_rate_limit_code_in_an_http_400_body_is_retried(fake):
    # Deribit answers JSON-RPC errors with HTTP 400, its too_many_requests (10028) among them
    def check(payload):
        if payload.get("error", {}).get("code") == 10028:
            raise RateLimited("deribit", "rate limited: too_many_requests (code 10028)")
        if "error" in payload:
            raise ExchangeError("deribit", "Invalid params (code -32602)")

    waits = []
    client = HttpClient(HttpSettings(retries=2, backoff=0.01), sleep=waits.append)
    busy = {"jsonrpc": "2.0", "error": {"code": 10028, "message": "too_many_requests"}}
    fake.add("deribit", "/busy", Reply(busy, status=400))
    with pytest.raises(RateLimited) as err:
        client.request_json("deribit", "GET", fake.url("deribit") + "/busy", check=check)
    assert str(err.value) == "deribit: rate limited: too_many_requests (code 10028) (HTTP 400) at /deribit/busy"
    assert waits == [0.01, 0.02] and fake.count("deribit", "/busy") == 3
    # any other error object in a 400 is the plain, unretried HTTP 400 line, its message read from the object
    fake.add("deribit", "/bad", Reply({"jsonrpc": "2.0", "error": {"code": -32602, "message": "Invalid params"}},
                                      status=400))
    with pytest.raises(ExchangeError) as err:
        client.request_json("deribit", "GET", fake.url("deribit") + "/bad", check=check)
    assert not isinstance(err.value, TemporaryExchangeError)
    assert str(err.value) == "deribit: HTTP 400 at /deribit/bad: Invalid params (code -32602)"
    assert fake.count("deribit", "/bad") == 1
