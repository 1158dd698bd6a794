"""How ``memory list`` prints its rows: a rich table for people, JSON/JSONL for scripts."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from neurolink_cli.environment import Environment
from neurolink_cli.models import SessionSummary


def _ttl(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# Table columns, most important first; when the terminal is too narrow the last ones go
# first. The session id is never cut: it is what a user copies.
_DROP_ORDER = ("TITLE", "TTL", "ERRORS", "SOURCE", "MODEL", "USER", "UPDATED (UTC)")
_SHRINK = {"USER": 12, "MODEL": 16, "TITLE": 20}  # ellipsis down to these widths
_GAP = 2  # rich's padding between columns (box=None, no edge padding)


def table_columns(rows: Sequence[SessionSummary]) -> dict[str, list[str]]:
    """Every column's header and cells, in display order (empty TTL/TITLE left out)."""
    columns = {
        "SESSION": [r.session_id for r in rows],
        "USER": [r.user_id or "-" for r in rows],
        "TURNS": [str(r.turns) for r in rows],
        "UPDATED (UTC)": [(r.updated_at or "-").replace("T", " ")[:16] for r in rows],
        "MODEL": [r.model or "-" for r in rows],
        "SOURCE": [r.source for r in rows],
        "TTL": [_ttl(r.ttl) for r in rows],
        "ERRORS": [str(r.errors) if r.errors else "-" for r in rows],
        "TITLE": [r.title or "" for r in rows],
    }
    if not any(r.errors for r in rows):
        del columns["ERRORS"]
    if not any(r.ttl for r in rows):
        del columns["TTL"]
    if not any(r.title for r in rows):
        del columns["TITLE"]
    return columns


def fit_columns(columns: dict[str, list[str]], width: int) -> dict[str, int]:
    """The columns to show in ``width`` and each one's width: shrink the shrinkable ones,
    then drop the least important, never touching SESSION."""
    natural = {name: max([len(name), *(len(c) for c in cells)]) for name, cells in columns.items()}

    def total(widths: dict[str, int]) -> int:
        return sum(widths.values()) + _GAP * (len(widths) - 1)

    widths = dict(natural)
    for name, floor in _SHRINK.items():
        if total(widths) > width and name in widths:
            widths[name] = max(floor, len(name), widths[name] - (total(widths) - width))
    for name in _DROP_ORDER:
        if total(widths) <= width:
            break
        widths.pop(name, None)
    return widths


def print_sessions(
    rows: Sequence[SessionSummary],
    fmt: str,
    env: Environment,
    *,
    limit: int = 0,
    total: int | None = None,
) -> None:
    """Write the rows to ``env``'s stdout in ``fmt`` (table, json or jsonl).

    A table fits the terminal (``env``'s width) by shortening, then dropping, the
    less important columns; whole session ids always. When ``limit`` cut the list, a note
    on stderr says so ("50 of 1,000 shown; --limit 0 for all").
    """
    out = env.stdout_bytes
    if fmt == "json":
        out.write(orjson.dumps([r.as_dict() for r in rows], option=orjson.OPT_INDENT_2) + b"\n")
    elif fmt == "jsonl":
        out.write(b"".join(orjson.dumps(r.as_dict()) + b"\n" for r in rows))
    else:
        from rich.table import Table

        console = env.rich_console()
        if not rows:
            console.print("no sessions", style="dim")
            out.flush()
            return
        columns = table_columns(rows)
        widths = fit_columns(columns, console.width)
        table = Table(box=None, header_style="bold", pad_edge=False)
        for name, w in widths.items():
            right = name in ("TURNS", "TTL")
            table.add_column(
                name,
                justify="right" if right else "left",
                no_wrap=True,
                overflow="ellipsis",
                min_width=w if name == "SESSION" else None,
                max_width=w,
            )
        for i in range(len(rows)):
            table.add_row(*(columns[name][i] for name in widths))
        console.print(table)
        cut = limit and len(rows) >= limit and (total is None or total > len(rows))
        if cut:
            shown = f"{len(rows):,} of {total:,}" if total else f"{len(rows):,}"
            env.rich_console(stderr=True).print(
                f"{shown} shown (newest first); --limit 0 for all", style="dim"
            )
    out.flush()
