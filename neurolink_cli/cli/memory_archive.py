"""``neurolink memory archive``: the retention job (CONTRACT §8), a thin edge over
:func:`neurolink_cli.archive.run.archive`."""

from __future__ import annotations

from typing import Any

import click

from neurolink_cli.appcontext import AppContext
from neurolink_cli.cli.completions import complete_session_ids
from neurolink_cli.cli.memory import _export_options, export_filter_options
from neurolink_cli.errors import BadInput, NeurolinkError, PartialFailure
from neurolink_cli.util.validate import check_session_id

pass_app = click.make_pass_decorator(AppContext)


@click.command(
    "archive", short_help="Archive sessions to a directory or S3, verify, then delete them."
)
@click.option(
    "--to",
    "to",
    required=True,
    metavar="DIR|s3://BUCKET/PREFIX/",
    help="Where the archive goes: a directory, or an S3(-compatible) bucket prefix.",
)
@click.option(
    "--older-than", metavar="DURATION", help="Sessions not updated for DURATION (30d, 2w)."
)
@click.option(
    "--session-id",
    "session_ids",
    multiple=True,
    metavar="ID",
    help="This session (repeatable).",
    shell_complete=complete_session_ids,
)
@click.option("--all", "everything", is_flag=True, help="Every session under the prefix.")
@click.option("--user-id", metavar="U", help="Only this user's sessions.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "jsonl"]),
    default="json",
    show_default=True,
    help="File format (one file per session).",
)
@click.option(
    "--compress",
    type=click.Choice(["gzip", "none"]),
    default="gzip",
    show_default=True,
    help="Compress each file (.json.gz).",
)
@export_filter_options
@click.option("--keep", is_flag=True, help="Archive only; delete nothing from Redis.")
@click.option("--dry-run", is_flag=True, help="Print the ids that would be archived; do nothing.")
@click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation (required without a terminal)."
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=64),
    default=8,
    show_default=True,
    help="Concurrent uploads to S3.",
)
@click.option(
    "--s3-endpoint-url",
    metavar="URL",
    envvar="AWS_ENDPOINT_URL",
    help="An S3-compatible server (MinIO, Ceph...) [env: AWS_ENDPOINT_URL].",
)
@pass_app
def memory_archive(
    app: AppContext,
    to: str,
    older_than: str | None,
    session_ids: tuple[str, ...],
    everything: bool,
    user_id: str | None,
    fmt: str,
    compress: str,
    keep: bool,
    dry_run: bool,
    yes: bool,
    jobs: int,
    s3_endpoint_url: str | None,
    **flags: Any,
) -> None:
    """Archive sessions, then delete them: each file is written, made durable and verified
    (sha256; on S3 a checksum S3 verifies) before its session is deleted, and only the exact
    version archived is deleted. A session written to meanwhile is kept; the next run
    takes it. Each run gets its own dated folder with a manifest.json; a run that was
    interrupted is finished by running the same command again.

    Asks for confirmation on a terminal; without one, --yes is required (or --keep).

    \b
    Example:
      neurolink memory archive --to /backups/neurolink --older-than 30d --yes
      neurolink memory archive --to s3://my-bucket/neurolink/ --older-than 30d --yes
      neurolink memory archive --to ./archive --session-id s-123 --keep
    """
    from neurolink_cli.archive.run import ArchiveRequest, archive

    for sid in session_ids:
        check_session_id(sid)
    request = ArchiveRequest(
        to=to,
        export=_export_options(fmt, user_id=user_id, **flags),
        session_ids=session_ids or None,
        older_than=older_than,
        everything=everything,
        compress=compress,
        keep=keep,
        dry_run=dry_run,
        jobs=jobs,
        s3_endpoint_url=s3_endpoint_url,
    )
    request.check()
    repo = app.repository()
    if not dry_run and not keep and not yes:
        if not app.env.stdin_isatty:
            raise BadInput(
                "refusing to archive and delete without confirmation: no terminal to ask on; "
                "add --yes (or --keep to delete nothing, --dry-run to see what would go)"
            )
        if not app.env.confirm(
            f"Archive the selected sessions to {to} and delete them from {app.shown_url()}?"
        ):
            raise NeurolinkError("nothing archived")
    from neurolink_cli.cli.progress import export_progress

    with export_progress(app.env, repo.count_estimate) as progress:
        report = archive(repo, request, warn=app.warn, progress=None if dry_run else progress)
    if dry_run:
        app.env.stdout.write("".join(sid + "\n" for sid in report.selected))
        app.env.stdout.flush()
        app.note(report.summary())
        return
    if report.problems:
        raise PartialFailure(report.summary())
    app.note(report.summary())
