"""A huge session streams: peak RSS does not grow with its size (issue 13, item 3).

The installed binary exports one session of 20,000 and one of 200,000 turns (~60 MB) in
each format; the second may use at most a few MB more than the first (a non-streaming
export needed hundreds). ``make bench`` measures the 116 MB case against the 100 MB target.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import NEUROLINK
from support.helpers import ts

from neurolink_cli.store.native import NativeStore

TIME = "/usr/bin/time"


def _seed_one(client: Any, prefix: str, sid: str, turns: int) -> None:
    store = NativeStore(client, prefix)
    body = "h\u00e9llo " * 40
    for start in range(0, turns, 10_000):
        items = [
            orjson.dumps({"index": i, "role": "user", "content": f"{i} {body}", "timestamp": ts(i)})
            for i in range(start, min(turns, start + 10_000))
        ]
        client.rpush(store.turns_key(sid), *items)
    client.hset(store.meta_key(sid), mapping={"sessionId": sid, "totalTurns": turns})
    client.zadd(store.index_key, {sid: 1})


def _peak_rss_kb(argv: list[str], env: dict[str, str], tmp: Path) -> int:
    report = tmp / "rss"
    done = subprocess.run(
        [TIME, "-f", "%M", "-o", str(report), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return int(report.read_text().split()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not os.access(TIME, os.X_OK), reason="needs /usr/bin/time")
@pytest.mark.timeout(900)
def test_export_of_a_huge_session_uses_bounded_memory(
    client: Any, env: dict[str, str], prefix: str, tmp_path: Path
) -> None:
    _seed_one(client, prefix, "small", 20_000)
    _seed_one(client, prefix, "huge", 200_000)
    base = [NEUROLINK, "memory", "export", "--session-id"]
    for fmt in ("jsonl", "json", "csv", "markdown"):
        small = _peak_rss_kb([*base, "small", "--format", fmt], env, tmp_path)
        huge = _peak_rss_kb([*base, "huge", "--format", fmt], env, tmp_path)
        assert huge - small < 8 * 1024, (fmt, small, huge)
        assert huge < 100 * 1024, (fmt, huge)
    for argv in (["--format", "jsonl"], ["--format", "csv"], ["--output", str(tmp_path / "d")]):
        rss = _peak_rss_kb([NEUROLINK, "memory", "export-all", *argv], env, tmp_path)
        assert rss < 100 * 1024, (argv, rss)
