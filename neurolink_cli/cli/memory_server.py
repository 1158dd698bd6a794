"""``neurolink memory server status|stop``: the embedded Redis store (CONTRACT §6).

Thin: options, then one call into :mod:`neurolink_cli.store.embedded` (imported inside the
command bodies, so listing ``memory --help`` stays cheap). ``status`` never starts the
server; ``stop`` asks it to ``SHUTDOWN SAVE`` and waits until it is gone. Both work on the
embedded store of this user's data directory whatever Redis is configured.
"""

from __future__ import annotations

import time

import click

from neurolink_cli.appcontext import AppContext

pass_app = click.make_pass_decorator(AppContext)


@click.group("server")
def server() -> None:
    """The embedded Redis store used when no Redis is configured.

    With no REDIS_URL (or host/port) set anywhere, neurolink starts a redis-server of its
    own on a unix socket in $XDG_DATA_HOME/neurolink/ (data persisted there) and every
    neurolink process of the user shares it. It keeps running until 'server stop'.

    \b
    Example:
      neurolink memory server status
      neurolink memory server stop
    """


@server.command("status")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@pass_app
def server_status(app: AppContext, fmt: str) -> None:
    """Show whether the embedded store runs: socket, pid, data dir, keys, memory.

    Exit status 0 whether it runs or not (see "running" in the output); it is not started.

    \b
    Example:
      neurolink memory server status
      neurolink memory server status --format json | jq .running
    """
    from neurolink_cli.store.embedded import embedded_status

    status = embedded_status(app.settings)
    if fmt == "json":
        import orjson

        app.env.stdout_bytes.write(orjson.dumps(status.as_dict()) + b"\n")
        app.env.stdout_bytes.flush()
    else:
        rows = [
            ("state", status.state),
            ("socket", status.socket),
            ("data dir", status.data_dir),
            ("pid", status.pid),
            ("version", status.version),
            ("uptime", _uptime(status.uptime_seconds)),
            ("keys", status.keys),
            ("memory", status.used_memory),
            ("aof", None if status.aof_enabled is None else "on" if status.aof_enabled else "off"),
            ("last save", _when(status.last_save)),
            ("binary", status.binary or "not found (apt-get install redis-server)"),
        ]
        for name, value in rows:
            if value is not None:
                app.env.stdout.write(f"{name + ':':<11}{value}\n")
        app.env.stdout.flush()
    if app.settings.redis_configured:
        app.note(f"the embedded store is not in use: Redis is configured ({app.shown_url()})")


@server.command("stop")
@pass_app
def server_stop(app: AppContext) -> None:
    """Stop the embedded store cleanly (SHUTDOWN SAVE); the next command starts it again.

    \b
    Example:
      neurolink memory server stop
    """
    from neurolink_cli.store.embedded import EmbeddedPaths, stop_embedded

    where = EmbeddedPaths.of(app.settings).socket
    if stop_embedded(app.settings):
        app.note(f"stopped the embedded store at {where} (data saved in {app.settings.data_dir})")
    else:
        app.note(f"the embedded store at {where} is not running")


def _uptime(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"


def _when(epoch: int | None) -> str | None:
    if not epoch:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
