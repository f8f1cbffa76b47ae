"""Every command has help text with an example and is documented (sqlite-utils test_docs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from perps_tracker.cli import cli
from perps_tracker.config import OPTIONS

ROOT = Path(__file__).resolve().parents[1]
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_has_help_with_example(runner, name):
    result = runner.invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output, f"`{name} --help` shows no example"
    assert cli.commands[name].help and len(cli.commands[name].help.strip()) > 20


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_is_documented(name):
    assert f"perps-tracker {name}" in DOCS, f"`perps-tracker {name}` is not in README.md or docs/"


@pytest.mark.parametrize("key", sorted(OPTIONS))
def test_every_setting_is_documented(key):
    option = OPTIONS[key]
    config_doc = (ROOT / "docs" / "configuration.md").read_text()
    if key.startswith("venues."):
        assert option.env in config_doc or "PERPS_TRACKER_<VENUE>_" in config_doc
    else:
        assert f"`{key}`" in config_doc and (option.env is None or option.env in config_doc)


def test_every_column_is_documented():
    from perps_tracker.storage.models import Base

    doc = (ROOT / "docs" / "database.md").read_text()
    for table in Base.metadata.sorted_tables:
        assert f"`{table.name}`" in doc
        for column in table.columns:
            assert f"`{column.name}`" in doc, f"{table.name}.{column.name} is not in docs/database.md"


def test_every_venue_is_documented():
    from perps_tracker.exchanges import EXCHANGES

    doc = (ROOT / "docs" / "venues.md").read_text()
    for venue in EXCHANGES:
        assert f"\n## {venue}\n" in doc, f"docs/venues.md has no section for {venue}"


def test_docs_links_resolve():
    import re

    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+\.md)\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links to missing {target}"
