"""``neurolink memory ...``: list, export, export-all, delete (the history in Redis)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from neurolink_cli.appcontext import AppContext
from neurolink_cli.cli.completions import complete_session_ids
from neurolink_cli.cli.lazygroup import LazyGroup
from neurolink_cli.errors import BadInput, NeurolinkError, PartialFailure, SessionNotFound
from neurolink_cli.export.registry import bulk_choices, single_choices
from neurolink_cli.export.request import export_options, time_range
from neurolink_cli.util.timeutil import now_ms, parse_duration
from neurolink_cli.util.validate import check_session_id

if TYPE_CHECKING:
    from neurolink_cli.export.transform import ExportOptions
    from neurolink_cli.store.deletion import DeleteTarget

pass_app = click.make_pass_decorator(AppContext)


def _sessions(n: int) -> str:
    return f"{n:,} session" if n == 1 else f"{n:,} sessions"


def time_options(func: Any) -> Any:
    """``--start-time/--end-time`` and their aliases ``--since/--until``, kept as separate
    options so that an error names the one the user typed."""
    for name, alias, dest, text in (
        ("--end-time", "--until", "end_time", "Only turns before T (exclusive)"),
        ("--start-time", "--since", "start_time", "Only turns at or after T"),
    ):
        func = click.option(alias, f"{dest}_alias", metavar="T", hidden=True)(func)
        func = click.option(
            name,
            dest,
            metavar="T",
            help=f"{text}: ISO 8601 or a duration ago (30m, 7d). Alias: {alias}.",
        )(func)
    return func


def _typed(
    value: str | None, alias_value: str | None, name: str, alias: str
) -> tuple[str | None, str]:
    """The value given and the option name it was typed with."""
    if value is not None and alias_value is not None:
        raise BadInput(f"give {name} or {alias}, not both")
    return (alias_value, alias) if alias_value is not None else (value, name)


class OctalMask(click.ParamType):
    """``--umask``: an octal mask such as 077 or 022 (a type, so defaults convert too)."""

    name = "umask"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        try:
            mask = int(value, 8)
        except ValueError:
            mask = -1
        if not 0 <= mask <= 0o777:
            self.fail(f"{value!r} is not an octal umask such as 077 or 022", param, ctx)
        return mask


def export_filter_options(func: Any) -> Any:
    """The options every export shares; they reach :func:`_export_options` as ``**flags``."""
    func = click.option(
        "--umask",
        default="077",
        show_default=True,
        type=OctalMask(),
        help="Permissions of written files: 077 gives files 0600 and directories 0700 "
        "(they hold private conversations); 022 makes them readable by everyone.",
    )(func)
    func = click.option(
        "--no-csv-guard",
        is_flag=True,
        help="Do not prefix ' to CSV cells starting with = + - @ (formula guard).",
    )(func)
    func = click.option(
        "--redact-pattern",
        "redact_patterns",
        metavar="REGEX",
        multiple=True,
        help="Also redact what this regular expression matches (repeatable).",
    )(func)
    func = click.option(
        "--redact",
        is_flag=True,
        help="Replace e-mails, phones, card numbers, IPs, API keys in content "
        "with [REDACTED:<kind>] (the stored data is not changed).",
    )(func)
    func = time_options(func)
    func = click.option(
        "--include-metadata/--no-include-metadata",
        default=True,
        show_default=True,
        help="Keep session metadata and per-turn model/provider/tokens.",
    )(func)
    return func


def _export_options(
    fmt: str,
    *,
    start_time: str | None,
    end_time: str | None,
    start_time_alias: str | None = None,
    end_time_alias: str | None = None,
    redact_patterns: tuple[str, ...],
    no_csv_guard: bool,
    **flags: Any,
) -> ExportOptions:
    """The flags of an export command as :class:`ExportOptions` (the SDK's path too:
    :func:`neurolink_cli.export.request.export_options`)."""
    start_time, start_name = _typed(start_time, start_time_alias, "--start-time", "--since")
    end_time, end_name = _typed(end_time, end_time_alias, "--end-time", "--until")
    return export_options(
        fmt,
        start_time=start_time,
        end_time=end_time,
        start_name=start_name,
        end_name=end_name,
        redact_patterns=redact_patterns,
        csv_guard=not no_csv_guard,
        **flags,
    )


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "import": "neurolink_cli.cli.memory_import:memory_import",
        "stats": "neurolink_cli.cli.memory_stats:memory_stats",
        "server": "neurolink_cli.cli.memory_server:server",
        "show": "neurolink_cli.cli.memory_show:memory_show",
        "search": "neurolink_cli.cli.memory_search:memory_search",
        "archive": "neurolink_cli.cli.memory_archive:memory_archive",
    },
)
def memory() -> None:
    """List, export, import, summarise and delete the conversation history kept in Redis.

    Works on sessions written by neurolink and by the TypeScript SDK @juspay/neurolink.
    Data goes to stdout, messages to stderr.

    \b
    Example:
      neurolink memory list --since 7d
      neurolink memory export --session-id s-123 --format csv > s-123.csv
      neurolink memory export-all --output ./exports/
    """


@memory.command("list")
@click.option("--user-id", metavar="U", help="Only this user's sessions.")
@click.option(
    "--since", metavar="T", help="Only sessions updated at or after T (ISO 8601 or 7d...)."
)
@click.option("--until", metavar="T", help="Only sessions updated before T.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="At most N sessions, newest first; 0 for all.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "jsonl"]),
    help="Output format [default: table on a terminal, jsonl when piped].",
)
@click.option("--errors", "errors_only", is_flag=True, help="Only sessions with a failed turn.")
@pass_app
def memory_list(
    app: AppContext,
    user_id: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    fmt: str | None,
    errors_only: bool,
) -> None:
    """List sessions, most recently updated first.

    \b
    Example:
      neurolink memory list --since 7d --limit 20
      neurolink memory list --format json | jq '.[].sessionId'
    """
    from neurolink_cli.cli.listing import print_sessions

    since_ms, until_ms = time_range(since, "--since", until, "--until")
    rows = app.repository().list(
        since_ms=since_ms,
        until_ms=until_ms,
        user_id=user_id,
        limit=limit,
        errors_only=errors_only,
        share=True,
    )
    warnings = app.repository().warnings
    for bad in warnings:
        app.warn(bad.warning)
    fmt = fmt or ("table" if app.env.stdout_isatty else "jsonl")
    total = None
    filtered = since or until or user_id or errors_only
    if fmt == "table" and limit and len(rows) >= limit and not filtered:
        total = app.repository().count_estimate()  # "50 of 1,000 shown"
    print_sessions(rows, fmt, app.env, limit=limit if fmt == "table" else 0, total=total)
    unread = sum(1 for bad in warnings if not bad.skip)
    if unread:  # a session left out is a partial failure (a key that is no session is not)
        raise PartialFailure(f"{unread} sessions could not be read and are not listed (see above)")


@memory.command("export")
@click.option(
    "--session-id",
    required=True,
    metavar="ID",
    help="The session to export.",
    shell_complete=complete_session_ids,
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(single_choices()),
    default="json",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    "-o",
    metavar="FILE|-",
    default="-",
    help="Write to FILE (atomically, mode 0600 by default) instead of stdout.",
)
@export_filter_options
@pass_app
def memory_export(app: AppContext, session_id: str, fmt: str, output: str, **flags: Any) -> None:
    """Export one session as JSON, CSV, JSONL, Markdown or chat-jsonl (fine-tuning).

    A session with no turn in the time range is exported with empty turns.

    \b
    Example:
      neurolink memory export --session-id s-123 > s-123.json
      neurolink memory export --session-id s-123 --format csv --since 24h -o s-123.csv
    """
    from neurolink_cli.export.run import export_one
    from neurolink_cli.util.atomic import open_output

    check_session_id(session_id)
    opts = _export_options(fmt, **flags)
    repo = app.repository()
    with open_output(output, opts.file_mode, stdout=app.env.stdout_bytes) as out:
        export_one(repo, session_id, opts, out)


@memory.command("export-all")
@click.option(
    "--output",
    "-o",
    metavar="DIR",
    help="Write one file per session and manifest.json into DIR or s3://BUCKET/PREFIX/ "
    "(else JSONL/CSV on stdout).",
)
@click.option(
    "--resume", is_flag=True, help="With --output: skip sessions an earlier run completed."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(bulk_choices()),
    default="json",
    show_default=True,
    help="File format (on stdout json means one document per line).",
)
@export_filter_options
@click.option("--user-id", metavar="U", help="Only this user's sessions.")
@click.option(
    "--full-scan",
    is_flag=True,
    help="Find native sessions by SCAN over every primary instead of the index (audits).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Batches in flight per process (a stream is shared by two processes: from one Redis "
    "with 1; from a Redis Cluster, whose primaries are read at once, with any N).",
)
@click.option("--errors", "errors_only", is_flag=True, help="Only sessions with a failed turn.")
@click.option("--min-turns", type=click.IntRange(min=0), default=0, metavar="N",
              help="Leave out sessions with fewer than N turns (chat-jsonl: messages, not system).")  # fmt: skip
@pass_app
def memory_export_all(
    app: AppContext,
    output: str | None,
    resume: bool,
    fmt: str,
    full_scan: bool,
    jobs: int,
    **flags: Any,
) -> None:
    """Export every session: JSONL (or one CSV) on stdout, or one file each into a directory.

    Sessions with no turn in the time range are left out (listed as skipped in the
    manifest). Sessions that cannot be read are reported and the export goes on; the exit
    status is then 1. --format chat-jsonl writes fine-tuning data (OpenAI fine-tuning,
    Hugging Face TRL "messages"): one {"messages": [...]} line per session, without failed
    or interrupted turns.

    \b
    Example:
      neurolink memory export-all --output ./exports/            # nightly archive
      neurolink memory export-all --since 24h | jq -c '{sessionId, n: (.turns|length)}'
      neurolink memory export-all --format chat-jsonl --min-turns 4 > train.jsonl
    """
    from neurolink_cli.cli.progress import export_progress
    from neurolink_cli.export.run import export_all

    bucket = bool(output and output.startswith("s3://"))  # the archive's destination layer
    if resume and (not output or bucket):
        raise BadInput("--resume needs --output DIR (it continues a directory export)")
    opts = _export_options(fmt, **flags)
    repo = app.repository()
    with export_progress(app.env, repo.count_estimate) as progress:
        out = None if output else app.env.stdout_bytes
        run: Any = export_all
        if bucket:
            from neurolink_cli.export.remote import export_all_remote as run
        ledger = run(
            repo,
            opts,
            out,
            directory=output,
            resume=resume,
            full_scan=full_scan,
            progress=progress,
            warn=app.warn,
            jobs=jobs,
        )
    summary = ledger.summary(output)
    if ledger.problems:
        raise PartialFailure(summary)
    app.note(summary)  # also when piped: a cron log shows what the run did


@memory.command("delete")
@click.option(
    "--session-id",
    "session_ids",
    multiple=True,
    metavar="ID",
    help="Delete this session (repeatable).",
    shell_complete=complete_session_ids,
)
@click.option("--all", "delete_all", is_flag=True, help="Delete every session under the prefix.")
@click.option(
    "--older-than", metavar="DURATION", help="Delete sessions not updated for DURATION (30d, 2w)."
)
@click.option("--user-id", metavar="U", help="Only this user's sessions (with any of the three).")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted, delete nothing.")
@click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation (required without a terminal)."
)
@pass_app
def memory_delete(
    app: AppContext,
    session_ids: tuple[str, ...],
    delete_all: bool,
    older_than: str | None,
    user_id: str | None,
    dry_run: bool,
    yes: bool,
) -> None:
    """Delete sessions (their turns, metadata and index entry).

    Asks for confirmation on a terminal; without one, --yes is required.

    \b
    Example:
      neurolink memory delete --session-id s-123
      neurolink memory delete --older-than 90d --dry-run
    """
    chosen = sum([bool(session_ids), delete_all, older_than is not None])
    if chosen != 1:
        raise BadInput("choose exactly one of --session-id ID, --all or --older-than DURATION")
    for sid in session_ids:
        check_session_id(sid)
    cutoff = now_ms() - parse_duration(older_than) if older_than else None
    if not dry_run and not yes and not app.env.stdin_isatty:
        raise BadInput(
            "refusing to delete without confirmation: no terminal to ask on; "
            "add --yes (or --dry-run to see what would go)"
        )
    repo = app.repository()
    everything = delete_all and not user_id  # removed by SCAN + UNLINK, not one by one
    missing: list[str] = []
    targets: list[DeleteTarget] = []
    if session_ids:
        targets = repo.select(session_ids=session_ids, user_id=user_id)
        found = {t.session_id for t in targets}
        missing = [sid for sid in dict.fromkeys(session_ids) if sid not in found]
    elif not everything:  # --older-than and/or --user-id: each session judged on its own
        targets = repo.select(older_than_ms=cutoff, user_id=user_id)

    if dry_run:
        rows = (
            [r.session_id for r in repo.list(limit=0)]
            if everything
            else [t.session_id for t in targets]
        )
        app.env.stdout.write("".join(sid + "\n" for sid in rows))
        app.env.stdout.flush()
        app.note(f"dry run: {_sessions(len(rows))} would be deleted")
    elif everything or targets:
        if everything:
            what = (
                f"every session under the prefixes {app.settings.key_prefix!r} and "
                f"{app.settings.upstream_prefix!r} (TypeScript SDK)"
            )
        else:
            what = targets[0].session_id if len(targets) == 1 else f"{len(targets)} sessions"
        if not yes and not app.env.confirm(f"Delete {what} at {app.shown_url()}?"):
            raise NeurolinkError("nothing deleted")
        if everything:
            app.note(f"deleted {_sessions(repo.delete_all())}")
        else:
            report = repo.delete_selected(targets)
            app.note(f"deleted {_sessions(report.deleted)}")
            for t in report.kept:
                app.warn(f"{t.session_id} ({t.key}): changed since selected, kept")
            if report.kept and not missing:
                raise PartialFailure(
                    f"{_sessions(len(report.kept))} changed since selected, kept; "
                    "run the command again to delete them in their new state"
                )
    elif not missing:
        app.note("no session matched; nothing deleted")
    if missing:
        raise SessionNotFound(*missing)


# -- the TypeScript CLI's names, for users coming from it ----------------------------------
@memory.command("history")
@click.argument("session_id", metavar="SESSION_ID", shell_complete=complete_session_ids)
@click.pass_context
def memory_history(ctx: click.Context, session_id: str) -> None:
    """One session's turns as JSON (the TypeScript CLI's name for `memory export`).

    \b
    Example:
      neurolink memory history s-123      same as: neurolink memory export --session-id s-123
    """
    ctx.invoke(memory_export, session_id=session_id)


@memory.command("clear")
@click.argument(
    "session_id", metavar="[SESSION_ID]", required=False, shell_complete=complete_session_ids
)
@click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation (required without a terminal)."
)
@click.pass_context
def memory_clear(ctx: click.Context, session_id: str | None, yes: bool) -> None:
    """Delete one session, or with no id every session (the TypeScript CLI's name for `delete`).

    \b
    Example:
      neurolink memory clear s-123        same as: neurolink memory delete --session-id s-123
      neurolink memory clear --yes        same as: neurolink memory delete --all --yes
    """
    if session_id is None:
        ctx.invoke(memory_delete, delete_all=True, yes=yes)
    else:
        ctx.invoke(memory_delete, session_ids=(session_id,), yes=yes)
