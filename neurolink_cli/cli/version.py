"""``neurolink --version``: our version, and the Redis server's when one is configured.

It has to stay fast (well under 150 ms), so it never imports redis-py (about 120 ms) and
never starts the embedded store. When a Redis URL, host or port is configured (flags, the
environment, ``.env`` or the config file) it sends ``AUTH`` (if a password is set) and
``INFO server`` over a raw socket with a 0.3 s timeout and reads ``redis_version``; with
nothing configured it asks the embedded store the same way, only if its socket exists. An
unreachable server is reported on the second line and the exit status stays 0.

The option class keeps the raw values of the other root options (``--redis-url`` and
friends) in ``ctx.meta`` as they are parsed, because ``--version`` is eager and runs
before them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import click

from neurolink_cli import __version__
from neurolink_cli.store.resp import ReplyError, call

TIMEOUT = 0.3
RAW_OPTS = "neurolink.raw_opts"
ROOT_FLAGS = ("redis_url", "key_prefix", "tls_ca_cert", "tls_cert", "tls_key", "tls_insecure")


def _connect(settings: Any, url: str) -> socket.socket:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT)
        sock.connect(parts.path)
        return sock
    host, port = parts.hostname or "localhost", parts.port or 6379
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    if parts.scheme == "rediss":
        import ssl

        context = ssl.create_default_context(cafile=settings.tls_ca_cert)
        if settings.tls_insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if settings.tls_cert:
            context.load_cert_chain(settings.tls_cert, settings.tls_key)
        sock = context.wrap_socket(sock, server_hostname=host)
    return sock


def server_version(settings: Any, url: str) -> str:
    """``redis_version`` of the server at ``url``; OSError/ValueError when it cannot say."""
    parts = urlsplit(url)
    password = unquote(parts.password) if parts.password else settings.redis_password
    username = unquote(parts.username) if parts.username else settings.redis_username
    with _connect(settings, url) as sock:
        if password:
            auth = (username, password) if username else (password,)
            try:
                call(sock, ("AUTH", *auth))
            except ReplyError:
                raise ValueError("authentication refused") from None
        try:
            (info,) = call(sock, ("INFO", "server"))
        except ReplyError as exc:
            raise ValueError(str(exc).split(" ", 1)[0].lower()) from None
    if not isinstance(info, str):
        raise ValueError("unexpected reply")
    for line in info.splitlines():
        if line.startswith("redis_version:"):
            return line.split(":", 1)[1].strip()
    raise ValueError("no redis_version in INFO")


def redis_line(raw_flags: Mapping[str, Any]) -> str | None:
    """The second line of ``--version``, or None when the settings cannot be read.

    The configured Redis is asked; with nothing configured, the embedded store is asked
    only when its socket exists (``--version`` never starts it).
    """
    from neurolink_cli.config import load_settings, mask_url, redis_url

    try:
        env_file = raw_flags.get("env_file")
        if env_file or Path(".env").is_file():
            from dotenv import load_dotenv

            load_dotenv(env_file or ".env", override=False)
        flags = {k: raw_flags.get(k) for k in ROOT_FLAGS}
        settings = load_settings(flags, env=os.environ)
    except Exception:
        return None
    if not settings.redis_configured:
        from neurolink_cli.store.embedded import embedded_url

        url = embedded_url(settings)
        if not Path(urlsplit(url).path).exists():
            return "redis: the embedded store is not running (it starts on first use)"
        try:
            return f"redis {server_version(settings, url)} (the embedded store, {url})"
        except (OSError, ValueError):
            return f"redis: the embedded store at {url} does not answer"
    from neurolink_cli.errors import BadInput
    from neurolink_cli.store.connection import check_url
    from neurolink_cli.util.secrets import scrub, spellings, url_secrets

    url = redis_url(settings)
    secrets = url_secrets(url) | spellings([settings.redis_password])
    try:
        check_url(url)
    except BadInput as exc:
        return scrub(f"redis: {exc}", secrets)
    try:
        return f"redis {server_version(settings, url)} at {mask_url(url)}"
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        line = f"redis: not reachable at {mask_url(url)} ({reason or type(exc).__name__})"
        return scrub(line, secrets)


class VersionOption(click.Option):
    """``--version``: remembers the raw root options, then prints and exits."""

    def handle_parse_result(
        self, ctx: click.Context, opts: Mapping[str, Any], args: list[str]
    ) -> tuple[Any, list[str]]:
        ctx.meta[RAW_OPTS] = dict(opts)
        return super().handle_parse_result(ctx, opts, args)


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"neurolink {__version__}")
    line = redis_line(ctx.meta.get(RAW_OPTS, {}))
    if line:
        click.echo(line)
    ctx.exit()


def version_option(func: Any) -> Any:
    """The root command's ``--version``/``-V`` option."""
    return click.option(
        "--version",
        "-V",
        cls=VersionOption,
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_show_version,
        help="Show the version, and the Redis server's when one is configured; then exit.",
    )(func)
