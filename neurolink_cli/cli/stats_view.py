"""How ``memory stats`` prints: a two-column table for people, indented JSON for scripts.

The numbers are computed by :mod:`neurolink_cli.stats`; this is only their presentation.
"""

from __future__ import annotations

from typing import IO

import orjson

from neurolink_cli.environment import Environment
from neurolink_cli.stats import Stats
from neurolink_cli.util.timeutil import ms_to_rfc3339


def _when(ms: int | None) -> str:
    return "-" if ms is None else ms_to_rfc3339(ms)[:19].replace("T", " ") + " UTC"


def write_json(stats: Stats, out: IO[bytes]) -> None:
    """The stats as indented JSON with a final newline."""
    out.write(orjson.dumps(stats.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    out.flush()


def print_table(stats: Stats, env: Environment) -> None:
    """The stats as a two-column table on stdout (for people at a terminal)."""
    from rich.table import Table

    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("share", justify="right", style="dim", no_wrap=True)

    def share(n: int) -> str:
        return f"{100 * n / stats.turns:.0f}%" if stats.turns else ""

    table.add_row("sessions", f"{stats.sessions:,}", "")
    table.add_row("turns", f"{stats.turns:,}", "")
    for role, n in stats.by_role.most_common():
        table.add_row(f"  {role}", f"{n:,}", share(n))
    if stats.by_model:
        table.add_row("by model", "", "")
        for key, n in stats.by_model.most_common():
            table.add_row(f"  {key}", f"{n:,}", share(n))
    table.add_row("tokens in", f"{stats.prompt_tokens:,}", "")
    table.add_row("tokens out", f"{stats.completion_tokens:,}", "")
    table.add_row("cost", "-" if stats.cost is None else f"${stats.cost:,.4f}", "")
    table.add_row("oldest activity", _when(stats.oldest_ms), "")
    table.add_row("newest activity", _when(stats.newest_ms), "")
    table.add_row("expiring within 24h", f"{stats.expiring:,}", "")
    table.add_row("failed turns", f"{stats.errors:,}", share(stats.errors) if stats.errors else "")
    for label, counts in (("provider", stats.errors_by_provider), ("model", stats.errors_by_model)):
        for key, n in counts.most_common():
            table.add_row(f"  {label} {key}", f"{n:,}", "")
    env.rich_console().print(table)
