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


def print_sessions(rows: Sequence[SessionSummary], fmt: str, env: Environment) -> None:
    """Write the rows to ``env``'s stdout in ``fmt`` (table, json or jsonl)."""
    out = env.stdout_bytes
    if fmt == "json":
        out.write(orjson.dumps([r.as_dict() for r in rows], option=orjson.OPT_INDENT_2) + b"\n")
    elif fmt == "jsonl":
        out.write(b"".join(orjson.dumps(r.as_dict()) + b"\n" for r in rows))
    else:
        from rich.table import Table

        show_title = any(r.title for r in rows)
        show_ttl = any(r.ttl for r in rows)
        table = Table(box=None, header_style="bold", pad_edge=False)
        longest_id = max((len(r.session_id) for r in rows), default=7)
        table.add_column("SESSION", no_wrap=True, min_width=min(longest_id, 40), overflow="fold")
        table.add_column("USER", no_wrap=True, max_width=24, overflow="ellipsis")
        table.add_column("TURNS", justify="right", no_wrap=True)
        table.add_column("UPDATED (UTC)", no_wrap=True)
        table.add_column("MODEL", no_wrap=True, max_width=28, overflow="ellipsis")
        table.add_column("SOURCE", no_wrap=True)
        if show_ttl:
            table.add_column("TTL", justify="right", no_wrap=True)
        if show_title:
            table.add_column("TITLE", no_wrap=True, overflow="ellipsis", ratio=1)
        for r in rows:
            cells = [
                r.session_id,
                r.user_id or "-",
                str(r.turns),
                (r.updated_at or "-").replace("T", " ")[:16],
                r.model or "-",
                r.source,
            ]
            if show_ttl:
                cells.append(_ttl(r.ttl))
            if show_title:
                cells.append(r.title or "")
            table.add_row(*cells)
        console = env.rich_console()
        if rows:
            console.print(table)
        else:
            console.print("no sessions", style="dim")
    out.flush()
