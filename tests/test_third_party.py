"""THIRD_PARTY.md keeps up with what Songforge depends on (the licence claim is only as true as the list).

Not a byte-exact comparison with what scripts/third_party.py would write: transitive versions differ
between machines. What must hold everywhere: every direct runtime dependency in pyproject.toml (and
every package of the optional runtime extras), every system package scripts/setup-system.sh installs,
and the project's licence are in it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
THIRD_PARTY = (ROOT / "THIRD_PARTY.md").read_text(encoding="utf-8")
REGENERATE = "rerun `.venv/bin/python scripts/third_party.py`"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return _canonical(match.group(1))


def _listed_packages() -> set[str]:
    """First cells of the Python tables' rows (the system table's first column is an asset name)."""
    rows = re.findall(r"^\| ([^|]+?) \| [^|]+ \| [^|]+ \| (?:direct|via )", THIRD_PARTY, flags=re.MULTILINE)
    return {_canonical(name) for name in rows}


def test_every_direct_runtime_dependency_is_listed() -> None:
    wanted = [*PYPROJECT["project"]["dependencies"], *PYPROJECT["project"]["optional-dependencies"]["neural"]]
    missing = sorted({_requirement_name(r) for r in wanted} - _listed_packages())
    assert not missing, f"THIRD_PARTY.md lacks {missing}: {REGENERATE}"


def test_every_system_package_is_listed() -> None:
    setup = (ROOT / "scripts" / "setup-system.sh").read_text(encoding="utf-8")
    packages = re.findall(r"need\+=\(([a-z0-9.+-]+)\)", setup)
    assert packages, "scripts/setup-system.sh no longer lists its packages as need+=(name)"
    missing = [p for p in packages if not re.search(rf"\| [^|\n]*\b{re.escape(p)}\b[^|\n]* \|", THIRD_PARTY)]
    assert not missing, f"THIRD_PARTY.md's system table lacks {missing}: add them to scripts/third_party.py"


def test_the_project_licence_is_stated_and_shipped() -> None:
    licence = PYPROJECT["project"]["license"]
    assert licence == "GPL-3.0-or-later"
    assert f"licensed under {licence}" in THIRD_PARTY
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text
