"""Deleting N sessions against exporting them, in each layout (issue 14: at most 2x).

Starts a private redis-server (never the Redis on 6379) and, for each layout, loads N
sessions x T turns (the TypeScript layout as ``@juspay/neurolink`` writes them,
``dataset_ts.py``; the native one with ``dataset.py``; all updated in January 2026, so
older than 30 days), then times the real ``neurolink`` binary, each run a whole process:
``export-all`` (JSONL to a null sink), and ``delete --yes`` by ``--all``, by
``--older-than 30d`` and (TypeScript layout) by ``--all --user-id`` (every session in one
user) and by ``--session-id`` x N. The data set is reloaded before every delete run, and
each run must leave no session behind.

    .venv/bin/python bench/bench_delete.py [--sessions 20000] [--turns 20] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dataset import RedisServer, load  # noqa: E402
from dataset_ts import C_PREFIX, load_ts  # noqa: E402

NEUROLINK = str(Path(sys.executable).parent / "neurolink")
NATIVE = "bench"


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)  # fmt: skip
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[1:4]} failed: {done.stderr.decode()[-500:]}")
    return took


def left(client: object, pattern: str) -> int:
    return sum(1 for _ in client.scan_iter(match=pattern, count=1000))  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=20_000)
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    import redis

    server = RedisServer().start()
    work = Path(tempfile.mkdtemp(prefix="nl-bench-delete-"))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "REDIS_URL": server.url,
        "NEUROLINK_KEY_PREFIX": NATIVE,
        "NO_COLOR": "1",
    }
    client = redis.Redis.from_url(server.url)
    n, t = args.sessions, args.turns
    port = server.port
    ts_ids = [f"ts-{i:07d}" for i in range(n)]
    layouts: dict[str, tuple[Callable[..., object], str, dict[str, list[str]]]] = {
        "TypeScript layout": (
            lambda **kw: load_ts("127.0.0.1", port, n, t, **kw),
            f"{C_PREFIX}*",
            {
                "delete --all": ["--all"],
                "delete --older-than 30d": ["--older-than", "30d"],
                "delete --all --user-id (all N in one user)": ["--all", "--user-id", "user-0"],
                f"delete --session-id x {n}": [a for sid in ts_ids for a in ("--session-id", sid)],
            },
        ),
        "native layout": (
            lambda **kw: load("127.0.0.1", port, NATIVE, n, t),
            f"{NATIVE}:session:*",
            {"delete --all": ["--all"], "delete --older-than 30d": ["--older-than", "30d"]},
        ),
    }
    results: dict[str, dict[str, list[float]]] = {}
    try:
        for layout, (loader, pattern, cases) in layouts.items():
            client.flushdb()  # our own private server
            loader()
            export = [timed([NEUROLINK, "memory", "export-all"], env, work)
                      for _ in range(args.reps)]  # fmt: skip
            runs = results[layout] = {"export-all (JSONL to /dev/null)": export}
            for name, extra in cases.items():
                for _ in range(args.reps):
                    client.flushdb()
                    one_user = {"users": 1, "session_only_every": 0}
                    loader(**(one_user if "user-id" in name else {}))
                    took = timed([NEUROLINK, "memory", "delete", "--yes", *extra], env, work)
                    runs.setdefault(name, []).append(took)
                    assert left(client, pattern) == 0, f"{layout} {name}: keys left"
        print(f"\n{n:,} sessions x {t} turns per layout, redis-server at {server.url}, "
              f"median of {args.reps} (whole processes):")  # fmt: skip
        for layout, runs in results.items():
            base = statistics.median(runs["export-all (JSONL to /dev/null)"])
            print(f"  {layout}")
            for name, times in runs.items():
                med = statistics.median(times)
                ok = "" if name.startswith("export") else ("  ok" if med <= 2 * base else "  MISS")
                print(f"    {name:48s} {med:7.2f} s   {med / base:4.2f}x export-all{ok}")
    finally:
        client.close()
        server.cleanup()


if __name__ == "__main__":
    main()
