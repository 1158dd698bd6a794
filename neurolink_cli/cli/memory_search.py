"""``neurolink memory search PATTERN``: the turns that match, grep-style (CONTRACT §9)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from neurolink_cli.appcontext import AppContext
from neurolink_cli.errors import PartialFailure

if TYPE_CHECKING:
    from neurolink_cli.search import Hit

pass_app = click.make_pass_decorator(AppContext)
FLUSH_EVERY = 256  # JSON lines per write when piped


@click.command("search", short_help="Find the turns whose content matches a pattern.")
@click.argument("pattern")
@click.option("--regex", "-E", "regex", is_flag=True, help="PATTERN is a regular expression.")
@click.option("--ignore-case", "-i", is_flag=True, help="Match regardless of case.")
@click.option(
    "--role",
    type=click.Choice(["user", "assistant", "system", "tool", "tool_call", "tool_result"]),
    help="Only turns of this role.",
)
@click.option("--user-id", metavar="U", help="Only this user's sessions.")
@click.option("--model", metavar="M", help="Only turns of this model (name or provider/name).")
@click.option("--since", metavar="T", help="Only turns at or after T (ISO 8601 or 7d...).")
@click.option("--until", metavar="T", help="Only turns before T.")
@click.option("--errors", "errors_only", is_flag=True, help="Only failed turns.")
@pass_app
def memory_search(
    app: AppContext,
    pattern: str,
    regex: bool,
    ignore_case: bool,
    role: str | None,
    user_id: str | None,
    model: str | None,
    since: str | None,
    until: str | None,
    errors_only: bool,
) -> None:
    """Find the turns whose content matches PATTERN, in every session of both layouts.

    A substring by default; --regex for a regular expression (Python syntax). A failed
    turn also matches on its error message and type. On a terminal: session id, turn
    index, role, time and a snippet with the match highlighted. Piped: one JSON object per
    matching turn, {"sessionId", "userId", "index", "role", "timestamp", "content"} with
    the whole content. Exit status 1 when nothing matched (as grep).

    \b
    Example:
      neurolink memory search 'order #4411'
      neurolink memory search -i --regex 'refund(ed)?' --role assistant --since 7d
      neurolink memory search timeout --errors | jq -r .sessionId | sort -u
    """
    from neurolink_cli.cli.memory import time_range
    from neurolink_cli.search import SearchQuery, search

    start, end = time_range(since, "--since", until, "--until")
    query = SearchQuery(
        pattern=pattern, regex=regex, ignore_case=ignore_case, role=role, user_id=user_id,
        model=model, start_ms=start, end_ms=end, errors_only=errors_only,
    )  # fmt: skip
    unreadable: list[str] = []
    hits = search(app.repository(), query, warn=app.warn, unreadable=unreadable)
    found = _print_hits(app, hits) if app.env.stdout_isatty else _write_json_lines(app, hits)
    if unreadable:
        raise PartialFailure(
            f"{len(unreadable)} sessions could not be read and were not searched (see above)"
        )
    if not found:
        raise click.exceptions.Exit(1)


def _write_json_lines(app: AppContext, hits: Iterator[Hit]) -> int:
    import orjson

    out = app.env.stdout_bytes
    lines: list[bytes] = []
    found = 0
    for hit in hits:
        lines.append(orjson.dumps(hit.as_json()) + b"\n")
        found += 1
        if len(lines) >= FLUSH_EVERY:
            out.write(b"".join(lines))
            lines = []
    out.write(b"".join(lines))
    out.flush()
    return found


def _print_hits(app: AppContext, hits: Iterator[Hit]) -> int:
    from rich.text import Text

    from neurolink_cli.cli.show_view import ROLE_STYLE, when
    from neurolink_cli.search import snippet

    console = app.env.rich_console()
    found = 0
    for hit in hits:
        found += 1
        role = str(hit.turn.get("role"))
        head = Text.assemble(
            (hit.doc.session_id, "bold blue"),
            ("  #", "dim"),
            (str(hit.turn.get("index")), "dim"),
            ("  ", ""),
            (role, ROLE_STYLE.get(role, "bold")),
            ("  " + when(hit.turn.get("timestamp")) + "  ", "dim"),
        )
        room = max(app.env.width - len(head.plain), 30)
        text, start, end = snippet(hit, room)
        line = Text(text, no_wrap=True, overflow="ellipsis")
        line.stylize("bold reverse yellow", start, end)
        console.print(head + line, soft_wrap=False, no_wrap=True, overflow="ellipsis")
    return found
