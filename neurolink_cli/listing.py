"""How ``memory list`` prints its rows: a rich table for people, JSON/JSONL for scripts."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import orjson

from .models import SessionSummary


def _ttl(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def print_sessions(rows: Sequence[SessionSummary], fmt: str) -> None:
    """Write the rows to stdout in ``fmt`` (table, json or jsonl)."""
    out = sys.stdout.buffer
    if fmt == "json":
        out.write(orjson.dumps([r.as_dict() for r in rows], option=orjson.OPT_INDENT_2) + b"\n")
    elif fmt == "jsonl":
        out.write(b"".join(orjson.dumps(r.as_dict()) + b"\n" for r in rows))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, header_style="bold", pad_edge=False)
        for name, justify in (
            ("SESSION", "left"),
            ("USER", "left"),
            ("TURNS", "right"),
            ("UPDATED", "left"),
            ("MODEL", "left"),
            ("SOURCE", "left"),
            ("TTL", "right"),
            ("TITLE", "left"),
        ):
            table.add_column(
                name,
                justify=justify,  # type: ignore[arg-type]
                overflow="fold" if name == "SESSION" else "ellipsis",
                no_wrap=name != "SESSION",
            )  # type: ignore[arg-type]
        for r in rows:
            table.add_row(
                r.session_id,
                r.user_id or "-",
                str(r.turns),
                (r.updated_at or "-").replace("T", " ")[:19],
                r.model or "-",
                r.source,
                _ttl(r.ttl),
                r.title or "",
            )
        console = Console(highlight=False)
        if rows:
            console.print(table)
        else:
            console.print("no sessions", style="dim")
    out.flush()
