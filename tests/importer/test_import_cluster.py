"""Import into a real 3-primary Redis Cluster: whole sessions, and a stop that says so.

Each session's two keys share a slot (the hash tag), so its MULTI/EXEC runs on one
primary; the index lives in another slot and is written right after. When one primary
reaches ``maxmemory`` the import stops with the one line, no session is half-written, and
the suggested command finishes the job once memory is freed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis as redis_py
from conftest import NEUROLINK
from support.helpers import ts
from support.redis_server import RedisClusterServers

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(primaries=3).start()
    yield servers
    servers.cleanup()


def make_docs(n: int) -> list[dict[str, Any]]:
    return [
        {
            "sessionId": f"k-{s:04d}",
            "userId": "u1",
            "createdAt": ts(s),
            "updatedAt": ts(s + 1),
            "turns": [
                {"index": i, "role": "user", "content": "y" * 300, "timestamp": ts(s + i)}
                for i in range(2)
            ],
            "metadata": {"provider": None, "model": None, "totalTurns": 2, "toolsUsed": []},
        }
        for s in range(n)
    ]


def run(cluster: RedisClusterServers, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME", "TMPDIR")}
    env.update(NO_COLOR="1", NEUROLINK_REDIS_TIMEOUT="2")
    return subprocess.run([NEUROLINK, *args], capture_output=True, text=True, env=env, timeout=120)


def whole_sessions(client: Any, prefix: str) -> dict[str, int]:
    out = {}
    for key in client.scan_iter(match=f"{prefix}:session:*:metadata", target_nodes="primaries"):
        sid = key.decode()[len(prefix) + len(":session:{") : -len("}:metadata")]
        total = int(client.hget(key, "totalTurns"))
        assert client.llen(f"{prefix}:session:{{{sid}}}:turns") == total, sid
        out[sid] = total
    return out


def test_import_into_a_cluster_stops_on_a_full_primary_and_finishes(
    cluster: RedisClusterServers, tmp_path: Path
) -> None:
    prefix = f"ci{uuid.uuid4().hex[:6]}"
    n = 900
    source = tmp_path / "all.jsonl"
    source.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in make_docs(n)))
    full = redis_py.Redis.from_url(cluster.nodes[1].url)
    used = int(full.info("memory")["used_memory"])
    full.config_set("maxmemory-policy", "noeviction")
    full.config_set("maxmemory", used + 100_000)
    try:
        args = ["--redis-url", cluster.url, "--key-prefix", prefix, "memory", "import"]
        result = run(cluster, *args, str(source))
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert "out of memory" in result.stderr and "Traceback" not in result.stderr
        m = re.search(r"import stopped: ([\d,]+) of 900 sessions imported", result.stderr)
        assert m, result.stderr
        command = shlex.split(result.stderr.split("Finish the job with: ", 1)[1])
        assert command[1:] == [*args, str(source), "--on-conflict", "skip"]
    finally:
        full.config_set("maxmemory", 0)
        full.close()
    client = redis_py.RedisCluster.from_url(cluster.url)
    done = int(m.group(1).replace(",", ""))
    assert len(whole_sessions(client, prefix)) in (done, done + 1)
    again = run(cluster, *command[1:])
    assert again.returncode == 0, again.stderr
    assert len(whole_sessions(client, prefix)) == n
    assert client.zcard(f"{prefix}:sessions") == n
    client.close()
