"""``make bench``'s TypeScript-layout rows (issue 14), in a database of their own.

The bench's private redis-server gets ``--ts-sessions`` x ``--turns`` sessions as
``@juspay/neurolink`` writes them (``dataset_ts.py``) in database 1, so that neither layout's
commands meet the other's keys. Cases, each a whole process like every other row:

- ``ts: reference (redis-py+hiredis+orjson)``: ``ts_reference.py``, the issue's plain script
  (SCAN, MGET 500 keys per round trip, ``orjson.loads`` + ``orjson.dumps`` per session): the
  layout's ceiling, which ``export-all`` must at least equal;
- ``ts: export-all --format jsonl``, ``ts: memory list --limit 0``, ``ts: memory stats``;
- ``ts: fetch + parse only``: the reference without output, the floor of list and stats
  (both must parse every session to count its messages);
- ``ts: fetch only``: the reads alone (SCAN + MGET on one connection, nothing parsed).

Their "vs ceil" column is relative to that reference, not to the native fetch-only ceiling.
``ts_verify`` checks, before timing, that every exported turn is its stored message (same
fields and values, ``index`` added) and every session is there.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from dataset_ts import load_ts

HERE = Path(__file__).resolve().parent
TS = "ts: "
REFERENCE = "ts: reference (redis-py+hiredis+orjson)"
EXPORT = "ts: export-all --format jsonl"
FLOOR = "ts: fetch + parse only (floor of list/stats)"
FETCH = "ts: fetch only (SCAN + MGET, one connection)"
FS = "file system ceiling (write+link, 1 syncfs)"


def ts_load(
    args: argparse.Namespace, server: Any, env: dict[str, str]
) -> tuple[dict[str, str], int]:
    """Load the TypeScript-layout sessions into db 1; the environment pointing there."""
    url = server.url.rsplit("/", 1)[0] + "/1"
    n = getattr(args, "ts_sessions", args.sessions)
    if not n:
        return {**env, "REDIS_URL": url}, 0
    t0 = time.perf_counter()
    turns, nbytes = load_ts("127.0.0.1", server.port, n, args.turns, args.turn_bytes, db=1)
    print(
        f"loaded {n:,} TypeScript-layout sessions ({turns:,} messages, {nbytes / 1e6:,.0f} MB) "
        f"in {time.perf_counter() - t0:.1f}s into {url}",
        file=sys.stderr,
    )
    return {**env, "REDIS_URL": url}, turns


def ts_cases(case: Any, python: str, neurolink: str, env: dict[str, str], turns: int) -> list[Any]:
    """The rows (``case`` is bench_export's Case class)."""
    if not turns:
        return []
    nl = [neurolink, "memory"]
    return [
        case(REFERENCE, [python, str(HERE / "ts_reference.py"), env["REDIS_URL"]], turns, env=env),
        case(EXPORT, [*nl, "export-all", "--format", "jsonl"], turns, env=env),
        case(
            f"{TS}export-all jsonl, one process",
            [*nl, "export-all", "--format", "jsonl"],
            turns,
            env={**env, "NEUROLINK_EXPORT_PROCESSES": "1"},
        ),
        case(
            FLOOR,
            [
                python,
                str(HERE / "ts_reference.py"),
                env["REDIS_URL"],
                "neurolink:conversation:",
                "--parse-only",
            ],
            env=env,
        ),  # fmt: skip
        case(
            FETCH,
            [
                python,
                str(HERE / "ts_reference.py"),
                env["REDIS_URL"],
                "neurolink:conversation:",
                "--fetch-only",
            ],
            env=env,
        ),  # fmt: skip
        case(
            "ts: memory list --limit 0", [*nl, "list", "--limit", "0", "--format", "jsonl"], env=env
        ),  # fmt: skip
        case("ts: memory stats", [*nl, "stats", "--format", "json"], env=env),
    ]


def ts_annotate(rows: list[dict[str, Any]]) -> None:
    """Make the TS rows' "vs ceil" relative to the TS reference of the same run."""
    ref = next((r for r in rows if r["case"] == REFERENCE), None)
    for r in rows:
        if r["case"].startswith(TS) and ref is not None:
            r.pop("vs_ceiling", None)
            if "turns_per_s" in r:
                r["vs_ceiling"] = round(ref["median_s"] / r["median_s"], 3)
            r["note"] = f"{r['median_s'] / ref['median_s']:.2f}x the reference's time"


def _ratio(rows: dict[str, dict[str, Any]], a: str, b: str, of: str = "median_s") -> float | None:
    if a in rows and b in rows:
        return float(rows[a][of] / rows[b][of])
    return None


def ts_targets(rows: list[dict[str, Any]]) -> None:
    """Issue 14's ratios, each measured within this run."""
    by = {r["case"]: r for r in rows}
    checks = [
        (EXPORT, REFERENCE, 1.0, "TS export-all time / TS reference"),
        ("memory list --limit 0", "export-all --format jsonl", 0.5, "native list / export-all"),
        ("memory stats", "export-all --format jsonl", 0.8, "native stats / export-all"),
        ("ts: memory list --limit 0", EXPORT, 0.5, "TS list / export-all"),
        ("ts: memory stats", EXPORT, 0.8, "TS stats / export-all"),
    ]
    floors = [
        ("fetch + parse every turn (floor of stats)", "export-all --format jsonl", "native"),
        (FLOOR, EXPORT, "TS"),
    ]
    fetch, best_fetch = _ratio(by, FETCH, EXPORT), _ratio(by, FETCH, EXPORT, "min_s")
    if fetch is not None and best_fetch is not None:
        print(f"  info TS: merely reading everything (no parse, one connection) takes "
              f"{fetch:.2f}x export-all (fastest runs {best_fetch:.2f}x)")  # fmt: skip
    for a, b, label in floors:
        ratio = _ratio(by, a, b)
        best = _ratio(by, a, b, "min_s")  # on a shared machine the fastest runs disturb least
        if ratio is not None and best is not None:
            print(f"  info {label}: merely reading + parsing everything takes {ratio:.2f}x "
                  f"export-all (fastest runs {best:.2f}x)")  # fmt: skip
    for a, b, limit, label in checks:
        ratio = _ratio(by, a, b)
        best = _ratio(by, a, b, "min_s")
        if ratio is not None and best is not None:
            print(f"  {'ok ' if ratio <= limit else 'MISS'} {label}: {ratio:.2f} (<= {limit}); "
                  f"fastest runs {best:.2f}")  # fmt: skip
    out, fs = by.get("export-all --output DIR (json files)"), by.get(FS)
    if out and "files_per_s" in out:
        rate = out["files_per_s"]
        print(f"  {'ok ' if rate >= 10_000 else 'MISS'} export-all --output DIR: {rate:,} files/s "
              f"(>= 10,000)")  # fmt: skip
        if fs and "files_per_s" in fs:
            print(f"  info the disk alone (write+link+syncfs, no Redis/JSON): "
                  f"{fs['files_per_s']:,} files/s; DIR export at {rate / fs['files_per_s']:.2f}"
                  " of it")  # fmt: skip
            dir_bound(out, fs, by.get("export-all --format jsonl"))
    if EXPORT in by:
        rss = by[EXPORT]["peak_rss_mb"]
        print(f"  {'ok ' if rss <= 80 else 'MISS'} {EXPORT}: peak_rss_mb {rss} (<= 80)")


def dir_bound(out: dict[str, Any], fs: dict[str, Any], jsonl: dict[str, Any] | None) -> None:
    """The least CPU ``--output DIR`` must find on this machine: the disk alone's (the file
    calls, the kernel's writeback included) plus export-all's to a stream (reading and
    formatting every session), each the whole machine's busy time during its runs. On the
    machine's cores that work allows no more files/s than this, however it is spread, as
    long as the disk was in the same state in all three rows' runs (else that least comes
    out above the export's own: then no bound is drawn)."""
    cores = os.cpu_count() or 1
    if not jsonl or not all(r.get("busy_s") for r in (out, fs, jsonl)):
        return
    least = fs["busy_s"] + jsonl["busy_s"]
    files = out["files_per_s"] * out["median_s"]
    if least > out["busy_s"]:  # the disk was slower in the ceiling's runs than in the export's
        print(f"  info CPU of the machine during --output DIR: {out['busy_s']:.2f}s, less than "
              f"the disk alone's {fs['busy_s']:.2f}s + export-all jsonl's {jsonl['busy_s']:.2f}s:"
              " the disk's state moved between the runs, no bound from this one")  # fmt: skip
        return
    print(f"  info CPU of the machine during --output DIR: {out['busy_s']:.2f}s "
          f"({out['busy_s'] / out['median_s']:.2f} of {cores} cores busy); the least it must "
          f"do: the disk alone's {fs['busy_s']:.2f}s + export-all jsonl's {jsonl['busy_s']:.2f}s"
          f" = {least:.2f}s, at most {files / (least / cores):,.0f} files/s on {cores} cores")  # fmt: skip


def ts_verify(python: str, neurolink: str, env: dict[str, str], work: Path) -> None:
    """Every stored session is exported once, each turn its message with ``index`` added."""

    def lines(argv: list[str]) -> list[bytes]:
        out = subprocess.run(argv, env=env, cwd=work, capture_output=True, check=True).stdout
        return out.splitlines()

    stored = {}
    for line in lines([python, str(HERE / "ts_reference.py"), env["REDIS_URL"]]):
        obj = orjson.loads(line)
        stored[obj["sessionId"]] = obj["messages"]
    if not stored:
        return
    seen = 0
    for line in lines([neurolink, "memory", "export-all", "--format", "jsonl"]):
        doc = orjson.loads(line)
        messages = stored[doc["sessionId"]]
        turns = [{k: v for k, v in t.items() if k != "index"} for t in doc["turns"]]
        if turns != messages or [t["index"] for t in doc["turns"]] != list(range(len(turns))):
            raise SystemExit(f"bench: TS session {doc['sessionId']} exported wrong")
        seen += 1
    if seen != len(stored):
        raise SystemExit(f"bench: TS export-all gave {seen} sessions of {len(stored)}")
    print(f"verified: TS export-all = stored messages ({seen:,} sessions)", file=sys.stderr)
