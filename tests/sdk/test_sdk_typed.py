"""The public API passes ``mypy --strict`` from a user's code, through the shipped ``py.typed``.

The package is put on a throw-away interpreter's path with a ``.pth`` file, as an installed
package is (without ``py.typed`` mypy would then refuse it as untyped), and a user script
touching every public method is checked in strict mode. Nothing is run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import neurolink_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

USER_SCRIPT = """
import asyncio
from datetime import datetime

from neurolink_cli import AsyncNeuroLink, ExportReport, GenerateResult, NeuroLink, NeuroLinkError


def sync_user() -> None:
    with NeuroLink(conversation_memory={"enabled": True, "store": "redis"}) as nl:
        result: GenerateResult = nl.generate(prompt="hi", context={"sessionId": "s"})
        text: str = result.content
        total: int | None = result.usage.total_tokens
        history: list[dict[str, object]] = nl.get_conversation_history("s")
        csv: str = nl.export_conversation_history(
            "s", format="csv", include_metadata=False, start_time=datetime(2026, 1, 1)
        )
        doc: dict[str, object] = nl.get_session("s")
        rows = nl.list_sessions(user_id="u", since="7d", limit=10)
        first: str = rows[0]["sessionId"]
        for each in nl.iter_sessions(user_id="u", start_time="24h"):
            print(each["turns"])
        report: ExportReport = nl.export_all("out/", format="jsonl", start_time="7d")
        ok: bool = report.ok
        stats = nl.stats()
        print(text, total, history, csv, doc, first, ok, stats["sessions"])
        existed: bool = nl.clear_conversation_session("s")
        print(existed)
    try:
        NeuroLink().get_session("x")
    except NeuroLinkError as exc:
        code: int = exc.exit_code
        print(code)
"""


def test_public_api_passes_mypy_strict(tmp_path: Path) -> None:
    assert (Path(neurolink_cli.__file__).parent / "py.typed").is_file()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    root = Path(neurolink_cli.__file__).parent.parent
    (Path(purelib) / "neurolink-under-test.pth").write_text(f"{root}\n")
    script = tmp_path / "user.py"
    script.write_text(USER_SCRIPT)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--python-executable",
            str(python),
            "--cache-dir",
            str(tmp_path / "cache"),
            str(script),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
