"""``neurolink memory import``: documents from JSON, JSONL or an export-all directory into Redis."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import click

from neurolink_cli.appcontext import AppContext
from neurolink_cli.environment import Environment
from neurolink_cli.errors import PartialFailure

pass_app = click.make_pass_decorator(AppContext)


@click.command("import", short_help="Import sessions from JSON, JSONL, stdin or an export-all dir.")
@click.argument("source", metavar="FILE|DIR|-", type=click.Path(allow_dash=True))
@click.option(
    "--on-conflict",
    type=click.Choice(["fail", "skip", "replace"]),
    default="fail",
    show_default=True,
    help="When a session already exists: fail (write nothing at all), skip it, or replace it.",
)
@pass_app
def memory_import(app: AppContext, source: str, on_conflict: str) -> None:
    """Import sessions from a JSON or JSONL file, stdin (-), or an export-all directory.

    Every document is checked before anything is written; a bad one, an id given twice,
    or (with the default --on-conflict fail) a session that already exists means nothing
    is imported. A directory must hold the manifest.json of 'export-all --output DIR';
    a file whose sha256 differs from it refuses the whole import. Every field of a
    document is kept, so export, delete, import, export gives the same documents; this is
    also how sessions move between two Redis servers.

    \b
    Example:
      neurolink memory import s-123.json
      neurolink memory import ./exports/ --on-conflict skip
      neurolink --redis-url redis://old:6379 memory export-all \\
        | neurolink --redis-url redis://new:6379 memory import -
    """
    from neurolink_cli.importer.run import import_sessions

    repo = app.repository()
    with _progress(app.env) as progress:
        report = import_sessions(
            repo, source, on_conflict, stdin=app.env.stdin.buffer, warn=app.warn, progress=progress
        )
    if report.failed:
        raise PartialFailure(
            f"{report.summary()}; {len(report.failed)} sessions were not imported (see above)"
        )
    app.note(report.summary())


@contextlib.contextmanager
def _progress(env: Environment) -> Iterator[Callable[[int, int], None] | None]:
    """Sessions and turns written so far, on stderr, only when stderr is a terminal."""
    if not env.stderr_isatty:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("importing {task.fields[done]}"),
        transient=True,
        console=env.rich_console(stderr=True),
    ) as bar:
        task = bar.add_task("import", total=None, done="")
        state = {"sessions": 0, "turns": 0, "shown": 0.0}

        def advance(sessions: int, turns: int) -> None:
            state["sessions"] += sessions
            state["turns"] += turns
            if time.monotonic() - state["shown"] >= 0.1:
                state["shown"] = time.monotonic()
                done = f"{state['sessions']:,} sessions, {state['turns']:,} turns"
                bar.update(task, done=done)

        yield advance
