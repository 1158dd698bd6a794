"""``make bench``'s huge-session cases: peak RSS of one session of ``--huge-turns`` turns.

Run by ``bench/bench_export.py`` (it passes its server, environment and case runner).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dataset import RedisServer, load

HUGE_PREFIX = "bench-huge"


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
    return rows
