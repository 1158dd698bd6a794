"""The same commands against a real 3-primary Redis Cluster, with no extra setting.

One cluster per module (three ``redis-server --cluster-enabled yes`` on free ports whose bus
port is free too, joined by ``redis-cli --cluster create``; ~2 s), torn down at the end.
Each test writes under its own key prefix, so sessions spread over all three primaries.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import NEUROLINK
from support.redis_server import RedisClusterServers

from neurolink_cli.config import load_settings
from neurolink_cli.models import make_turn
from neurolink_cli.store.connection import is_cluster, make_client
from neurolink_cli.store.native import NativeStore

SESSIONS = [f"s{i:02d}" for i in range(24)] + ["team/a:1", "ünï-çødé"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(primaries=3).start()
    yield servers
    servers.cleanup()


@pytest.fixture
def prefix() -> str:
    return f"c{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cclient(cluster: RedisClusterServers) -> Iterator[Any]:
    client = make_client(load_settings({"redis_url": cluster.url}, env={}, file_values={}))
    yield client
    client.close()


@pytest.fixture
def seeded(cclient: Any, prefix: str) -> NativeStore:
    store = NativeStore(cclient, prefix)
    for n, sid in enumerate(SESSIONS):
        for i in range(3):
            ts = f"2026-03-01T00:{n:02d}:{i:02d}.000Z"
            role = "user" if i % 2 == 0 else "assistant"
            store.append_turn(sid, make_turn(role, f"{sid} #{i}", ts), user_id=f"u{n % 3}")
    return store


def run(cluster: RedisClusterServers, prefix: str, *args: str, cwd: Path | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME", "TMPDIR")}
    env.update(REDIS_URL=cluster.url, NEUROLINK_KEY_PREFIX=prefix, NO_COLOR="1")
    return subprocess.run(
        [NEUROLINK, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


def _keys_per_node(cclient: Any, prefix: str) -> list[int]:
    return [
        sum(1 for _ in cclient.scan_iter(match=f"{prefix}:*", target_nodes=node))
        for node in cclient.get_primaries()
    ]


@pytest.mark.cluster
def test_cluster_is_detected_and_keys_are_placed_by_slot(cclient, seeded, prefix) -> None:
    assert is_cluster(cclient)
    assert len(cclient.get_primaries()) == 3
    for sid in SESSIONS:
        assert cclient.keyslot(seeded.turns_key(sid)) == cclient.keyslot(seeded.meta_key(sid))
    per_node = _keys_per_node(cclient, prefix)
    assert sum(per_node) == 2 * len(SESSIONS) + 1
    assert all(n > 0 for n in per_node), per_node  # sessions really spread over every primary


@pytest.mark.cluster
@pytest.mark.e2e
def test_list_and_export(cluster, seeded, prefix) -> None:
    listed = run(cluster, prefix, "memory", "list", "--limit", "0", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(r["sessionId"] for r in orjson.loads(listed.stdout)) == sorted(SESSIONS)
    one = run(cluster, prefix, "memory", "export", "--session-id", "team/a:1")
    assert one.returncode == 0, one.stderr
    doc = orjson.loads(one.stdout)
    assert [t["index"] for t in doc["turns"]] == [0, 1, 2]
    assert doc["metadata"]["totalTurns"] == 3


@pytest.mark.cluster
@pytest.mark.e2e
@pytest.mark.parametrize("full_scan", [False, True])
def test_export_all_to_stdout(cluster, seeded, prefix, full_scan: bool) -> None:
    args = ["memory", "export-all", *(["--full-scan"] if full_scan else [])]
    result = run(cluster, prefix, *args)
    assert result.returncode == 0, result.stderr
    docs = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert sorted(d["sessionId"] for d in docs) == sorted(SESSIONS)
    assert all(len(d["turns"]) == 3 for d in docs)


@pytest.mark.cluster
@pytest.mark.e2e
def test_export_all_to_a_directory(cluster, seeded, prefix, tmp_path) -> None:
    out = tmp_path / "exports"
    result = run(cluster, prefix, "memory", "export-all", "--output", str(out), "--jobs", "3")
    assert result.returncode == 0, result.stderr
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert sorted(e["sessionId"] for e in manifest["sessions"]) == sorted(SESSIONS)
    assert manifest["failed"] == []
    assert (out / "team%2Fa%3A1.json").is_file()


@pytest.mark.cluster
@pytest.mark.e2e
def test_delete_one_and_all(cluster, cclient, seeded, prefix) -> None:
    one = run(cluster, prefix, "memory", "delete", "--session-id", "s03", "--yes")
    assert one.returncode == 0, one.stderr
    assert not seeded.exists("s03")
    assert run(cluster, prefix, "memory", "export", "--session-id", "s03").returncode == 3
    everything = run(cluster, prefix, "memory", "delete", "--all", "--yes")
    assert everything.returncode == 0, everything.stderr
    assert _keys_per_node(cclient, prefix) == [0, 0, 0]
    listed = run(cluster, prefix, "memory", "list", "--format", "json")
    assert orjson.loads(listed.stdout) == []


WRITER = textwrap.dedent(
    """
    import sys
    from neurolink_cli.config import load_settings
    from neurolink_cli.store.connection import make_client
    from neurolink_cli.models import make_turn
    from neurolink_cli.store.native import NativeStore

    url, prefix, worker, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = make_client(load_settings({"redis_url": url}, env={}, file_values={}))
    store = NativeStore(client, prefix, max_turns=0)
    for i in range(count):
        ts = f"2026-03-02T00:00:{i % 60:02d}.000Z"
        store.append_turn("shared", make_turn("user", f"w{worker}-{i}", ts), user_id="u")
        store.append_turn(f"own-{worker}", make_turn("user", f"{i}", ts))
    """
)


@pytest.mark.cluster
@pytest.mark.e2e
def test_concurrent_appends_from_several_processes(cluster, cclient, prefix) -> None:
    workers, count = 4, 25
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, cluster.url, prefix, str(w), str(count)])
        for w in range(workers)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * workers
    result = run(cluster, prefix, "memory", "export", "--session-id", "shared")
    assert result.returncode == 0, result.stderr
    turns = orjson.loads(result.stdout)["turns"]
    assert [t["index"] for t in turns] == list(range(workers * count))
    assert len({t["content"] for t in turns}) == workers * count
    for w in range(workers):
        own = NativeStore(cclient, prefix).get(f"own-{w}")
        assert own is not None and [t["index"] for t in own.turns] == list(range(count))
