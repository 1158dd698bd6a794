"""Issue 15 item 5: ``make demo`` says where the embedded store is once, and its final hint
is a command that works as typed (``neurolink`` is not on PATH after ``make install``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NEUROLINK

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def test_demo_notice_once_and_a_runnable_hint(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",  # no .venv/bin: neurolink is not on PATH
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "NO_COLOR": "1",
    }
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "docs" / "demo.py")],
            env=env,
            cwd=ROOT,
            capture_output=True,
            timeout=100,
        )
        assert result.returncode == 0, result.stderr.decode()
        err = result.stderr.decode()
        assert err.count("embedded store") == 1, err
        hint = result.stdout.decode().strip().splitlines()[-1]
        exe = hint.split()[1]  # "Try: .venv/bin/neurolink loop ..."
        assert exe != "neurolink" and (ROOT / exe).exists(), hint
        assert not any(
            line.startswith("$ neurolink") for line in result.stdout.decode().splitlines()
        )
    finally:  # stop the embedded store this test started
        subprocess.run(
            [NEUROLINK, "memory", "server", "stop"], env=env, capture_output=True, timeout=30
        )
