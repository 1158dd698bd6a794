"""``neurolink loop``: the interactive chat REPL (prompt_toolkit; every turn stored in Redis).

Kept cheap to import (``neurolink --help`` imports it): litellm and prompt_toolkit are
reached only from inside the command body, through :mod:`neurolink_cli.repl.runner`.
"""

from __future__ import annotations

import click

from neurolink_cli.appcontext import AppContext

pass_app = click.make_pass_decorator(AppContext)


@click.command()
@click.option(
    "--enable-conversation-memory/--disable-conversation-memory",
    "memory_enabled",
    default=None,
    help="Store every turn and send the history [default: NEUROLINK_MEMORY_ENABLED, else on].",
)
@click.option(
    "--store",
    type=click.Choice(["redis", "memory"]),
    help="Where turns go; memory = this process only [default: NEUROLINK_MEMORY_STORE, redis].",
)
@click.option(
    "--session-id",
    "-r",
    "--resume",
    "session_id",
    metavar="ID",
    help="Resume this session (a new one when absent). -r/--resume as in the TypeScript CLI.",
)
@click.option("-n", "--new", "new", is_flag=True, help="Start a new session (the default).")
@click.option(
    "-l",
    "--list-conversations",
    "pick",
    is_flag=True,
    help="Pick a recent session to resume from a numbered list.",
)
@click.option("--user-id", metavar="U", help="Record the session as this user's.")
@click.option(
    "--model",
    "-m",
    metavar="M",
    help="Any litellm model name, e.g. openai/gpt-4o-mini [default: NEUROLINK_MODEL].",
)
@click.option("--system", metavar="TEXT", help="System prompt (stored as a system turn).")
@click.option(
    "--temperature", type=click.FloatRange(0, 2), metavar="X", help="Sampling temperature."
)
@click.option("--max-tokens", type=click.IntRange(min=1), metavar="N", help="Answer length cap.")
@click.option("--no-stream", is_flag=True, help="Wait for whole answers instead of streaming them.")
@click.option(
    "--each-line",
    is_flag=True,
    help="Piped input: send every line as its own message (by default all of it is one).",
)
@pass_app
def loop(
    app: AppContext,
    memory_enabled: bool | None,
    store: str | None,
    session_id: str | None,
    new: bool,
    pick: bool,
    user_id: str | None,
    model: str | None,
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    no_stream: bool,
    each_line: bool,
) -> None:
    """Chat with any model; every turn is stored in Redis.

    Enter sends, Esc Enter inserts a new line, Ctrl-C clears the line or stops an
    answer (keeping what arrived), Ctrl-D quits. /help lists the slash commands.
    Provider keys come from the usual variables (OPENAI_API_KEY, ANTHROPIC_API_KEY...).

    \b
    Example:
      neurolink loop --model openai/gpt-4o-mini
      neurolink loop --session-id 3f0c...   # resume: the model sees the stored turns
      neurolink memory export --session-id 3f0c...
    """
    from neurolink_cli.errors import NeurolinkError

    if new and (session_id or pick):
        raise click.UsageError("-n/--new starts a new session: leave out --session-id and -l")
    from neurolink_cli.repl.runner import LoopOptions, exit_now, owns_process, start_loop

    options = LoopOptions(
        memory_enabled=memory_enabled,
        store=store,
        session_id=session_id,
        user_id=user_id,
        model=model,
        system=system,
        temperature=temperature,
        max_tokens=max_tokens,
        stream=not no_stream,
        each_line=each_line,
        pick=pick,
    )
    try:
        start_loop(app, options)
    except NeurolinkError as exc:
        if app.settings.debug or not owns_process():
            raise  # the root command reports it (with a traceback under --debug)
        app.close()
        click.echo(f"neurolink: error: {exc}", err=True)
        exit_now(exc.exit_code)  # skip the slow teardown of litellm's modules
        raise
    app.close()
    exit_now(0)
