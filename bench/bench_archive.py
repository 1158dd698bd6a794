"""``memory archive`` end to end (issue 17: at least 2,000 sessions/s to a local directory).

Starts a private redis-server (never the Redis on 6379), loads N native sessions of T turns
(bench/dataset.py, ~300-byte turns, all older than 30 days) and times the real ``neurolink``
binary, each run a whole process: ``memory archive --to DIR --older-than 30d --yes`` (read,
gzip, write, one syncfs per batch, read back + sha256, compare-and-delete), against
``export-all --output DIR`` of the same data. Then the same to S3 on a local moto server
(``--s3`` sessions, since moto is far slower than S3), ``--jobs 1`` against ``--jobs 8``,
to show that uploads run concurrently. The data set is reloaded before every run.

    .venv/bin/python bench/bench_archive.py [--sessions 20000] [--turns 20] [--reps 3] [--s3 1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dataset import RedisServer, describe_machine, load  # noqa: E402
from support.s3_server import S3Server  # noqa: E402

NEUROLINK = str(Path(sys.executable).parent / "neurolink")
PREFIX = "bench"


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False)  # fmt: skip
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[1:4]} failed: {done.stderr.decode()[-500:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=20_000)
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--s3", type=int, default=1000, help="sessions for the S3 runs (0: none)")
    args = ap.parse_args()
    import redis

    server = RedisServer().start()
    work = Path(tempfile.mkdtemp(prefix="nl-bench-archive-"))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "REDIS_URL": server.url,
        "NEUROLINK_KEY_PREFIX": PREFIX,
        "NO_COLOR": "1",
    }
    client = redis.Redis.from_url(server.url)
    n, t = args.sessions, args.turns
    results: dict[str, tuple[int, list[float]]] = {}

    def reload(count: int) -> None:
        client.flushdb()  # our own private server
        load("127.0.0.1", server.port, PREFIX, count, t)

    def left() -> int:
        return int(client.zcard(f"{PREFIX}:sessions"))

    try:
        reload(n)
        runs = []
        for _ in range(args.reps):
            shutil.rmtree(work / "export", ignore_errors=True)
            runs.append(timed([NEUROLINK, "memory", "export-all", "-o", str(work / "export")], env))
        results["export-all --output DIR (no delete)"] = (n, runs)
        runs = []
        for _ in range(args.reps):
            reload(n)
            shutil.rmtree(work / "archive", ignore_errors=True)
            argv = [NEUROLINK, "memory", "archive", "--to", str(work / "archive"),
                    "--older-than", "30d", "--yes"]  # fmt: skip
            runs.append(timed(argv, env))
            assert left() == 0, f"{left()} sessions left"
        results["archive --to DIR --older-than 30d (gzip)"] = (n, runs)
        if args.s3:
            s3 = S3Server().start()
            try:
                s3_env = {**env, **s3.env()}
                for jobs in (1, 8):
                    runs = []
                    for rep in range(args.reps):
                        reload(args.s3)
                        bucket = f"bench-{jobs}-{rep}"
                        s3.client().create_bucket(Bucket=bucket)
                        argv = [NEUROLINK, "memory", "archive", "--to", f"s3://{bucket}/nl/",
                                "--older-than", "30d", "--yes", "--jobs", str(jobs)]  # fmt: skip
                        runs.append(timed(argv, s3_env))
                        assert left() == 0, f"{left()} sessions left"
                    results[f"archive --to s3:// (moto) --jobs {jobs}"] = (args.s3, runs)
            finally:
                s3.stop()
        machine = describe_machine()
        print(f"\n{n} native sessions x {t} turns, redis-server at {server.url}, "
              f"{machine['nproc']} CPUs ({machine['cpu']}), median of {args.reps}:")  # fmt: skip
        for name, (count, runs) in results.items():
            med = statistics.median(runs)
            print(f"  {name:44s} {count:6d} sessions {med:7.2f} s  {count / med:8,.0f} sessions/s")
    finally:
        client.close()
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
