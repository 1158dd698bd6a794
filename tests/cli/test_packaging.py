"""Packaging: ``python -m neurolink_cli`` works, dependencies are declared with compatible ranges.

``pip install .`` / ``pipx install .`` need every runtime import to be a declared
dependency, each pinned to a range that excludes the next major version, and the console
script to point at a real function. Building a wheel needs the ``wheel`` package (and,
with build isolation, the network), so that test runs only where ``wheel`` is installed.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from neurolink_cli import __version__

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
REQ = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> dict[str, str]:
    """Runtime dependencies: normalised name -> version specifier."""
    out = {}
    for req in PROJECT["dependencies"]:
        m = REQ.match(req.strip())
        assert m, req
        out[_norm(m.group(1))] = m.group(3)
    return out


@pytest.mark.e2e
def test_python_m_runs_the_cli() -> None:
    for args in (["--help"], ["memory", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "neurolink_cli", *args],
            capture_output=True,
            timeout=60,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    for cmd in ("list", "export", "export-all", "delete", "import", "stats"):
        assert cmd in out


def test_every_runtime_dependency_has_a_compatible_range() -> None:
    for name, spec in declared().items():
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        assert any(p.startswith(">=") for p in parts), f"{name}: no lower bound ({spec!r})"
        assert any(p.startswith("<") and not p.startswith("<=") for p in parts), (
            f"{name}: no upper bound excluding the next major version ({spec!r})"
        )
    assert PROJECT["requires-python"].startswith(">=3.11")


def _third_party_imports() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "neurolink_cli").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "neurolink_cli"}


def test_every_runtime_import_is_a_declared_dependency() -> None:
    dists = importlib.metadata.packages_distributions()
    names = set(declared())
    for module in sorted(_third_party_imports()):
        owners = {_norm(d) for d in dists.get(module, [])}
        assert owners & names, f"neurolink_cli imports {module!r} but pyproject does not declare it"


def test_installed_metadata_matches_the_code() -> None:
    assert importlib.metadata.version(PROJECT["name"]) == __version__ == PROJECT["version"]
    target = PROJECT["scripts"]["neurolink"]
    module, func = target.split(":")
    assert callable(getattr(importlib.import_module(module), func))
    readme = PROJECT.get("readme")
    if readme:
        assert (ROOT / readme).is_file(), f"pyproject names {readme} but it does not exist"


@pytest.mark.e2e
def test_console_script_runs(neurolink_bin) -> None:
    result = neurolink_bin("--help")
    assert result.returncode == 0 and b"memory" in result.stdout


def test_wheel_contains_the_package_and_the_script(tmp_path) -> None:
    pytest.importorskip("wheel", reason="building a wheel offline needs the 'wheel' package")
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__", "build"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
         str(tmp_path / "dist"), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "neurolink_cli/py.typed" in names and "neurolink_cli/__main__.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "neurolink = neurolink_cli.__main__:main" in text


def test_license_is_an_spdx_string() -> None:
    """A TOML table there makes setuptools print a deprecation banner on every install
    (issue 15 item 5); the SPDX string needs setuptools 77."""
    assert PROJECT["license"] == "MIT"
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]
