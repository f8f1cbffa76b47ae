"""The import graph keeps its layers (docs/architecture.md#layers): scripts/check_layers.py on the real
package, and on made-up graphs so that the check is seen to fail when it should."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check_layers.py"


@pytest.fixture(scope="module")
def layers():
    spec = importlib.util.spec_from_file_location("check_layers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_package_has_no_upward_import_and_no_circle(layers):
    edges = layers.graph()
    assert "perps_tracker.cli" in edges and "perps_tracker.model.scoring" in edges  # the graph was read
    assert layers.upward(edges) == []
    assert layers.circles(edges) == []


def test_script_exits_0_on_the_package():
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 upward, 0 circles" in result.stdout


def test_an_upward_import_is_found(layers):
    edges = {
        "perps_tracker.model.scoring": {"perps_tracker.storage.db"},  # model climbs to storage
        "perps_tracker.storage.db": {"perps_tracker.model.scoring"},
    }
    assert layers.upward(edges) == [
        "perps_tracker.model.scoring (model) imports perps_tracker.storage.db (storage)"
    ]


def test_siblings_may_not_import_each_other(layers):
    edges = {"perps_tracker.storage.snapshots": {"perps_tracker.exchanges.http"}, "perps_tracker.exchanges.http": set()}
    assert layers.upward(edges) == [
        "perps_tracker.storage.snapshots (storage) imports perps_tracker.exchanges.http (exchanges)"
    ]


def test_downward_and_same_layer_imports_pass(layers):
    edges = {
        "perps_tracker.cli": {"perps_tracker.render.output", "perps_tracker.errors"},
        "perps_tracker.render.output": {"perps_tracker.render.terminal"},
        "perps_tracker.render.terminal": set(),
        "perps_tracker.errors": set(),
    }
    assert layers.upward(edges) == []
    assert layers.circles(edges) == []


def test_a_circle_is_found(layers):
    edges = {
        "perps_tracker.model.a": {"perps_tracker.model.b"},
        "perps_tracker.model.b": {"perps_tracker.model.c"},
        "perps_tracker.model.c": {"perps_tracker.model.a"},
        "perps_tracker.model.d": {"perps_tracker.model.a"},
    }
    assert layers.circles(edges) == [["perps_tracker.model.a", "perps_tracker.model.b", "perps_tracker.model.c"]]


def test_lazy_and_relative_imports_are_read(layers, tmp_path, monkeypatch):
    package = tmp_path / "perps_tracker"
    (package / "model").mkdir(parents=True)
    (package / "storage").mkdir()
    for init in (package, package / "model", package / "storage"):
        (init / "__init__.py").write_text("")
    (package / "storage" / "db.py").write_text("")
    (package / "model" / "x.py").write_text("def f():\n    from ..storage import db\n    return db\n")
    monkeypatch.setattr(layers, "ROOT", tmp_path)
    edges = layers.graph()
    assert edges["perps_tracker.model.x"] == {"perps_tracker.storage.db"}
    assert layers.upward(edges) == ["perps_tracker.model.x (model) imports perps_tracker.storage.db (storage)"]
