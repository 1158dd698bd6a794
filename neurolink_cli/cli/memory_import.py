"""``neurolink memory import``: documents from JSON, JSONL or an export-all directory into Redis."""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Callable, Iterator

import click
from click.core import ParameterSource

from neurolink_cli.appcontext import AppContext
from neurolink_cli.environment import Environment
from neurolink_cli.errors import EXIT_INTERRUPTED, PartialFailure

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
@click.option(
    "--skip-invalid-ids",
    is_flag=True,
    help="Import the other sessions when some ids cannot be native keys (whitespace, "
    "'{' or '}', over 256 bytes: ids the TypeScript SDK allows); those are named and left out.",
)
@pass_app
def memory_import(app: AppContext, source: str, on_conflict: str, skip_invalid_ids: bool) -> None:
    """Import sessions from a JSON or JSONL file, stdin (-), or an export-all directory.

    Every document is checked before anything is written; a bad one, an id given twice,
    or (with the default --on-conflict fail) a session that already exists means nothing
    is imported. A directory must hold the manifest.json of 'export-all --output DIR';
    a file whose sha256 differs from it refuses the whole import. Every field of a
    document is kept, so export, delete, import, export gives the same documents; this is
    also how sessions move between two Redis servers.

    Sessions whose id cannot be a native key (the TypeScript SDK allows ids with spaces or
    braces, or longer than 256 bytes) are all named before anything is written; with
    --skip-invalid-ids the others are imported. Times given as epoch milliseconds become
    RFC 3339 (UTC, Z, milliseconds).

    Each session is written whole or not at all. If Redis fails in the middle (out of
    memory, gone away) the import stops and prints how many sessions it imported, which
    one failed and why, and the command that finishes the job (exit 1; 4 if Redis went
    away).

    \b
    Example:
      neurolink memory import s-123.json
      neurolink memory import ./exports/ --on-conflict skip
      neurolink --redis-url redis://old:6379 memory export-all \\
        | neurolink --redis-url redis://new:6379 memory import -
    """
    from neurolink_cli.importer.run import ImportStopped, import_sessions

    repo = app.repository()
    try:
        with _progress(app.env) as progress:
            report = import_sessions(
                repo,
                source,
                on_conflict,
                skip_invalid_ids=skip_invalid_ids,
                stdin=app.env.stdin.buffer,
                warn=app.warn,
                progress=progress,
            )
    except ImportStopped as exc:
        command = _finish_command(source, exc.finish_on_conflict, skip_invalid_ids)
        exc.args = (exc.message(command),)
        if exc.exit_code == EXIT_INTERRUPTED:  # the edge prints only "interrupted" for 130
            app.warn(str(exc))
            raise KeyboardInterrupt from None
        raise
    if report.failed:
        raise PartialFailure(
            f"{report.summary()}; {len(report.failed)} sessions were not imported (see above)"
        )
    app.note(report.summary())


def _finish_command(source: str, on_conflict: str, skip_invalid_ids: bool) -> str:
    """The command line that finishes a stopped import: the root options given on the
    command line (a URL's password masked), then this import with ``on_conflict``."""
    from neurolink_cli.config import mask_url

    root = click.get_current_context().find_root()
    words = ["neurolink"]
    for param in root.command.params:
        name = param.name or ""
        if not isinstance(param, click.Option) or name == "debug":
            continue
        if root.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue
        value = root.params.get(name)
        if param.is_flag:
            if value:
                words.append(param.opts[-1])
        elif value is not None:
            words += [param.opts[-1], mask_url(value) if name == "redis_url" else str(value)]
    words += ["memory", "import", source, "--on-conflict", on_conflict]
    if skip_invalid_ids:
        words.append("--skip-invalid-ids")
    command = " ".join(shlex.quote(w) for w in words)
    return command + " (with the same input on stdin)" if source == "-" else command


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
