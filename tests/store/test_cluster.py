"""The same commands against a real 3-primary Redis Cluster, with no extra setting.

One cluster per module (three ``redis-server --cluster-enabled yes`` on free ports whose bus
port is free too, joined by ``redis-cli --cluster create``; ~2 s), torn down at the end.
Each test writes under its own key prefix, so sessions spread over all three primaries.
"""

from __future__ import annotations

import os
import re
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
from neurolink_cli.models import Unreadable, make_turn
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


def run(
    cluster: RedisClusterServers, prefix: str, *args: str, cwd: Path | None = None, **extra: str
) -> Any:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME", "TMPDIR")}
    env.update(REDIS_URL=cluster.url, NEUROLINK_KEY_PREFIX=prefix, NO_COLOR="1", **extra)
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
def test_list_names_a_session_with_a_key_of_the_wrong_type(
    cluster, cclient, seeded, prefix
) -> None:
    bad = SESSIONS[1]
    cclient.delete(seeded.turns_key(bad))
    cclient.set(seeded.turns_key(bad), b"not a list")
    for limit in ("0", "50"):  # the keyset walk, and the first page newest first
        listed = run(cluster, prefix, "memory", "list", "--limit", limit, "--format", "json")
        assert listed.returncode == 1, listed.stderr
        rows = orjson.loads(listed.stdout)
        assert sorted(r["sessionId"] for r in rows) == sorted(set(SESSIONS) - {bad})
        assert f"{bad}: key {seeded.turns_key(bad)} is not of the expected type" in listed.stderr


@pytest.mark.cluster
@pytest.mark.e2e
def test_list_keeps_a_session_whose_hash_holds_no_row_field(
    cluster, cclient, seeded, prefix
) -> None:
    """On a Cluster too, ``list`` prunes only an entry neither of whose keys exists."""
    cclient.hset(seeded.meta_key("lonely"), "provider", "openai")
    cclient.zadd(seeded.index_key, {"lonely": 1000, "ghost": 2000})
    for limit in ("50", "0"):
        listed = run(cluster, prefix, "memory", "list", "--limit", limit, "--format", "json")
        assert listed.returncode == 0, listed.stderr
        rows = sorted(r["sessionId"] for r in orjson.loads(listed.stdout))
        assert rows == sorted([*SESSIONS, "lonely"])
        members = {m.decode() for m in cclient.zrange(seeded.index_key, 0, -1)}
        assert members == {*SESSIONS, "lonely"}


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
def test_a_shared_sessionid_field_does_not_merge_two_sessions_files(
    cluster, cclient, seeded, prefix, tmp_path
) -> None:
    """Two sessions (read per primary, --jobs 3) whose metadata ``sessionId`` fields name the
    same id: each is still exported to its own file, under its keys' id (exit 1, named)."""
    one, two = SESSIONS[0], SESSIONS[1]
    for sid in (one, two):
        cclient.hset(seeded.meta_key(sid), "sessionId", "shared")
    out = tmp_path / "exports"
    result = run(cluster, prefix, "memory", "export-all", "--output", str(out), "--jobs", "3")
    assert result.returncode == 1 and result.stderr.count("field sessionId") == 2
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert sorted(e["sessionId"] for e in manifest["sessions"]) == sorted(SESSIONS)
    assert not (out / "shared.json").exists()


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


def _seed_many(cclient: Any, prefix: str, sessions: int) -> NativeStore:
    """``sessions`` sessions of 3 turns, written through the store (spread over every primary)."""
    store = NativeStore(cclient, prefix, max_turns=0)
    for n in range(sessions):
        for i in range(3):
            ts = f"2026-03-01T{n // 60 % 24:02d}:{n % 60:02d}:{i:02d}.000Z"
            role = "user" if i % 2 == 0 else "assistant"
            store.append_turn(f"m{n:03d}", make_turn(role, f"m{n} #{i}", ts), user_id="u")
    return store


def _docs(store: NativeStore, jobs: int, mid_run: Any = None) -> list[Any]:
    """What iter_docs yields, as comparable tuples; ``mid_run(page_number)`` runs as the
    walk hands out each page, before that page's sessions are read."""
    walk = store.index_walk(page=store.batch_size)

    def pages() -> Any:
        for n, rows in enumerate(walk):
            if mid_run is not None:
                mid_run(n)
            yield rows

    out: list[Any] = []
    for doc in store.iter_docs(jobs=jobs, walk=pages()):  # type: ignore[arg-type]
        if isinstance(doc, Unreadable):
            out.append(("unreadable", doc.session_id, doc.reason))
        else:
            out.append((doc.session_id, doc.metadata, [bytes(t) for t in doc.raw_turns]))
    return out


@pytest.mark.cluster
@pytest.mark.parametrize("jobs", [1, 3])
def test_jobs_read_every_session_once_in_index_order(cclient, prefix, jobs: int) -> None:
    """The per-primary lean reads give what redis-py's cluster pipeline gives, in index
    order, with 1 or 3 readers: a key of the wrong type reported in place, a session whose
    keys vanish mid-run left out, each other session exactly once."""
    store = _seed_many(cclient, prefix, 300)
    store.batch_size = 40  # several batches, each over all three primaries
    cclient.delete(store.turns_key("m007"))
    cclient.set(store.turns_key("m007"), "not a list")  # WRONGTYPE on its LRANGE
    slow = NativeStore(cclient, prefix)
    slow.batch_size = 40
    slow._reader()._cluster = False  # redis-py's ClusterPipeline, the reference
    want = _docs(slow, 1)
    assert len(want) == 300 and want[7] == (
        "unreadable",
        "m007",
        f"key {store.turns_key('m007')} is not of the expected type",
    )
    assert [d[1] if d[0] == "unreadable" else d[0] for d in want] == [
        f"m{n:03d}" for n in range(300)
    ]

    def vanish(page: int) -> None:  # the keys of a session two pages ahead go (as if expired)
        if page == 1:
            cclient.delete(store.turns_key("m150"), store.meta_key("m150"))

    got = _docs(store, jobs, vanish)
    assert store._reader()._cluster  # the lean path stayed on
    assert got == [d for d in want if d[0] != "m150"]
    assert cclient.zscore(store.index_key, "m150") is None  # its member was pruned


@pytest.mark.cluster
@pytest.mark.parametrize("jobs", [1, 3])
def test_a_moved_slot_hands_the_batch_to_the_cluster_pipeline(cclient, prefix, jobs) -> None:
    """A stale slot table (as after a resharding) sends a session to the wrong primary: it
    answers MOVED, and the batch is read again through redis-py's pipeline (which follows
    the redirection and refreshes the table); nothing is lost or repeated."""
    store = _seed_many(cclient, prefix, 120)
    store.batch_size = 30
    want = _docs(store, 1)
    slot = cclient.keyslot(store.meta_key("m042"))
    cache = cclient.nodes_manager.slots_cache
    right = cache[slot]
    wrong = next(n for n in cclient.get_primaries() if n.name != right[0].name)
    cache[slot] = [wrong]
    try:
        assert _docs(store, jobs) == want
    finally:
        cache[slot] = right
    assert store._reader()._cluster  # a redirection is not a failure: lean reads go on


@pytest.mark.cluster
@pytest.mark.parametrize("moved", [False, True])
def test_stats_reads_ttls_per_primary_with_the_sessions(cclient, prefix, moved: bool) -> None:
    """``memory stats`` on a Cluster: the PTTL of each session comes back with its reads,
    per primary (the lean path stays on), and counts what expires within 24 hours; also
    when a stale slot hands a batch to the cluster pipeline (``moved``)."""
    from neurolink_cli.stats import compute_stats
    from neurolink_cli.store.repository import Repository

    store = _seed_many(cclient, prefix, 90)
    store.batch_size = 25
    expiring = ["m001", "m042", "m077"]
    for sid in expiring:
        cclient.pexpire(store.meta_key(sid), 3_600_000)
    cclient.pexpire(store.meta_key("m050"), 3 * 86_400_000)  # not within 24 h
    cache = cclient.nodes_manager.slots_cache
    slot = cclient.keyslot(store.meta_key("m042"))
    right = cache[slot]
    if moved:
        cache[slot] = [next(n for n in cclient.get_primaries() if n.name != right[0].name)]
    try:
        stats = compute_stats(Repository(store))
    finally:
        cache[slot] = right
    assert (stats.sessions, stats.turns, stats.expiring) == (90, 270, len(expiring))
    assert store._reader()._cluster


@pytest.mark.cluster
@pytest.mark.e2e
def test_export_all_jobs_3_writes_what_jobs_1_writes(cluster, cclient, prefix) -> None:
    """The CLI's JSONL with 3 readers is byte for byte its output with one (and the same
    session of the wrong type is reported, with the same exit status)."""
    store = _seed_many(cclient, prefix, 300)
    cclient.delete(store.meta_key("m033"))
    cclient.rpush(store.meta_key("m033"), "a list, not a hash")
    one = run(cluster, prefix, "memory", "export-all", "--format", "jsonl", "--jobs", "1")
    three = run(cluster, prefix, "memory", "export-all", "--format", "jsonl", "--jobs", "3")
    assert one.stdout == three.stdout
    assert one.returncode == three.returncode != 0, one.stderr
    assert "m033" in one.stderr and "m033" in three.stderr
    ids = [orjson.loads(line)["sessionId"] for line in one.stdout.splitlines()]
    assert ids == [f"m{n:03d}" for n in range(300) if n != 33]


@pytest.mark.cluster
def test_an_export_stopped_early_leaves_every_primary_pool_sound(cclient, prefix) -> None:
    """Stopping with batches sent and unread (3 ahead, on every primary) closes their
    connections: the next reads on the same client get their own replies."""
    store = _seed_many(cclient, prefix, 200)
    store.batch_size = 20
    docs = store.iter_docs(jobs=3)
    first = [next(docs) for _ in range(5)]
    docs.close()
    assert [d.session_id for d in first] == [f"m{n:03d}" for n in range(5)]
    pools = [cclient.get_redis_connection(n).connection_pool for n in cclient.get_primaries()]
    assert [len(p._in_use_connections) for p in pools] == [0, 0, 0]  # all handed back
    again = [d.session_id for d in store.iter_docs(jobs=3)]
    assert again == [f"m{n:03d}" for n in range(200)]
    assert store._reader().per_primary


@pytest.mark.cluster
@pytest.mark.e2e
def test_two_processes_share_a_clusters_pages_with_the_same_output(
    cluster, cclient, prefix
) -> None:
    """On a cluster read per primary, export-all to a stream shares the index's pages with a
    second process (each opens its own connections to every primary): the same bytes,
    messages and exit status as one process, at --jobs 1 and 3, with bad sessions on pages
    of both processes (pages of 250: 0, 2, 4 here, 1, 3 there)."""
    from neurolink_cli.export.shared import shared_available, worker_available
    from neurolink_cli.store.repository import Repository

    with open(os.devnull, "wb") as devnull:
        if not worker_available(devnull):
            pytest.skip("needs two cores and fork")
        store = _seed_many(cclient, prefix, 1200)
        assert shared_available(Repository(store), devnull)
    for sid in ("m100", "m400", "m777"):  # pages 0, 1 and 3 of the walk
        cclient.rpush(store.turns_key(sid), b"{not json")
    cclient.delete(store.meta_key("m555"))
    cclient.rpush(store.meta_key("m555"), "a list, not a hash")
    argv = ("memory", "export-all", "--format", "jsonl")
    runs = [run(cluster, prefix, *argv, "--jobs", jobs) for jobs in ("1", "3")]
    one = run(cluster, prefix, *argv, NEUROLINK_EXPORT_PROCESSES="1")
    assert one.returncode == 1, one.stderr

    def seen(r: Any) -> tuple[str, str, int]:  # the summary's seconds vary from run to run
        return r.stdout, re.sub(r" in [0-9.]+ s;", " in N s;", r.stderr), r.returncode

    for r in runs:
        assert seen(r) == seen(one)
    assert all(sid in one.stderr for sid in ("m100", "m400", "m777", "m555"))
    assert len(one.stdout.splitlines()) == 1200 - 4
