"""``make bench``'s floor rows (issue 14): the least time ``list`` and ``stats`` can take.

The targets ``memory list --limit 0`` <= 0.5x and ``memory stats`` <= 0.8x ``export-all``
compare commands that do different work. To tell our overhead from the work itself, each is
given a floor: ``lean_floor.py`` does only the reads and the decoding the command cannot do
without, on two processes, with no CLI around it (raw socket + hiredis + msgspec); and the
command's own start-up is timed as the same command against an empty database (database 2:
the interpreter, the imports, the connection, the empty walk and SCAN). The bound printed is

    floor + the command's start-up - the floor script's own (it too, on the empty database)

over ``export-all`` of the same layout: what the command would take if everything it does
beyond that least work cost nothing. The TypeScript floors do not even SCAN: they read the
keys from a file one SCAN wrote before any timing. A target below that bound cannot be met on this
machine by any code that starts as this CLI starts.

msgspec does not check the UTF-8 of what it skips; ``stats`` (both layouts) and the
TypeScript ``list`` must, since they name a session whose bytes are not UTF-8 as unreadable,
as every other command does (README, "What an export does with bad data"). Their floors are
therefore also timed with that check (``lean_floor.py --utf8``), and the bound is taken with
it; both are printed. The native ``list`` reads no stored text, so has no such row.

``stats`` must also count what it decoded: the floors of ``stats`` are timed a third time
with the least counting (``--utf8 --count``: each counted field taken once from every turn
and tallied in C-level passes, with none of the per-session work, type checks or merges a
correct count needs), and the bound of ``stats`` is taken with that; all three are printed.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STARTS = {
    "stats": "start-up: memory stats, empty database",
    "list": "start-up: memory list --limit 0, empty database",
}
LEAN_START = "start-up: lean floor, empty database"
NATIVE_EXPORT = "export-all --format jsonl"
TS_EXPORT = "ts: export-all --format jsonl"
TS_PREFIX = "neurolink:conversation:"
FLOORS = {
    # floor row -> (the command's row, its export-all row, the target)
    "floor of stats (lean, 2 processes)": ("memory stats", NATIVE_EXPORT, 0.8),
    "floor of list (lean, 2 processes)": ("memory list --limit 0", NATIVE_EXPORT, 0.5),
    "ts: floor of stats (lean, 2 processes)": ("ts: memory stats", TS_EXPORT, 0.8),
    "ts: floor of list (lean, 2 processes)": ("ts: memory list --limit 0", TS_EXPORT, 0.5),
}
CHECKED = " + UTF-8 check"  # the floor's row with lean_floor.py --utf8 (not the native list)
UTF8_FLOORS = [name for name in FLOORS if name != "floor of list (lean, 2 processes)"]
COUNTED = " + UTF-8 check + least counting"  # stats floors' row with --utf8 --count
COUNT_FLOORS = [name for name in FLOORS if "stats" in name]


def floor_cases(
    case: Any, python: str, neurolink: str, env: dict[str, str], ts_env: dict[str, str] | None
) -> list[Any]:
    """The rows (``case`` is bench_export's Case class); ``ts_env`` None: no TypeScript rows."""
    lean = [python, str(HERE / "lean_floor.py")]
    prefix = env["NEUROLINK_KEY_PREFIX"]
    empty = {**env, "REDIS_URL": env["REDIS_URL"].rsplit("/", 1)[0] + "/2"}
    rows = [
        case(STARTS["stats"], [neurolink, "memory", "stats", "--format", "json"], env=empty),
        case(
            STARTS["list"],
            [neurolink, "memory", "list", "--limit", "0", "--format", "jsonl"],
            env=empty,
        ),  # fmt: skip
        case(LEAN_START, [*lean, empty["REDIS_URL"], prefix, "native", "stats"], env=empty),
    ]
    keys = None
    if ts_env is not None:  # the TypeScript keys, SCANned once before any timing
        keys = tempfile.mkstemp(prefix="nl-bench-keys-")[1]
        atexit.register(os.unlink, keys)
        subprocess.run([*lean, ts_env["REDIS_URL"], TS_PREFIX, "ts", "keys", keys], check=True)
    for name in FLOORS:
        ts = name.startswith("ts: ")
        if ts and ts_env is None:
            continue
        url = (ts_env if ts and ts_env else env)["REDIS_URL"]
        key_prefix = TS_PREFIX if ts else prefix
        what = "stats" if "stats" in name else "list"
        floor = [*lean, url, key_prefix, "ts" if ts else "native", what]
        if ts and keys:
            floor += ["2", keys]  # no SCAN: lower still than a floor that must SCAN
        rows.append(case(name, floor))
        if name in UTF8_FLOORS:
            rows.append(case(name + CHECKED, [*floor, "--utf8"]))
        if name in COUNT_FLOORS:
            rows.append(case(name + COUNTED, [*floor, "--utf8", "--count"]))
    return rows


def floor_targets(rows: list[dict[str, Any]]) -> None:
    """Each floor with the CLI's start-up, against the command and its target."""
    by = {r["case"]: r for r in rows}
    if LEAN_START not in by or any(s not in by for s in STARTS.values()):
        return
    lean = by[LEAN_START]["median_s"]
    print(
        f"  info the CLI's start-up on an empty database: memory stats "
        f"{by[STARTS['stats']]['median_s'] * 1000:.0f}ms, memory list "
        f"{by[STARTS['list']]['median_s'] * 1000:.0f}ms; the lean floor's own {lean * 1000:.0f}ms"
    )
    for name, (command, export, limit) in FLOORS.items():
        if name not in by or export not in by:
            continue
        start = by[STARTS["stats" if "stats" in command else "list"]]["median_s"] - lean
        # the floor, then each added step the command must also take (where timed)
        steps = [(name, "floor"), (name + CHECKED, "with the UTF-8 check"),
                 (name + COUNTED, "with the least counting")]  # fmt: skip
        timed = [(by[row]["median_s"], label) for row, label in steps if row in by]
        bounds = [(floor + start) / by[export]["median_s"] for floor, _ in timed]
        bound = bounds[-1]  # the bound: with every step
        said = (
            ", ".join(
                f"{label} {floor * 1000:.0f}ms = {b:.2f}x"
                for (floor, label), b in zip(timed, bounds, strict=True)
            )
            + f" (each + its start-up, over {export})"
        )
        now = by[command]["median_s"] / by[export]["median_s"] if command in by else None
        verdict = "cannot be met" if bound > limit else "leaves room"
        shown = f"; the command itself {now:.2f}x" if now is not None else ""
        print(f"  info {command}: {said}{shown}: the target {limit} {verdict}")
