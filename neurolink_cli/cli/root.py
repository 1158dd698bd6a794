"""The root command: global options, the AppContext, and the edge where errors become exits.

Subcommands are loaded lazily (Click's LazyGroup recipe) so ``neurolink --help`` and
``neurolink memory list`` never import litellm or prompt_toolkit. The root callback loads
``.env`` (never overriding the real environment), resolves :class:`Settings` once and puts
an :class:`AppContext` in ``ctx.obj``; it opens no connection. Every exception is turned into
one line on stderr and the exit code of CONTRACT §1 in :meth:`RootGroup.invoke` (a traceback
only with ``--debug``).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from neurolink_cli.appcontext import AppContext
from neurolink_cli.cli.lazygroup import LazyGroup
from neurolink_cli.cli.version import version_option
from neurolink_cli.environment import Environment
from neurolink_cli.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, BadInput, NeurolinkError

# Click >= 8.2 shows the help of a group run without a command as a UsageError: keep that.
_HELP_ERRORS: tuple[type[Exception], ...] = tuple(
    c for c in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if c is not None
)
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class RootGroup(LazyGroup):
    """Maps every failure to one line on stderr and the documented exit code."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        """Click's main, with usage errors as one line (and a hint) instead of three."""
        run: Any = super().main
        if not standalone_mode:
            return run(*args, standalone_mode=False, **kwargs)
        try:
            rv = run(*args, standalone_mode=False, **kwargs)
        except click.UsageError as exc:
            if isinstance(exc, _HELP_ERRORS):  # a group run without a command: its help
                exc.show()
                sys.exit(exc.exit_code)
            click.echo(f"neurolink: error: {usage_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("neurolink: aborted", err=True)
            sys.exit(EXIT_ERROR)
        sys.exit(rv if isinstance(rv, int) else 0)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for arg in args:  # bytes that are not UTF-8 reach Python as lone surrogates
            if not _is_utf8(arg) and not os.path.lexists(arg):
                shown = _raw(arg).decode("utf-8", "backslashreplace")
                _fail(
                    ctx, ValueError(arg), f"argument '{shown}' is not valid UTF-8 text", EXIT_USAGE
                )
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NeurolinkError as exc:
            _fail(ctx, exc, str(exc), exc.exit_code)
        except KeyboardInterrupt as exc:
            _fail(ctx, exc, "interrupted", EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly, no traceback, exit 1.
            _silence_stdout()
            ctx.exit(EXIT_ERROR)
        except click.UsageError as exc:  # one line too (Click would print usage + hint + error)
            if isinstance(exc, _HELP_ERRORS):
                raise
            _fail(ctx, exc, usage_line(exc), exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:
            mapped = _translate_store_error(ctx, exc)
            if mapped is not None:
                _fail(ctx, exc, str(mapped), mapped.exit_code)
            _fail(
                ctx,
                exc,
                f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)",
                EXIT_ERROR,
            )


def usage_line(exc: click.UsageError) -> str:
    """One line: Click's message, a suggestion for a mistyped command, a hint for a root
    option given after a subcommand, and where the help is."""
    import difflib

    message = exc.format_message()
    ctx = exc.ctx
    if ctx is None:
        return message
    if isinstance(exc, click.NoSuchOption) and ctx.parent is not None:
        root = ctx.find_root().command
        if any(exc.option_name in p.opts for p in root.params):
            return (
                f"{exc.option_name} is an option of neurolink itself: put it before the "
                f"command (neurolink {exc.option_name} ... {ctx.command_path.split(' ', 1)[1]} ...)"
            )
    if message.startswith("No such command") and isinstance(ctx.command, click.Group):
        typed = message.split("'")[1] if "'" in message else ""
        close = difflib.get_close_matches(typed, ctx.command.list_commands(ctx), n=1)
        if close and "Did you mean" not in message:
            message += f" Did you mean '{close[0]}'?"
    return f"{message} (see '{ctx.command_path} --help')"


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _raw(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")  # the bytes of argv, as given
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _translate_store_error(ctx: click.Context, exc: Exception) -> NeurolinkError | None:
    if not type(exc).__module__.startswith("redis"):
        return None
    from neurolink_cli.store.connection import translate

    app = ctx.find_object(AppContext)
    return translate(exc, app.redis_url if app else "redis://")


def _secrets(ctx: click.Context) -> set[str]:
    """Every password this run knows of, in every spelling (never to be printed)."""
    from neurolink_cli.util.secrets import spellings, url_secrets

    app = ctx.find_object(AppContext)
    found = app.secrets() if app is not None else set()
    found |= url_secrets(ctx.params.get("redis_url") or os.environ.get("REDIS_URL"))
    found |= url_secrets(os.environ.get("REDIS_URL"))
    return found | spellings([os.environ.get("REDIS_PASSWORD")])


def _fail(ctx: click.Context, exc: BaseException, message: str, code: int) -> None:
    from neurolink_cli.util.secrets import scrub

    app = ctx.find_object(AppContext)
    secrets = _secrets(ctx)
    if app is not None and app.settings.debug:
        # The traceback holds exception texts (and source lines) that may quote a URL.
        app.env.stderr.write(scrub("".join(traceback.format_exception(exc)), secrets))
        app.env.stderr.flush()
    message = scrub(message, secrets)
    stdout = app.env.stdout if app is not None else sys.stdout
    try:
        stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    line = f"neurolink: error: {message}" if code != EXIT_INTERRUPTED else "neurolink: interrupted"
    if app is not None:
        app.env.message(line)
    else:
        click.echo(line, err=True)
    ctx.exit(code)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@click.group(
    cls=RootGroup,
    lazy_subcommands={
        "loop": "neurolink_cli.cli.loop:loop",
        "memory": "neurolink_cli.cli.memory:memory",
    },
    context_settings=CONTEXT_SETTINGS,
)
@click.option(
    "--redis-url",
    metavar="URL",
    help="Redis to use: redis://, rediss:// (TLS) or "
    "unix://. Default: REDIS_URL, REDIS_HOST/PORT, the config file, else the embedded store.",
)
@click.option("--key-prefix", metavar="P", help="Prefix of every native key [default: neurolink].")
@click.option(
    "--env-file",
    metavar="F",
    type=click.Path(dir_okay=False),
    help="Load variables from this file instead of ./.env (never overriding the environment).",
)
@click.option(
    "--tls-ca-cert",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="CA certificate to verify a rediss:// server with.",
)
@click.option(
    "--tls-cert",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Client certificate for rediss:// (with --tls-key).",
)
@click.option(
    "--tls-key",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Client private key for rediss://.",
)
@click.option(
    "--tls-insecure",
    is_flag=True,
    default=None,
    help="Do not verify the rediss:// server certificate (unsafe).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@version_option
@click.pass_context
def main(
    ctx: click.Context,
    redis_url: str | None,
    key_prefix: str | None,
    env_file: str | None,
    tls_ca_cert: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    tls_insecure: bool | None,
    debug: bool,
) -> None:
    """neurolink: chat with any LLM, keep every turn in Redis, export the history.

    \b
      neurolink loop --model gpt-4o-mini          chat; every turn lands in Redis
      neurolink memory list                       the sessions, newest first
      neurolink memory export --session-id ID     one session as JSON (or csv, jsonl, markdown)
      neurolink memory export-all --output DIR    every session, one file each + manifest.json
      neurolink memory import FILE|DIR|-          sessions back in (from export / export-all)
      neurolink memory stats                      sessions, turns, models, tokens, cost

    Configuration: flags > environment > ./.env > ./.neurolink.toml or
    $XDG_CONFIG_HOME/neurolink/config.toml > defaults. See README.md.
    """
    if os.environ.get("NO_COLOR"):
        ctx.color = False
    if redis_url is not None and not redis_url.strip():
        raise BadInput("--redis-url needs a URL (redis://host:6379); leave it out for the default")
    flags = {
        "redis_url": redis_url,
        "key_prefix": key_prefix,
        "tls_ca_cert": tls_ca_cert,
        "tls_cert": tls_cert,
        "tls_key": tls_key,
        "tls_insecure": tls_insecure,
        "debug": debug or None,
    }
    # The terminal, made here at the edge: the process's streams, or a fake one a test
    # handed in (``main(obj=Environment.fake(...))``).
    env = ctx.obj if isinstance(ctx.obj, Environment) else Environment.from_process()
    ctx.obj = AppContext.create(flags, env_file=env_file, env=env)
    ctx.call_on_close(ctx.obj.close)
