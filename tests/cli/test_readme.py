"""The README's command reference is the code's real --help (regenerate: make docs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_help_matches_the_code() -> None:
    check = subprocess.run([sys.executable, str(ROOT / "docs" / "readme_help.py"), "--check"])
    assert check.returncode == 0, "README.md's command reference is stale: run make docs"
