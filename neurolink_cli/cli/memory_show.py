"""``neurolink memory show SESSION_ID``: one session rendered for reading (CONTRACT §9)."""

from __future__ import annotations

import io

import click

from neurolink_cli.appcontext import AppContext
from neurolink_cli.cli.completions import complete_session_ids
from neurolink_cli.errors import BadData
from neurolink_cli.models import Unreadable
from neurolink_cli.util.validate import check_session_id

pass_app = click.make_pass_decorator(AppContext)


@click.command("show", short_help="Show one session for reading (Markdown, tools, errors).")
@click.argument("session_id", metavar="SESSION_ID", shell_complete=complete_session_ids)
@click.option("--no-pager", is_flag=True, help="Print plain text instead of using the pager.")
@pass_app
def memory_show(app: AppContext, session_id: str, no_pager: bool) -> None:
    """Show one session for reading: every turn with its role, time, model, tokens, latency
    and cost; Markdown rendered, tool calls and failed turns highlighted.

    On a terminal the session goes through a pager ($PAGER, else less -R, as git does);
    with --no-pager, or piped, it is plain text. Works for sessions of both layouts.

    \b
    Example:
      neurolink memory show s-123
      neurolink memory show s-123 --no-pager | grep -n error
    """
    from neurolink_cli.cli.show_view import render_plain, render_rich

    check_session_id(session_id)
    doc = app.repository().get(session_id)
    if isinstance(doc, Unreadable):
        raise BadData(f"session {session_id!r} cannot be read: {doc.reason}")
    env = app.env
    if no_pager or not env.stdout_isatty:
        env.stdout.write(render_plain(doc))
        env.stdout.flush()
        return
    from rich.console import Console

    from neurolink_cli.cli.pager import page

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=True,
        no_color=not env.colors,
        width=env.width,
        highlight=False,
        emoji=False,
    )
    render_rich(doc, console)
    page(buffer.getvalue(), env)
