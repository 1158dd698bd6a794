"""Deleting N TypeScript-layout sessions against exporting them (issue 12: at most 2x).

Starts a private redis-server (never the Redis on 6379), loads N sessions of the TypeScript
SDK's layout (CONTRACT §4: one JSON string per session + the user's set, 3 users, a few
messages each, all updated 60 days ago), then times the real ``neurolink`` binary, each run
a whole process: ``export-all`` (JSONL to a null sink), and ``delete --yes`` selecting them
by ``--older-than 30d``, by ``--all --user-id`` (one user's third, scaled to N) and by
``--session-id`` x N. The data set is reloaded before every delete run.

    .venv/bin/python bench/bench_delete.py [--sessions 20000] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dataset import RedisServer, ms_to_rfc3339  # noqa: E402

NEUROLINK = str(Path(sys.executable).parent / "neurolink")
C, U = "bench:conversation:", "bench:user:sessions:"


def load(client: object, n: int, users: int = 3) -> list[str]:
    """Write ``n`` sessions (``users`` users) updated 60 days ago; return their ids."""
    when = ms_to_rfc3339(int(time.time() * 1000) - 60 * 86_400_000)
    pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
    ids = []
    for i in range(n):
        sid, user = f"sess-{i:06d}", f"user-{i % users}"
        messages = [
            {"id": f"m{j}", "role": "user" if j % 2 == 0 else "assistant",
             "content": f"message {j} of {sid} " * 8, "timestamp": when}
            for j in range(6)
        ]  # fmt: skip
        doc = {"id": f"doc-{sid}", "title": sid, "sessionId": sid, "userId": user,
               "createdAt": when, "updatedAt": when, "messages": messages}  # fmt: skip
        pipe.set(f"{C}{user}:{sid}", orjson.dumps(doc))
        pipe.sadd(f"{U}{user}", sid)
        ids.append(sid)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    return ids


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)  # fmt: skip
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[1:4]} failed: {done.stderr.decode()[-500:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    import redis

    server = RedisServer().start()
    work = Path(tempfile.mkdtemp(prefix="nl-bench-delete-"))
    (work / ".neurolink.toml").write_text(
        f'[conversationMemory.redis]\nupstreamUserSessionsPrefix = "{U}"\n'
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "REDIS_URL": server.url,
        "NEUROLINK_KEY_PREFIX": "bench-native",
        "REDIS_KEY_PREFIX": C,
        "NO_COLOR": "1",
    }
    client = redis.Redis.from_url(server.url)
    n = args.sessions
    try:
        ids = load(client, n)
        export = [timed([NEUROLINK, "memory", "export-all"], env, work) for _ in range(args.reps)]
        results = {"export-all (JSONL to /dev/null)": export}
        cases = {
            "delete --older-than 30d": ["--older-than", "30d"],
            f"delete --session-id x {n}": [a for sid in ids for a in ("--session-id", sid)],
            "delete --all --user-id (all N in one user)": ["--all", "--user-id", "user-0"],
        }
        for name, extra in cases.items():
            runs = []
            for _ in range(args.reps):
                client.flushdb()  # our own private server
                load(client, n, users=1 if "user-id" in name else 3)
                runs.append(timed([NEUROLINK, "memory", "delete", "--yes", *extra], env, work))
                left = sum(1 for _ in client.scan_iter(match=f"{C}*", count=1000))
                assert left == 0, f"{name}: {left} keys left"
            results[name] = runs
        base = statistics.median(export)
        print(f"\n{n} TypeScript-layout sessions, redis-server at {server.url}, median of "
              f"{args.reps}:")  # fmt: skip
        for name, runs in results.items():
            med = statistics.median(runs)
            print(f"  {name:48s} {med:7.2f} s   {med / base:4.2f} x export-all")
    finally:
        client.close()
        server.cleanup()


if __name__ == "__main__":
    main()
