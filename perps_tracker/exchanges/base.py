"""The base every venue builds on: identity, HTTP through the shared client, body checks,
a time limit, and bounded concurrency for per-symbol calls.

A venue module subclasses `Exchange`, declares its id, kind (CEX/DEX), name and default
endpoints, and implements `fetch()` from small pure `parse_*` functions that turn raw JSON
into `Market` rows; `summarize` (perps_tracker.model.market) does the sums.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Mapping, TypeVar

from perps_tracker.errors import ExchangeError, RateLimited
from perps_tracker.exchanges.parsing import venue_message
from perps_tracker.exchanges.venues import VENUES
from perps_tracker.model.market import Market, VenueSnapshot, summarize

if TYPE_CHECKING:  # the registry is imported by `--help`; requests is not needed there
    from perps_tracker.exchanges.capture import Listed, VenueCapture
    from perps_tracker.exchanges.http import Deadline, HttpClient
    from perps_tracker.exchanges.history import Download, MarketHistory
    from perps_tracker.model.history import Progress, VenueHistory

T = TypeVar("T")
R = TypeVar("R")
MAX_LISTING_ROWS = 10_000  # rows one paged listing may hold: ~20× Bybit's ~540 linear perpetuals


class Exchange(ABC):
    """A perpetual-futures venue (docs/design.md#venues-and-units)."""

    id: ClassVar[str]
    kind: ClassVar[str]  # "CEX" or "DEX"
    name: ClassVar[str]
    base_url: ClassVar[str]
    ws_url: ClassVar[str | None] = None

    # Liquidation sources (docs/design.md#cascade-risk): "ws" for `liquidations watch`, "rest" for polling.
    # `liquidations_sampled` says how a sampled feed thins events out; None: every event.
    liquidation_sources: ClassVar[tuple[str, ...]] = ()
    liquidations_sampled: ClassVar[str | None] = None

    # Venues that report errors inside HTTP 200 bodies name the code field, its success
    # values and its rate-limit values; `check` does the rest.
    error_code_field: ClassVar[str | None] = None
    ok_codes: ClassVar[tuple[str, ...]] = ()
    rate_limit_codes: ClassVar[tuple[str, ...]] = ()
    max_listing_rows: ClassVar[int] = MAX_LISTING_ROWS  # `follow_cursor` stops past this many rows

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A registered venue's name, URLs and liquidation sources come from its `VenueInfo` in
        venues.py, where they are written once (the settings and `--help` read them there)."""
        super().__init_subclass__(**kwargs)
        info = VENUES.get(cls.__dict__.get("id", ""))
        if info is not None:
            cls.name, cls.base_url, cls.ws_url = info.name, info.base_url, info.ws_url
            cls.liquidation_sources = info.liquidation_sources

    def __init__(self, client: "HttpClient", base_url: str | None = None, deadline: "Deadline | None" = None):
        self.client = client
        self.url = (base_url or self.base_url).rstrip("/")
        self.deadline = deadline
        self.notes: list[str] = []  # metrics that were unavailable, in plain words

    @classmethod
    def env_prefix(cls) -> str:
        """Prefix of this venue's environment overrides, e.g. `PERPS_TRACKER_BINANCE`."""
        return f"PERPS_TRACKER_{cls.id.upper()}"

    # -- what a venue implements ---------------------------------------------------------

    @abstractmethod
    def fetch(self) -> VenueSnapshot:
        """Fetch and parse this venue's public endpoints into a VenueSnapshot."""

    def check(self, payload: Any) -> None:
        """Raise ExchangeError for an error inside an HTTP 200 body (`error_code_field` not in `ok_codes`);
        RateLimited, which is retried, for `rate_limit_codes`."""
        if self.error_code_field is None or not isinstance(payload, dict):
            return
        code = payload.get(self.error_code_field)
        if code is None or str(code) in self.ok_codes:
            return
        message = venue_message(payload) or f"{self.error_code_field} {code}"
        if str(code) in self.rate_limit_codes:
            raise RateLimited(self.id, f"rate limited: {message}")
        raise self.error(message)

    def live_feed(self, ws_url: str, symbols: int | None = None) -> "LiveFeed":
        """The liquidation stream at `ws_url` (the configured `venues.<id>.ws_url`), for venues
        with "ws" in `liquidation_sources`. May call REST endpoints (symbol lists) first. A venue
        that subscribes per symbol reads every one (`symbols` None) or the `symbols` with the
        largest 24 h volume, over as many connections as its limits need (`LiveFeed.connections`)."""
        raise self.error("no public liquidation stream")

    def poll_liquidations(self, start_ms: int, end_ms: int, symbols: int) -> "Polled":
        """Liquidations with event time in [start_ms, end_ms] from the venue's REST history, for
        venues with "rest" in `liquidation_sources`; `symbols` caps per-symbol requests."""
        raise self.error("no public liquidation history")

    def history(self, start: int, end: int, progress: "Progress | None" = None) -> "VenueHistory":
        """Hourly history of [start, end) (Unix seconds, whole hours) from the venue's public
        history endpoints, for `backfill`; see perps_tracker.model.history. `progress(done, total)`
        is called as requests complete."""
        raise self.error("no public history endpoints")

    # `backfill --coins` (perps_tracker.exchanges.history.market_histories) asks these hooks, per market:
    history_workers: int = 4  # markets downloading history at once (the venue's pacing sets the rate)
    funding_history_settled: bool = True  # False: the funding history is sampled, not one row per settlement

    def history_download(self, progress: "Progress | None" = None) -> "Download":
        """A history download paced as the venue's `history` paces its own."""
        raise self.error("no public history endpoints")

    def market_history(self, d: "Download", market: Market, start: int, end: int) -> "MarketHistory":
        """One market's one-hour candles (open time, open, close, quote volume USD, ...) over [start, end),
        their failure failing the market, and its open interest in USD (points; [] where the venue keeps none)."""
        raise self.error("no public history endpoints")

    def market_extras(self, d: "Download", market: Market, start: int, end: int
                      ) -> dict[str, tuple[str, Callable[[], Any]]]:
        """The market's optional series as `Download.extras` calls: "mark" and "index" (open time → close),
        "funding" (settlement time → rate per 8 h), those the venue has."""
        return {}

    # `capture` (exchanges/capture.py, services/capture.py) asks these hooks:
    def capture_listing(self) -> list["Listed"]:
        """Every market `capture` may read, from the venue's instrument listing (REST): symbol, base as listed
        and base units per contract."""
        raise self.error("no real-time capture")

    def capture(self, instruments: list, channels: tuple[str, ...], depth: int) -> "VenueCapture":
        """The venue's capture protocol for these instruments (model.ticks.Instrument), channels and depth."""
        raise self.error("no real-time capture")

    def on_response(self, response) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """See every HTTP response (rate-limit headers). Default: nothing."""

    # -- helpers for venues ---------------------------------------------------------------

    def error(self, message: str) -> ExchangeError:
        return ExchangeError(self.id, message)

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
        """GET `path` on this venue: decoded JSON, checked by `check`; None for a 404 if `missing_ok`."""
        return self.client.request_json(
            self.id, "GET", self.url + path, params=params, deadline=self.deadline,
            missing_ok=missing_ok, on_response=self.on_response, check=self.check,
        )

    def post(self, path: str, body: Any) -> Any:
        """POST a JSON body to `path` on this venue."""
        return self.client.request_json(
            self.id, "POST", self.url + path, body=body, deadline=self.deadline,
            on_response=self.on_response, check=self.check,
        )

    def fetched(self, what: str, path: str, params: Mapping[str, Any] | None, parser: Callable[[Any], R], *,
                missing_ok: bool = False) -> R | None:
        """GET `path` and `parse` it as `what`; None for a 404 when `missing_ok`."""
        payload = self.get(path, params, missing_ok=missing_ok)
        return None if payload is None and missing_ok else self.parse(what, parser, payload)

    def maybe(self, what: str, path: str, params: Mapping[str, Any] | None, parser: Callable[[Any], R]) -> R | None:
        """An optional endpoint: its failure (or a 404) leaves `what` None and notes why (`optional`)."""
        return self.optional(what, lambda: self.fetched(what, path, params, parser, missing_ok=True))

    def parse(self, what: str, parser: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """`parser(*args, **kwargs)`; a payload not shaped as documented is a one-line error naming `what`."""
        try:
            return parser(*args, **kwargs)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
            raise self.error(f"unexpected {what} payload: {e}") from None

    def summarize(self, markets: list[Market], **btc_and_ratio: Any) -> VenueSnapshot:
        """Sum `markets` into this venue's snapshot (perps_tracker.model.market.summarize, which also leaves out
        absurd values). No included market at all, or none with a usable volume (a renamed field), is an
        error, not a zero."""
        if not markets:
            raise self.error("no included markets in the response")
        snapshot = summarize(self.id, self.kind, markets, **btc_and_ratio)
        if snapshot.volume_24h_usd is None:
            raise self.error("no market in the response has a 24 h volume")
        return replace(snapshot, notes=tuple(self.notes))

    def follow_cursor(self, what: str, page: Callable[[str | None], tuple[list, str | None]]) -> list:
        """Every row of a cursor-paged listing, however many pages: `page(cursor)` gives a page's rows and
        the next cursor (None on the last page), starting from None. A cursor that comes back (a loop)
        or more than `max_listing_rows` rows (an empty page counts as one) is a one-line error."""
        rows: list = []
        seen: set[str] = set()
        cursor, counted = None, 0
        while True:
            got, cursor = page(cursor)
            rows += got
            counted += max(len(got), 1)
            if cursor is None:
                return rows
            if cursor in seen:
                raise self.error(f"unexpected {what} payload: the page cursor {cursor!r} came back (a paging loop)")
            if counted > self.max_listing_rows:
                raise self.error(f"unexpected {what} payload: more than {self.max_listing_rows} rows")
            seen.add(cursor)

    def optional(self, what: str, call: Callable[[], T]) -> T | None:
        """Run `call`; if the venue fails it, note that `what` is unavailable and return None."""
        try:
            return call()
        except ExchangeError as e:
            self.notes.append(f"{what} unavailable: {e.reason}")
            return None

    def parallel(self, calls: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
        """Run independent calls at once; the first failure (in `calls` order) is raised."""
        with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix=f"{self.id}-") as pool:
            futures = {name: pool.submit(call) for name, call in calls.items()}
            return {name: future.result() for name, future in futures.items()}

    def fan_out(self, func: Callable[[T], R], items: Iterable[T], limit: int) -> list[R | ExchangeError]:
        """`func` over `items`, at most `limit` at a time; a failed item gives its ExchangeError."""

        def safe(item: T) -> R | ExchangeError:
            try:
                return func(item)
            except ExchangeError as e:
                return e

        items = list(items)
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=min(limit, len(items)), thread_name_prefix=f"{self.id}-n") as pool:
            return list(pool.map(safe, items))


@dataclass(frozen=True)
class Polled:
    """What one poll of a venue's liquidation history read: the events, what was read (the coverage
    detail: "all symbols", "top 50 instrument families by volume") and notes on what was missed."""

    events: list
    detail: str = "all symbols"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveFeed:
    """How `liquidations watch` reads one venue's liquidation stream.

    `parse(message, skipped)` turns one decoded JSON message into events: [] for
    acknowledgements and pongs; a malformed record inside it is counted with `skipped()`; a
    malformed message raises ValueError (or KeyError/TypeError); a venue's refusal (a rejected
    subscription) raises ExchangeError. `ignore` lists plain-text frames that are not JSON
    but fine (OKX answers "ping" with "pong").

    One connection sends `subscribe`. A venue whose limits do not let one connection subscribe to
    everything gives `connections` instead: the frames of each connection, all to `url`, each with
    the heartbeat. Its split must be stable: while the number of connections stays the same, a
    fresh feed (fetched again before a connection reconnects) keeps each topic on the connection
    of the same index, so a reconnecting connection never takes another one's topics.
    """

    url: str
    parse: Callable[[Any, Any], list]
    subscribe: tuple[str, ...] = ()  # text frames sent right after connecting
    heartbeat: str | None = None  # application-level ping, sent every `heartbeat_every` seconds
    heartbeat_every: float = 20.0
    ignore: frozenset[str] = frozenset()
    description: str = ""  # what the venue is read for, all connections together: "all symbols"
    connections: tuple[tuple[str, ...], ...] = ()  # several connections: each one's `subscribe`

    @property
    def sessions(self) -> tuple[tuple[str, ...], ...]:
        """The frames each connection sends after connecting: one connection unless `connections` says more."""
        return self.connections or (self.subscribe,)
