"""`serve` (registered on the `perps-tracker` group): a local, read-only dashboard over the database.

`dashboard_pages(rt, clock)` is the page function services/serve.py's server calls, path and query →
`Page`: it calls the commands' services on a database opened read-only (`rt.reader()`) and hands their
results to the HTML renderers (render/report_html.py, render/dashboard.py). It lives here, at the
command line's level, because services may not import renderers (docs/architecture.md).
"""

from __future__ import annotations

import json
from typing import Callable, Mapping

import click

from perps_tracker.cli.base import clock as cli_clock
from perps_tracker.cli.base import runtime_options

REFRESH_SECONDS = 15.0  # how often a page asks whether a new snapshot was stored
MAX_HOURS = 24 * 90  # the longest window a page shows (as `report --hours`)
EVERY_ADDRESS = ("0.0.0.0", "::", "")


def _hours(query: Mapping[str, str], default: int) -> int:
    """`?hours=` of a page: 1 … MAX_HOURS, else a 400 page."""
    raw = query.get("hours")
    if raw is None:
        return default
    try:
        hours = int(raw)
    except ValueError:
        hours = 0
    if not 1 <= hours <= MAX_HOURS:
        raise _BadRequest(f"hours must be a whole number from 1 to {MAX_HOURS}, not {raw[:40]!r}")
    return hours


class _BadRequest(Exception):
    """A query the page cannot take: answered 400 with its message."""


def dashboard_pages(rt, clock: Callable, refresh_seconds: float = REFRESH_SECONDS):
    """The dashboard's page function over `rt` (its database is only ever opened read-only)."""
    from urllib.parse import unquote

    from perps_tracker.errors import TrackerError
    from perps_tracker.services.serve import JSON, NotFound, Page, error_page

    def newest() -> tuple[str | None, dict]:
        from perps_tracker.services.dashboard import newest_snapshot

        found = newest_snapshot(rt)
        if found is None:
            return None, {"snapshot": None, "taken_at": None, "version": None}
        version = f"{found[0]}-{found[1]}"
        return version, {"snapshot": found[0], "taken_at": found[1], "version": version}

    def live(here: str):
        from perps_tracker.render.dashboard import coin_href, nav
        from perps_tracker.render.report_html import Live

        version, _ = newest()
        return Live(nav(here, rt.watchlist()), version or "", round(refresh_seconds * 1000), coin_href)

    def html(text: str) -> Page:
        return Page(text.encode("utf-8"))

    def overview(query) -> Page:
        from perps_tracker.render.dashboard import windows
        from perps_tracker.render.report_html import report_html
        from perps_tracker.services.report import build_report

        hours = _hours(query, 24)
        page_live = live("/")
        report = build_report(rt, clock(), hours)
        links = windows("/", hours, ((24, "24 h"), (168, "7 d"), (720, "30 d")))
        return html(report_html(report, page_live, links))

    def coin(name: str, query) -> Page:
        from perps_tracker.render.dashboard import coin_href, coin_page, windows
        from perps_tracker.services.markets import NO_ROWS, coin_report

        name = unquote(name).strip()
        if not name or len(name) > 40 or "/" in name:
            raise NotFound(f"no coin {name[:40]!r}")
        hours = _hours(query, 168)
        page_live = live(coin_href(name.upper()))
        try:
            report = coin_report(rt, name, clock(), hours=hours, no_fetch=True)
        except TrackerError as e:
            if str(e) == NO_ROWS:
                raise
            raise NotFound(str(e)) from None
        links = windows(coin_href(report.view.coin), hours, ((24, "24 h"), (168, "7 d"), (720, "30 d")))
        return html(coin_page(report, hours, page_live, links))

    def funding(query) -> Page:
        from perps_tracker.model.report import funding_grid
        from perps_tracker.render.dashboard import funding_page
        from perps_tracker.services.markets import funding_report

        page_live = live("/funding")
        report = funding_report(rt, clock(), no_fetch=True)
        grid = funding_grid(report.current.timestamp, report.current.rows, top=20)
        return html(funding_page(report, grid, page_live))

    def liquidations(query) -> Page:
        from perps_tracker.render.dashboard import liquidations_page, windows
        from perps_tracker.services.dashboard import liquidation_hours
        from perps_tracker.services.liquidations import LIQUIDATION_VENUES
        from perps_tracker.services.liquidations import liquidations as read_liquidations

        hours = _hours(query, 24)
        page_live = live("/liquidations")
        now = clock()
        report = read_liquidations(rt, now, hours, LIQUIDATION_VENUES, 0, fetch=False)
        points = liquidation_hours(rt, now, hours)
        links = windows("/liquidations", hours, ((24, "24 h"), (168, "7 d"), (720, "30 d")))
        return html(liquidations_page(report, points, hours, page_live, links))

    def pages(path: str, query: Mapping[str, str]) -> Page:
        try:
            if path == "/api/newest":
                return Page(json.dumps(newest()[1]).encode(), content_type=JSON)
            if path in ("/", "/index.html"):
                return overview(query)
            if path == "/funding":
                return funding(query)
            if path == "/liquidations":
                return liquidations(query)
            if path.startswith("/coin/"):
                return coin(path[len("/coin/"):], query)
        except _BadRequest as e:
            return error_page(400, "Bad request", str(e))
        raise NotFound(f"no page at {unquote(path)[:80]}")

    return pages


@click.command()
@runtime_options
@click.option("--host", default="127.0.0.1", show_default=True, metavar="ADDRESS",
              help="The address to listen on. The default is reachable from this machine only; 0.0.0.0 "
                   "exposes the dashboard to every network this machine is on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8050, show_default=True, metavar="PORT",
              help="The port (0: any free one).")
def serve(rt, host, port):
    """A local read-only dashboard over the database, in the browser.

    Pages: the overview (the HTML report, made when it is asked for), a page per coin (`coin`
    with its history as charts), funding arbitrage and liquidations. Each page reloads itself
    when a new snapshot is stored. The database is opened read-only and no venue is called;
    settings and webhook URLs are never shown. Ctrl-C or SIGTERM stops it. See docs/serve.md.

    \b
    Examples:
      perps-tracker serve     (http://127.0.0.1:8050/)
      perps-tracker serve --port 8080 --db perps.db
    """
    from perps_tracker.render.format import warn
    from perps_tracker.services.serve import open_server, run, url_of

    rt.reader()  # read-only, now: a missing or unreadable database is an error before anything listens
    server = open_server(host, port, dashboard_pages(rt, cli_clock()))
    url = url_of(server)
    click.echo(f"Serving {rt.reader().display_url} read-only at {url} (Ctrl-C to stop)")
    if host in EVERY_ADDRESS:
        warn(f"listening on every address: anyone who can reach this machine on port {server.server_address[1]} "
             "can read the dashboard")
    try:
        run(server)
    except KeyboardInterrupt:
        click.echo("Stopped.")


COMMANDS = (serve,)
