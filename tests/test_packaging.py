"""The lower bounds in setup.cfg are the versions .ci/constraints-min.txt pins, so the
minimum-versions run in .ci/run tests exactly what setup.cfg claims to support."""

from __future__ import annotations

import configparser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / ".ci" / "constraints-min.txt"


def declared() -> list[Requirement]:
    """install_requires and every extra of setup.cfg."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    sections = [cfg["options"]["install_requires"], *cfg["options.extras_require"].values()]
    return [Requirement(line) for section in sections for line in section.splitlines() if line.strip()]


def pinned() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{CONSTRAINTS.name}: {line!r} is not an exact pin"
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{CONSTRAINTS.name} pins {requirement.name} twice"
        pins[name] = Version(spec.version)
    return pins


def lower_bound(requirement: Requirement) -> Version:
    bounds = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert len(bounds) == 1, f"setup.cfg: {requirement} needs exactly one lower bound (>=)"
    return bounds[0]


def test_every_declared_dependency_has_a_lower_bound():
    for requirement in declared():
        lower_bound(requirement)


def test_constraints_pin_exactly_the_lower_bounds_of_setup_cfg():
    bounds = {canonicalize_name(r.name): lower_bound(r) for r in declared()}
    pins = pinned()
    unpinned, undeclared = sorted(set(bounds) - set(pins)), sorted(set(pins) - set(bounds))
    assert (unpinned, undeclared) == ([], []), f"not pinned in {CONSTRAINTS.name}, not declared in setup.cfg"
    differing = {name: (f">={bounds[name]}", f"=={pins[name]}") for name in bounds if pins[name] != bounds[name]}
    assert differing == {}, f"setup.cfg lower bounds and {CONSTRAINTS.name} disagree"
