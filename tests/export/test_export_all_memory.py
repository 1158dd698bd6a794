"""export-all streams: its peak memory does not grow with the number of sessions.

No timings are asserted here; ``make bench`` measures speed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import NEUROLINK
from support.helpers import seed_sessions

TIME = "/usr/bin/time"


def _peak_rss_kb(argv: list[str], env: dict[str, str], tmp: Path) -> int:
    """The child's peak RSS as /usr/bin/time (a small process that forks it) reports it.

    wait4 on a child spawned straight from pytest would count pytest's own pages: the
    child shares them until exec, and Linux keeps that high-water mark across exec.
    """
    report = tmp / "rss"
    done = subprocess.run(
        [TIME, "-f", "%M", "-o", str(report), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return int(report.read_text().split()[-1])


@pytest.mark.e2e
@pytest.mark.skipif(not os.access(TIME, os.X_OK), reason="needs /usr/bin/time")
@pytest.mark.timeout(300)
def test_export_all_memory_does_not_grow_with_sessions(
    client: Any, env: dict[str, str], prefix: str, tmp_path: Path
) -> None:
    """Peak RSS at 4,000 sessions is within a few MB of that at 1,000 (streaming)."""
    argv = [NEUROLINK, "memory", "export-all", "--format", "jsonl"]
    seed_sessions(client, prefix, 1000, 10, 300)
    small = min(_peak_rss_kb(argv, env, tmp_path) for _ in range(2))
    seed_sessions(client, prefix, 3000, 10, 300, first=1000)
    large = min(_peak_rss_kb(argv, env, tmp_path) for _ in range(2))
    # 3,000 more sessions are ~9 MB of JSON; a non-streaming export would grow by more.
    assert large - small < 3 * 1024, (small, large)
