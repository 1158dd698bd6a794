"""``make bench``'s Redis Cluster rows (issue 14): ``export-all --jobs 1`` and ``--jobs 3``.

A private 3-primary cluster (``RedisClusterServers``: three ``redis-server --cluster-enabled
yes`` on free ports, joined by ``redis-cli --cluster create``) gets the very data set of the
single server (the same ``load`` with ``cluster=True``: each command goes to the primary
that owns its key, so the sessions spread over the three primaries and the index lives on
one). The cases run as whole processes in the bench's round robin, like every other row:
``--jobs 1`` and ``--jobs 3`` (two processes share the stream's pages at either) and
``--jobs 1`` in one process (``NEUROLINK_EXPORT_PROCESSES=1``). ``cluster_verify`` checks
first that the cluster's JSONL equals the single server's. ``--no-cluster`` leaves them out
(~25 s of a default run: start, load, 3 x reps runs).

On the 2-core machine the three primaries and the two exporting processes share two cores,
so the ratio --jobs 3 / --jobs 1 is bounded by CPU: readers with more batches in flight
overlap waits for replies, not the work of turning replies into output, and --jobs 1
already sends each batch to every primary at once. The bench proves it per run: each row
records the CPU of the exporter's processes and of the three primaries (INFO cpu), and
the target's lines print their sum, the least wall time it allows on the machine's cores
and how many cores were busy on average. When --jobs 1 already keeps the cores busy, no
--jobs can be faster without doing less work.

The start-up cannot be spread: until the walk gives its first page there is one process
(the imports, the cluster's discovery, the first page), and the TypeScript layout's SCAN
of every primary runs in it after the pages. So a fourth row times the same command on a
prefix with no sessions (``START``: the imports, the discovery, an empty walk and that
SCAN over the same keys), and the bound is its wall time plus the rest of the CPU (both
rows' processes and primaries) spread over the cores. --jobs 1 within a few hundredths of
that bound leaves no --jobs that much room, whatever it spreads over the primaries.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from typing import Any

from dataset import RedisClusterServers, load

JOBS1 = "cluster: export-all --format jsonl --jobs 1"
JOBS3 = "cluster: export-all --format jsonl --jobs 3"
ONE = "cluster: export-all --jobs 1, one process"
START = "cluster start-up: export-all, no sessions"
EMPTY_PREFIX = "bench-no-sessions"  # a key prefix with no keys: the walk finds nothing
LIMIT = 1.0


def cluster_start(
    args: argparse.Namespace, env: dict[str, str], prefix: str
) -> tuple[RedisClusterServers, dict[str, str], int]:
    """Start the cluster and load the data set; (servers, environment pointing there, turns)."""
    t0 = time.perf_counter()
    servers = RedisClusterServers(primaries=3).start()
    try:
        port = servers.nodes[0].port
        turns, nbytes = load(
            "127.0.0.1",
            port,
            prefix,
            args.sessions,
            args.turns,
            args.turn_bytes,
            big_turns=args.big_turns,
            cluster=True,
        )
    except BaseException:
        servers.cleanup()
        raise
    print(
        f"started a 3-primary cluster and loaded {args.sessions:,} sessions + 1 big "
        f"({turns:,} turns, {nbytes / 1e6:,.0f} MB) in {time.perf_counter() - t0:.1f}s "
        f"into {servers.url}",
        file=sys.stderr,
    )
    return servers, {**env, "REDIS_URL": servers.url}, turns


def cluster_cases(case: Any, neurolink: str, env: dict[str, str], turns: int) -> list[Any]:
    """The rows (``case`` is bench_export's Case class): two processes share the pages at
    either --jobs; the third row is one process (``NEUROLINK_EXPORT_PROCESSES=1``); the
    fourth the start-up (``START``, see above)."""
    argv = [neurolink, "memory", "export-all", "--format", "jsonl"]
    return [
        case(JOBS1, [*argv, "--jobs", "1"], turns, env=env),
        case(JOBS3, [*argv, "--jobs", "3"], turns, env=env),
        case(ONE, [*argv, "--jobs", "1"], turns, env={**env, "NEUROLINK_EXPORT_PROCESSES": "1"}),
        case(START, [*argv, "--jobs", "1"], env={**env, "NEUROLINK_KEY_PREFIX": EMPTY_PREFIX}),
    ]


def cluster_annotate(rows: list[dict[str, Any]]) -> None:
    """The cluster rows' note: their time against the single server's export-all."""
    single = next((r for r in rows if r["case"] == "export-all --format jsonl"), None)
    for r in rows:
        if r["case"] in (JOBS1, JOBS3, ONE) and single is not None:
            r["note"] = f"{r['median_s'] / single['median_s']:.2f}x the single server's time"


def cluster_targets(rows: list[dict[str, Any]]) -> None:
    """``--jobs 3`` against ``--jobs 1`` on the cluster, medians of the same rounds."""
    by = {r["case"]: r for r in rows}
    if JOBS1 not in by or JOBS3 not in by:
        return
    one, three = by[JOBS1], by[JOBS3]
    ratio = three["median_s"] / one["median_s"]
    best = three["min_s"] / one["min_s"]
    cores = os.cpu_count() or 1
    start = by.get(START)
    for jobs, r in (("1", one), ("3", three)):
        if r.get("cpu_s") and r.get("server_cpu_s"):
            total = r["cpu_s"] + r["server_cpu_s"]
            print(
                f"  info CPU of the cluster's --jobs {jobs}: {r['cpu_s']:.2f}s (its processes) + "
                f"{r['server_cpu_s']:.2f}s (the 3 primaries) = {total:.2f}s; on {cores} cores "
                f"no wall below {total / cores:.2f}s (median {r['median_s']:.2f}s: "
                f"{total / r['median_s']:.2f} cores busy)"
            )
            bound = start_bound(start, total, cores)
            if start is not None and bound is not None:
                room = f"; no --jobs doing this work can take under {bound / r['median_s']:.2f}x it"
                print(
                    f"    with the start-up on one core ({start['median_s'] * 1000:.0f}ms, "
                    f"timed on no sessions) no wall below {bound:.2f}s: the median is "
                    f"{r['median_s'] / bound:.2f}x that{room if jobs == '1' else ''}"
                )
    if ONE in by:
        print(
            f"  info cluster: two processes / one process at --jobs 1: "
            f"{one['median_s'] / by[ONE]['median_s']:.2f}"
        )
    print(
        f"  {'ok ' if ratio < LIMIT else 'MISS'} cluster --jobs 3 / --jobs 1: {ratio:.2f} "
        f"(< {LIMIT}); medians {one['median_s'] * 1000:.0f}ms and "
        f"{three['median_s'] * 1000:.0f}ms, fastest runs {best:.2f}"
    )


def start_bound(start: dict[str, Any] | None, total: float, cores: int) -> float | None:
    """The least wall time of a run that needs ``total`` CPU seconds (its processes and the
    primaries): the start-up's wall time (one process), then the rest of the CPU on every
    core. None without the start-up's CPU figures."""
    if not start or start.get("cpu_s") is None or start.get("server_cpu_s") is None:
        return None
    serial = start["cpu_s"] + start["server_cpu_s"]
    return float(start["median_s"] + max(0.0, total - serial) / cores)


def cluster_verify(neurolink: str, env: dict[str, str], single_env: dict[str, str]) -> None:
    """The cluster's export-all JSONL, with 1 and 3 readers, is the single server's."""

    def digest(e: dict[str, str], jobs: str) -> str:
        argv = [neurolink, "memory", "export-all", "--format", "jsonl", "--jobs", jobs]
        out = subprocess.run(argv, env=e, capture_output=True, check=True).stdout
        return hashlib.sha256(out).hexdigest()

    want = digest(single_env, "1")
    for jobs in ("1", "3"):
        if digest(env, jobs) != want:
            raise SystemExit(f"bench: the cluster's export-all --jobs {jobs} differs")
    print("verified: cluster export-all JSONL (--jobs 1 and 3) = single server's", file=sys.stderr)
