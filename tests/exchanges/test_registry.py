"""The venue registry: its static facts match the classes, and the database commands import no venue."""

from __future__ import annotations

import subprocess
import sys

import pytest

from perps_tracker.exchanges import EXCHANGES, VENUES, Exchange


@pytest.mark.parametrize("venue", list(VENUES))
def test_static_facts_match_the_class(venue):
    info, cls = VENUES[venue], EXCHANGES[venue]
    assert issubclass(cls, Exchange) and cls.id == info.id == venue
    assert (cls.name, cls.base_url, cls.ws_url, cls.liquidation_sources) == (
        info.name, info.base_url, info.ws_url, info.liquidation_sources)
    assert cls.env_prefix() == info.env_prefix()


def test_registry_behaves_as_a_mapping_in_registry_order():
    assert list(EXCHANGES) == list(VENUES) == ["binance", "bybit", "okx", "bitget", "gateio", "hyperliquid",
                                               "asterdex", "dydx", "deribit"]
    assert len(EXCHANGES) == 9 and "okx" in EXCHANGES and "nope" not in EXCHANGES
    assert dict(EXCHANGES.items())["okx"] is EXCHANGES["okx"]
    with pytest.raises(KeyError):
        EXCHANGES["nope"]


def test_stats_and_help_import_no_venue_module_and_no_sqlalchemy(tmp_path):
    """`stats` on a SQLite file reads it with the standard library's sqlite3: SQLAlchemy's import
    alone would cost more than the whole command."""
    db = tmp_path / "empty.db"
    subprocess.run([sys.executable, "-m", "perps_tracker", "init", "--db", str(db)], check=True, capture_output=True)
    probe = (
        "import sys\nfrom perps_tracker.cli import cli\n"
        "for args in (['--help'], ['stats', '--db', sys.argv[1]], ['stats', '--db', 'sqlite:///' + sys.argv[1]]):\n"
        "    try:\n        cli(args)\n    except SystemExit as e:\n        assert not e.code, e.code\n"
        "print(sorted(m for m in sys.modules if m.startswith(('perps_tracker.exchanges.', 'sqlalchemy', "
        "'alembic', 'numpy', 'sklearn', 'requests')) and m != 'perps_tracker.exchanges.venues'))"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(db)], check=True, capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
