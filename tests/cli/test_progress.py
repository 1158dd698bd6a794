"""export-all's progress bar: its line and clear sequence, drawn on a terminal's stderr
only, never on a pipe, and never in the data on stdout."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
from typing import Any

import pytest
from conftest import NEUROLINK
from support.helpers import seed_sessions

from neurolink_cli.cli.progress import ExportBar


def test_progress_bar_line_and_clear() -> None:
    out = io.StringIO()
    bar = ExportBar(200, out)
    bar.start -= 2.0
    bar.advance(50, 1000)
    text = out.getvalue()
    assert "50/200 sessions" in text and "turns/s" in text and "ETA 0:06" in text
    bar.clear()
    assert out.getvalue().endswith("\r\x1b[2K")


@pytest.mark.e2e
def test_no_progress_output_on_a_pipe(client: Any, env: dict[str, str], prefix: str) -> None:
    seed_sessions(client, prefix, 50, 3, 200)
    done = subprocess.run(
        [NEUROLINK, "memory", "export-all", "--format", "jsonl"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.count(b"\n") == 50
    # no progress bar; only the summary line a cron log keeps (issue 13)
    assert re.fullmatch(
        rb"neurolink: exported 50 sessions \(150 turns\) in \d+\.\d s; 0 failed\n", done.stderr
    ), done.stderr


@pytest.mark.e2e
def test_progress_bar_on_a_terminal(client: Any, env: dict[str, str], prefix: str) -> None:
    seed_sessions(client, prefix, 30, 2, 200)
    master, slave = pty.openpty()
    try:
        done = subprocess.run(
            [NEUROLINK, "memory", "export-all", "--format", "jsonl"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=slave,
            timeout=60,
        )
        os.close(slave)
        err = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(master)
    assert done.returncode == 0
    assert done.stdout.count(b"\n") == 30  # data untouched by the bar
    assert b"sessions" in err and b"\r\x1b[2K" in err
