"""``make bench-scale``: export-all of 1,000,000 sessions against the fetch-only ceiling.

Issue 14's "Scale" target. Starts a private redis-server (a free loopback port, no
persistence; never the Redis on 6379), then grows one data set of N sessions x T turns
(default 1,000,000 x 20 of ~300 bytes: 20M turns, ~7 GB in Redis) in steps, 20,000 and
200,000 sessions first: each step loads only the sessions it adds (``dataset.load`` with
``first``). At each size it times, as whole processes, interleaved (the order alternates
from one round to the next), with each child's peak RSS:

- the fetch-only ceiling (``bench/fetch_only.py URL PREFIX``: pipelined reads, no output),
- ``neurolink memory export-all --format jsonl`` (stdout to /dev/null),

prints one row per size and checks the targets: export-all within 1.1x of the ceiling at
the largest size, export-all's peak RSS under 100 MB at every size, and time per session
at the largest size within 1.2x of that at the smallest (linear in sessions).

It needs about 9 GB of free memory for 1M sessions and refuses to start with less
(MemAvailable in /proc/meminfo); ``--sessions 200000`` needs ~2 GB.

    .venv/bin/python bench/bench_scale.py [--sessions 1000000] [--turns 20] [--reps 3]
                                          [--big-reps 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_export import PREFIX, Case, child_env, run_once, server_cpu_reader  # noqa: E402
from dataset import RedisServer, describe_machine, load, redis_version  # noqa: E402

STEPS = (20_000, 200_000)  # the smaller sizes measured before --sessions
BIG = 500_000  # from this size on, --big-reps rounds instead of --reps
TARGET_AT = 1_000_000
RATIO_MAX = 1.1  # export-all time / ceiling time at the largest size
RSS_MAX_MB = 100.0
LINEAR_MAX = 1.2  # time per session, largest size / smallest size
# Redis holds ~1.2x the turn JSON (7.2 KB per session of 20 turns of ~300 bytes); with
# headroom for the loader, the exporter and the rest of the machine: 1.5x.
MEMORY_FACTOR = 1.5


def sizes_for(sessions: int) -> list[int]:
    """The sizes to measure, smallest first: the fixed steps below ``sessions``, then it."""
    smaller = [s for s in STEPS if s < sessions]
    if not smaller and sessions >= 100:
        smaller = [sessions // 10]
    return [*smaller, sessions]


def mem_available() -> int | None:
    """MemAvailable from /proc/meminfo, in bytes (None where there is none)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(sessions: int, turns: int, turn_bytes: int) -> None:
    """Refuse to start when the largest data set would not fit in free memory."""
    need = sessions * turns * turn_bytes * MEMORY_FACTOR
    have = mem_available()
    if have is None or have >= need:
        return
    fits = int(have / (turns * turn_bytes * MEMORY_FACTOR)) // 10_000 * 10_000
    raise SystemExit(
        f"bench-scale: {sessions:,} sessions x {turns} turns need ~{need / 1e9:.1f} GB of free "
        f"memory (Redis holds them all), but MemAvailable is {have / 1e9:.1f} GB.\n"
        f"Run smaller, e.g.: make bench-scale BENCH_SCALE_ARGS='--sessions {max(fits, 20_000)}'"
        f"  (or .venv/bin/python bench/bench_scale.py --sessions {max(fits, 20_000)})"
    )


def redis_used_bytes(port: int) -> int:
    import redis

    client = redis.Redis(port=port)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


def time_size(
    ceiling: Case, export: Case, env: dict[str, str], work: Path, want_turns: int, port: int
) -> None:
    """Run both cases ``reps`` times, alternating which goes first; each run's CPU, and the
    server's during it."""
    server_cpu = server_cpu_reader(port)
    for rep in range(ceiling.reps):
        print(f"    round {rep + 1}/{ceiling.reps} ...", file=sys.stderr)
        for case in (ceiling, export) if rep % 2 == 0 else (export, ceiling):
            before = server_cpu()
            r = run_once(case.argv, env, work)
            case.server_cpu.append(server_cpu() - before)
            case.cpu.append(r.cpu)
            if r.returncode != 0:
                raise SystemExit(
                    f"bench-scale: {case.name} failed (exit {r.returncode}): "
                    + r.stderr.decode(errors="replace")[-1500:]
                )
            if case is ceiling:  # fetch_only.py writes the number of turns it read
                read = r.stderr.decode().split()
                if read[-1:] != [str(want_turns)]:
                    raise SystemExit(
                        f"bench-scale: the ceiling read {read} turns, not {want_turns}"
                    )
            case.times.append(r.seconds)
            case.rss_kb.append(r.rss_kb)


def size_row(
    sessions: int, turns: int, load_s: float, used: int, ceiling: Case, export: Case
) -> dict[str, Any]:
    return {
        "sessions": sessions,
        "turns": turns,
        "reps": export.reps,
        "load_step_s": round(load_s, 2),
        "redis_used_mb": round(used / 2**20),
        "ceiling_s": round(ceiling.median, 3),
        "ceiling_min_s": round(min(ceiling.times), 3),
        "ceiling_peak_rss_mb": round(max(ceiling.rss_kb) / 1024, 1),
        "export_s": round(export.median, 3),
        "export_min_s": round(min(export.times), 3),
        "export_over_ceiling": round(export.median / ceiling.median, 3),
        "export_turns_per_s": round(turns / export.median),
        "export_us_per_session": round(export.median / sessions * 1e6, 2),
        "ceiling_us_per_session": round(ceiling.median / sessions * 1e6, 2),
        "export_peak_rss_mb": round(max(export.rss_kb) / 1024, 1),
        "ceiling_cpu_s": round(statistics.median(ceiling.cpu), 2),
        "ceiling_server_cpu_s": round(statistics.median(ceiling.server_cpu), 2),
        "export_cpu_s": round(statistics.median(export.cpu), 2),
        "export_server_cpu_s": round(statistics.median(export.server_cpu), 2),
    }


def print_table(rows: list[dict[str, Any]], head: dict[str, Any]) -> None:
    print(
        f"\nmachine: {head['nproc']} CPU ({head['cpu']}), redis-server {head['redis']}, "
        f"Python {head['python']}, load average {head['loadavg']} at the start"
    )
    print(
        f"data: sessions x {head['turns_per_session']} turns of ~{head['turn_bytes']} bytes, "
        "grown in place; medians of each size's rounds (ceiling and export alternating)\n"
    )
    hdr = (
        f"{'sessions':>10} {'reps':>4} {'redis':>8} {'ceiling':>9} {'export':>9} "
        f"{'exp/ceil':>8} {'turns/s':>9} {'us/session':>10} {'export RSS':>10}"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(
            f"{r['sessions']:>10,} {r['reps']:>4} {r['redis_used_mb']:>5,} MB "
            f"{r['ceiling_s']:>8.2f}s {r['export_s']:>8.2f}s {r['export_over_ceiling']:>7.2f}x "
            f"{r['export_turns_per_s'] / 1000:>8,.0f}k {r['export_us_per_session']:>10.1f} "
            f"{r['export_peak_rss_mb']:>7.1f} MB"
        )


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    small, large = rows[0], rows[-1]
    out = []
    at = f"{large['sessions']:,} sessions"
    note = "" if large["sessions"] >= TARGET_AT else f" [the target is at {TARGET_AT:,}]"
    ratio = large["export_over_ceiling"]
    out.append(
        {
            "target": f"export-all within {RATIO_MAX}x of the ceiling at 1M",
            "ok": ratio <= RATIO_MAX,
            "line": f"export-all / ceiling at {at}: {ratio:.2f}x (<= {RATIO_MAX}x){note}",
        }
    )
    cores = os.cpu_count() or 1
    for name in ("ceiling", "export"):
        cpu, srv = large[f"{name}_cpu_s"], large[f"{name}_server_cpu_s"]
        wall = large[f"{name}_s"]
        out.append(
            {
                "target": f"information: the CPU of the {name} and the wall it bounds",
                "ok": None,
                "line": (
                    f"CPU of the {name} at {at}: {cpu:.2f}s (its processes) + "
                    f"{srv:.2f}s (redis-server) = {cpu + srv:.2f}s; on {cores} cores no wall "
                    f"below {(cpu + srv) / cores:.2f}s (median {wall:.2f}s)"
                ),
            }
        )
    rss = max(r["export_peak_rss_mb"] for r in rows)
    out.append(
        {
            "target": f"peak RSS < {RSS_MAX_MB:.0f} MB",
            "ok": rss < RSS_MAX_MB,
            "line": f"export-all peak RSS, largest of all sizes: {rss:.1f} MB (< {RSS_MAX_MB:.0f} MB)",
        }
    )
    if len(rows) > 1:
        growth = large["export_us_per_session"] / small["export_us_per_session"]
        out.append(
            {
                "target": f"time per session at 1M within {LINEAR_MAX}x of the smallest size's",
                "ok": growth <= LINEAR_MAX,
                "line": (
                    f"export-all time per session at {at}: {large['export_us_per_session']:.1f} us"
                    f" vs {small['export_us_per_session']:.1f} us at {small['sessions']:,}:"
                    f" {growth:.2f}x (<= {LINEAR_MAX}x){note}"
                ),
            }
        )
        c_growth = large["ceiling_us_per_session"] / small["ceiling_us_per_session"]
        out.append(
            {
                "target": "info",
                "ok": None,
                "line": f"the ceiling's time per session grows {c_growth:.2f}x over the same sizes",
            }
        )
        # Without the fixed cost (interpreter start, imports, connection) the smallest size's
        # time per session carries: what each further session costs.
        extra = large["sessions"] - small["sessions"]
        e_marg = (large["export_s"] - small["export_s"]) / extra * 1e6
        c_marg = (large["ceiling_s"] - small["ceiling_s"]) / extra * 1e6
        out.append(
            {
                "target": "info",
                "ok": None,
                "line": (
                    f"each session past {small['sessions']:,}: export-all {e_marg:.1f} us,"
                    f" ceiling {c_marg:.1f} us ({e_marg / c_marg:.2f}x)"
                    if c_marg > 0
                    else "the ceiling did not grow with the sessions (a noisy run)"
                ),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sessions",
        type=int,
        default=TARGET_AT,
        help="the largest size (default 1,000,000; 20,000 and 200,000 are measured first)",
    )
    ap.add_argument("--turns", type=int, default=20, help="turns per session")
    ap.add_argument("--turn-bytes", type=int, default=300, help="approximate size of a turn")
    ap.add_argument("--reps", type=int, default=3, help=f"rounds at sizes under {BIG:,}")
    ap.add_argument("--big-reps", type=int, default=2, help=f"rounds at {BIG:,} sessions and up")
    ap.add_argument("--batch", type=int, default=250, help="the ceiling's sessions per read")
    ap.add_argument("--json", metavar="FILE", help="also write the rows and targets as JSON")
    args = ap.parse_args()
    if args.sessions < 1 or args.turns < 1 or args.reps < 1 or args.big_reps < 1:
        raise SystemExit("bench-scale: --sessions, --turns and the reps must be at least 1")

    python = sys.executable
    neurolink = str(Path(python).parent / "neurolink")
    if not Path(neurolink).exists():
        raise SystemExit(f"bench-scale: {neurolink} not found; run make install")
    sizes = sizes_for(args.sessions)
    check_memory(sizes[-1], args.turns, args.turn_bytes)

    head = {
        **describe_machine(),
        "redis": redis_version(),
        "python": sys.version.split()[0],
        "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "turns_per_session": args.turns,
        "turn_bytes": args.turn_bytes,
    }
    server = RedisServer().start()
    work = Path(tempfile.mkdtemp(prefix="nl-bench-scale-"))
    try:
        (work / "home").mkdir()
        env = child_env(server.url, work / "home")
        rows: list[dict[str, Any]] = []
        loaded = 0
        for size in sizes:
            t0 = time.perf_counter()
            load(
                "127.0.0.1",
                server.port,
                PREFIX,
                size - loaded,
                args.turns,
                args.turn_bytes,
                first=loaded,
            )
            load_s = time.perf_counter() - t0
            used = redis_used_bytes(server.port)
            print(
                f"  {size:,} sessions: loaded {size - loaded:,} more in {load_s:.1f}s "
                f"(Redis uses {used / 2**20:,.0f} MB)",
                file=sys.stderr,
            )
            loaded = size
            turns = size * args.turns
            reps = args.reps if size < BIG else args.big_reps
            ceiling = Case(
                "fetch-only ceiling",
                [python, str(HERE / "fetch_only.py"), server.url, PREFIX, str(args.batch)],
                turns,
                reps=reps,
            )
            export = Case(
                "export-all --format jsonl",
                [neurolink, "memory", "export-all", "--format", "jsonl"],
                turns,
                reps=reps,
            )
            time_size(ceiling, export, env, work, turns, server.port)
            rows.append(size_row(size, turns, load_s, used, ceiling, export))
        print_table(rows, head)
        checks = targets(rows)
        print("\ntargets:")
        for t in checks:
            mark = "info" if t["ok"] is None else ("ok  " if t["ok"] else "MISS")
            print(f"  {mark} {t['line']}")
        if args.json:
            Path(args.json).write_bytes(
                orjson.dumps(
                    {"machine": head, "rows": rows, "targets": checks},
                    option=orjson.OPT_INDENT_2,
                )
            )
            print(f"\nwrote {args.json}", file=sys.stderr)
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
