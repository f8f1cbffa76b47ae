"""The history downloads' shared plumbing: Pacer (token bucket), Tally (progress) and SafeSkips.

The venues' own numbers are used as examples; each venue's test checks that its numbers stay under
its venue's limit."""

from __future__ import annotations

import threading

import pytest
from pytest import approx

from perps_tracker.exchanges.pacing import Pacer, SafeSkips, Tally


class Clock:
    """A fake monotonic clock whose `sleep` moves it on and records the sleeps."""

    def __init__(self, now: float = 0.0):
        self.now, self.slept = now, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def paced(rate, burst=1.0, now=0.0):
    clock = Clock(now)
    return Pacer(rate, burst, clock=clock, sleep=clock.sleep), clock


# -- Pacer -------------------------------------------------------------------------------------------


def test_a_burst_of_one_spaces_requests_one_over_the_rate_apart():
    pacer, clock = paced(10.0)  # Bitget's and Gate's pace is 15 a second the same way
    for _ in range(4):
        pacer.take()
    assert clock.slept == approx([0.1, 0.1, 0.1])


def test_threads_asking_at_once_are_booked_one_after_another():
    slept = []
    pacer = Pacer(50.0, clock=lambda: 100.0, sleep=slept.append)  # Bybit's 50 a second; the clock stands still
    for _ in range(4):
        pacer.take()
    assert slept == [approx(0.02), approx(0.04), approx(0.06)]


def test_the_burst_goes_at_once_then_requests_are_spaced():
    pacer, clock = paced(3.0, 2.0, now=1000.0)
    assert [pacer.take() for _ in range(5)] == [0, 0, approx(1 / 3), approx(1 / 3), approx(1 / 3)]
    clock.now += 10  # idle: the bucket refills to its burst, not beyond
    assert [pacer.take() for _ in range(3)] == [0, 0, approx(1 / 3)]
    assert pacer.take(6) == approx(2.0)  # a costly request waits for its whole weight


def test_a_rate_per_minute_is_its_sixtieth_a_second():
    pacer, clock = paced(300 / 60, 10)  # dYdX: 300 a minute, a burst of 10
    for _ in range(10 + 50):
        pacer.take()
    assert clock.now == approx(10.0)  # 5 a second after the burst


def test_weight_stays_under_the_budget_and_charged_weight_delays_the_next_request():
    pacer, clock = paced(1000 / 60, 100)  # Hyperliquid: 1000 weight a minute, a burst of 100
    for _ in range(5):
        pacer.take(20)  # the burst
    assert clock.now == 0.0
    for _ in range(50):
        pacer.take(20)
    assert clock.now == approx(50 * 20 / 1000 * 60)  # 60 s for 1000 weight after the burst
    pacer.charge(13)  # a large response's extra weight: booked, not slept
    assert clock.slept[-1] == approx(20 / 1000 * 60)
    before = clock.now
    pacer.take(20)
    assert clock.now - before == approx(33 / 1000 * 60)
    pacer.charge(0)  # nothing to book
    clock.now += 60
    assert pacer.take(20) == 0


@pytest.mark.parametrize("rate", [None, 0, 0.0, -1.0])
def test_no_rate_means_no_pacing(rate):
    pacer, clock = paced(rate)
    for _ in range(100):
        assert pacer.take(5) == 0
    pacer.charge(1000)
    assert pacer.take() == 0 and clock.slept == []


def test_a_pacer_is_shared_by_threads():
    slept: list[float] = []
    pacer = Pacer(100.0, clock=lambda: 0.0, sleep=slept.append)  # the clock stands still
    threads = [threading.Thread(target=lambda: [pacer.take() for _ in range(25)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 100 requests at one instant: each booked once, one after another, the last 99 / 100 s out
    assert sorted(slept) == approx([i / 100 for i in range(1, 100)])


# -- Tally -------------------------------------------------------------------------------------------


def test_tally_reports_each_finished_request_against_the_plan():
    reports = []
    tally = Tally(lambda done, total: reports.append((done, total)))
    tally.plan()
    tally.finished()
    tally.plan(3)
    tally.finished()
    tally.finished()
    assert reports == [(1, 1), (2, 4), (3, 4)]
    assert (tally.done, tally.total) == (3, 4)


def test_tally_grows_past_its_plan():
    reports = []
    tally = Tally(lambda done, total: reports.append((done, total)))
    tally.plan(1)
    tally.finished()
    tally.finished()  # an unplanned page
    assert reports == [(1, 1), (2, 2)]


def test_a_smaller_plan_never_drops_below_the_requests_done():
    tally = Tally(None)
    tally.plan(10)
    for _ in range(4):
        tally.finished()
    tally.plan(-3)  # requests that will not be sent after all
    assert (tally.done, tally.total) == (4, 7)
    tally.plan(-100)
    assert (tally.done, tally.total) == (4, 4)


def test_settle_drops_requests_planned_but_not_sent():
    reports = []
    tally = Tally(lambda done, total: reports.append((done, total)))
    tally.plan(5)
    tally.finished()
    tally.settle()
    assert reports == [(1, 5), (1, 1)] and tally.total == 1
    tally.settle()  # nothing left to drop: no report
    assert reports == [(1, 5), (1, 1)]


def test_tally_without_progress_still_counts():
    tally = Tally()
    tally.plan(2)
    tally.finished()
    tally.settle()
    assert (tally.done, tally.total) == (1, 1)


def test_tally_counts_and_reports_in_order_across_threads():
    reports = []
    tally = Tally(lambda done, total: reports.append(done))
    tally.plan(400)
    threads = [threading.Thread(target=lambda: [tally.finished() for _ in range(100)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (tally.done, tally.total) == (400, 400)
    assert reports == list(range(1, 401))


# -- SafeSkips -----------------------------------------------------------------------------------------


def test_safe_skips_count_across_threads():
    skipped = SafeSkips()
    threads = [threading.Thread(target=lambda: [skipped() for _ in range(1000)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    skipped(5)
    assert skipped.count == 4005
