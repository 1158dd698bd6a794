"""``make bench``'s huge-session cases: peak RSS of one session of ``--huge-turns`` turns.

Run by ``bench/bench_export.py`` (it passes its server, environment and case runner).
Export cases: at most 100 MB each. Import cases (issue 13 item 3): the session exported
as one JSON file, as JSONL, and as an ``export-all --output DIR`` directory, each
imported into an empty database: peak RSS at most 3x the file's size.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from dataset import RedisServer, load

HUGE_PREFIX = "bench-huge"
IMPORT_DB = 2  # empty: db 0 holds the data sets, db 1 the TypeScript layout's
IMPORT_RSS_X = 3.0  # import's peak RSS at most this many times the file's size


def huge_rows(
    args: argparse.Namespace,
    server: RedisServer,
    env: dict[str, str],
    work: Path,
    neurolink: str,
    bench: Any,
) -> list[dict[str, Any]]:
    """One session of ``--huge-turns`` turns (alone under its own prefix): peak RSS of
    ``export`` in every format and of ``export-all`` (stream and --output DIR). ``bench``
    is the running ``bench_export`` module (its Case, row and run_case)."""
    Case, row, run_case = bench.Case, bench.row, bench.run_case  # noqa: N806
    print(f"  loading 1 session of {args.huge_turns:,} turns ...", file=sys.stderr)
    turns, nbytes = load(
        "127.0.0.1",
        server.port,
        HUGE_PREFIX,
        0,
        0,
        args.huge_bytes,
        big_turns=args.huge_turns,
        seed=9,
    )
    huge_env = {**env, "NEUROLINK_KEY_PREFIX": HUGE_PREFIX}
    nl = [neurolink, "memory"]
    label = f"{turns // 1000}k-turn session ({nbytes / 1e6:.0f} MB)"
    one = ["export", "--session-id", "big-session"]
    out_dir = work / "huge-out"
    cases = [
        Case(f"export {fmt}, {label}", [*nl, *one, "--format", fmt], turns, reps=1)
        for fmt in ("json", "jsonl", "csv", "markdown")
    ]
    cases += [
        Case(
            f"export-all {fmt} stdout, {label}", [*nl, "export-all", "--format", fmt], turns, reps=1
        )  # fmt: skip
        for fmt in ("jsonl", "csv")
    ]
    cases.append(
        Case(
            f"export-all --output DIR, {label}",
            [*nl, "export-all", "--output", str(out_dir)],
            turns,
            reps=1,
            out_dir=out_dir,
        )  # fmt: skip
    )
    rows = []
    for case in cases:
        print(f"  timing {case.name} ...", file=sys.stderr)
        run_case(case, huge_env, work)
        r = row(case, None)
        r["huge"] = True
        rows.append(r)
    return rows + import_rows(server, huge_env, work, neurolink, bench, turns, label)


def import_rows(
    server: RedisServer,
    env: dict[str, str],
    work: Path,
    neurolink: str,
    bench: Any,
    turns: int,
    label: str,
) -> list[dict[str, Any]]:
    """``memory import`` of the huge session from each form ``export`` writes, each run
    into an empty database; rows carry ``file_mb`` for the 3x target."""
    Case, row, run_case = bench.Case, bench.row, bench.run_case  # noqa: N806
    files = work / "huge-import"
    files.mkdir()
    nl = [neurolink, "memory"]
    big_json, big_jsonl, big_dir = files / "big.json", files / "big.jsonl", files / "dir"
    print("  exporting the huge session for import ...", file=sys.stderr)
    one = ["export", "--session-id", "big-session"]
    subprocess.run([*nl, *one, "--format", "json", "--output", str(big_json)], env=env, check=True)
    with big_jsonl.open("wb") as out:
        subprocess.run([*nl, "export-all", "--format", "jsonl"], env=env, stdout=out, check=True)
    subprocess.run([*nl, "export-all", "--output", str(big_dir)], env=env, check=True)
    dir_file = big_dir / "big-session.json"
    import_env = {**env, "REDIS_URL": f"redis://127.0.0.1:{server.port}/{IMPORT_DB}"}
    forms = [("json", big_json, big_json), ("jsonl", big_jsonl, big_jsonl)]
    forms.append(("DIR", big_dir, dir_file))  # export-all --output DIR
    rows = []
    for form, source, sized in forms:
        case = Case(f"import {form}, {label}", [*nl, "import", str(source)], turns, reps=1)
        print(f"  timing {case.name} ...", file=sys.stderr)
        _flush(server)
        run_case(case, import_env, work)
        r = row(case, None)
        r["file_mb"] = round(sized.stat().st_size / 2**20, 1)
        r["rss_x_file"] = round(r["peak_rss_mb"] / r["file_mb"], 2)
        r["note"] = f"{r['rss_x_file']:.2f}x its {r['file_mb']:.0f} MB file"
        rows.append(r)
    _flush(server)
    return rows


def _flush(server: RedisServer) -> None:
    import redis

    redis.Redis(port=server.port, db=IMPORT_DB).flushdb()


def check_import_targets(rows: list[dict[str, Any]]) -> None:
    """Print the 3x target of every import row."""
    for r in rows:
        if "file_mb" in r:
            limit = round(IMPORT_RSS_X * r["file_mb"], 1)
            ok = r["peak_rss_mb"] <= limit
            print(
                f"  {'ok ' if ok else 'MISS'} {r['case']}: peak_rss_mb {r['peak_rss_mb']} "
                f"(<= {IMPORT_RSS_X:g} x file size {r['file_mb']} MB = {limit})"
            )
