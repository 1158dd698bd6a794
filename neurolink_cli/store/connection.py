"""From settings to a ready redis-py client, and from redis-py errors to our exit codes.

:func:`make_client` validates the URL, applies TLS and ACL settings, bounds every socket
operation by a timeout, retries transient connection errors with backoff a bounded number
of times, and detects a Redis Cluster on connect (``cluster_enabled:1``) to switch to
redis-py's cluster client. ``redis`` is imported here, inside functions, so commands that
never talk to Redis (``--help``, ``--version``) do not pay for it.

:func:`redis_errors` is the one place where a redis-py exception becomes a
:class:`~neurolink_cli.errors.StoreUnavailable` (exit 4) naming the URL with its password
masked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from neurolink_cli.config import Settings, mask_url, redis_url
from neurolink_cli.errors import BadInput, NeurolinkError, StoreUnavailable
from neurolink_cli.util.secrets import scrub, url_secrets

RETRIES = 3


_URL_SHAPES = (
    "use redis://host[:port][/db], rediss://host[:port][/db] (TLS) or unix:///path/to/socket "
    "(a password goes in REDIS_PASSWORD, or before an @ in front of the host)"
)


def _bad_url(url: str, why: str) -> BadInput:
    return BadInput(f"bad Redis URL {mask_url(url)!r}: {why}")


def check_url(url: str) -> None:
    """BadInput (exit 2) unless ``url`` is a redis://, rediss:// or unix:// URL redis-py reads
    the way it looks: a host, a port 1-65535, a numeric db, a percent-encoded password.

    Messages never quote the parser's own error text (which may hold pieces of a password).
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("redis", "rediss", "unix"):
        raise _bad_url(url, _URL_SHAPES)
    userinfo, at, _hostpart = rest.rpartition("@")
    if at and any(ch in userinfo for ch in "/?#"):
        raise _bad_url(
            url,
            "the user name or password holds / ? or #: percent-encode them "
            "(%2F %3F %23) or set REDIS_PASSWORD instead",
        )
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        raise _bad_url(url, "the port must be a number from 1 to 65535") from None
    query = parse_qs(parts.query, keep_blank_values=True)
    if "db" in query:
        db = query["db"][-1]
        if not db.isascii() or not db.isdigit():
            raise _bad_url(url, f"db must be a whole number >= 0, not {db!r}")
    if scheme == "unix":
        if not parts.path:
            raise _bad_url(url, "a unix:// URL needs a socket path (unix:///path/to/socket)")
        return
    if not hostname:
        raise _bad_url(url, "no host; " + _URL_SHAPES)
    if port == 0:
        raise _bad_url(url, "the port must be a number from 1 to 65535")
    db_path = unquote(parts.path).strip("/")
    if db_path and not (db_path.isascii() and db_path.isdigit()):
        raise _bad_url(url, f"the path is the database number (/0, /1...), not {parts.path!r}")


def is_permanent(exc: BaseException) -> bool:
    """True for connection errors that retrying cannot fix: credentials and certificates."""
    from redis.exceptions import AuthenticationError, AuthenticationWrongNumberOfArgsError

    if isinstance(exc, AuthenticationError | AuthenticationWrongNumberOfArgsError):
        return True
    text = str(exc).lower()
    return any(
        marker in text
        for marker in (
            "certificate verify failed",
            "certificate_verify_failed",
            "certificate required",
            "wrong version number",
            "wrong_version_number",
            "wrongpass",
            "noauth",
        )
    )


def check_tls_files(settings: Settings) -> None:
    """BadInput (exit 2) when a --tls-* file does not exist or cannot be read."""
    for flag, path in (
        ("--tls-ca-cert", settings.tls_ca_cert),
        ("--tls-cert", settings.tls_cert),
        ("--tls-key", settings.tls_key),
    ):
        if path and not os.access(path, os.R_OK):
            raise BadInput(f"{flag} {path!r}: no such readable file")
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise BadInput("--tls-cert and --tls-key go together (the client certificate and its key)")


def client_options(settings: Settings, url: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``Redis.from_url`` beyond the URL itself.

    The password and username of the URL win over ``REDIS_PASSWORD``/``REDIS_USERNAME``.
    For ``rediss://`` the server certificate and host name are verified (against
    ``--tls-ca-cert``, else the system's CAs) unless ``--tls-insecure``.
    """
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RConnectionError
    from redis.exceptions import TimeoutError as RTimeoutError
    from redis.retry import Retry

    url = url or redis_url(settings)
    parts = urlsplit(url)

    class BoundedRetry(Retry):
        """redis-py's Retry, except that a refused password or certificate is final."""

        def call_with_retry(self, do: Any, fail: Any, *args: Any, **kwargs: Any) -> Any:
            is_retryable = kwargs.pop("is_retryable", args[0] if args else None)
            with_count = kwargs.pop("with_failure_count", args[1] if len(args) > 1 else False)
            self._backoff.reset()  # type: ignore[attr-defined]
            failures = 0
            while True:
                try:
                    return do()
                except self._supported_errors as error:  # type: ignore[attr-defined]
                    if is_permanent(error) or (is_retryable and not is_retryable(error)):
                        raise
                    failures += 1
                    if with_count:
                        fail(error, failures)
                    else:
                        fail(error)
                    if 0 <= self._retries < failures:  # type: ignore[attr-defined]
                        raise
                    time.sleep(self._backoff.compute(failures))  # type: ignore[attr-defined]

    opts: dict[str, Any] = {
        "socket_timeout": settings.timeout,
        "socket_connect_timeout": min(settings.timeout, 5.0),
        "retry": BoundedRetry(ExponentialBackoff(cap=2.0, base=0.2), RETRIES),
        "retry_on_error": [RConnectionError, RTimeoutError],
        "health_check_interval": 0,
        **_driver_info(redis),
    }
    if settings.redis_password and not parts.password:
        opts["password"] = settings.redis_password
    if settings.redis_username and not parts.username:
        opts["username"] = settings.redis_username
    if parts.scheme == "rediss":
        check_tls_files(settings)
        if settings.tls_insecure:
            opts["ssl_cert_reqs"] = "none"
            opts["ssl_check_hostname"] = False
        else:
            opts["ssl_cert_reqs"] = "required"
            opts["ssl_check_hostname"] = True
        if settings.tls_ca_cert:
            opts["ssl_ca_certs"] = settings.tls_ca_cert
        if settings.tls_cert:
            opts["ssl_certfile"] = settings.tls_cert
        if settings.tls_key:
            opts["ssl_keyfile"] = settings.tls_key
    return opts


def _driver_info(redis: Any) -> dict[str, Any]:
    """What redis-py sends by default (CLIENT SETINFO LIB-NAME redis-py, LIB-VER its version),
    given explicitly: left to itself, redis-py >= 7 looks its own version up in the
    installed packages' metadata for every new connection (~4 ms each)."""
    driver_info = getattr(redis, "DriverInfo", None)  # redis-py >= 7.1
    if driver_info is not None:
        return {"driver_info": driver_info(name="redis-py", lib_version=redis.__version__)}
    return {"lib_name": "redis-py", "lib_version": redis.__version__}


def make_client(settings: Settings, url: str | None = None) -> Any:
    """Connect and return a client: ``Redis``, or ``RedisCluster`` when the server is one.

    Detection asks ``INFO cluster`` (``cluster_enabled:1``). An ACL user without INFO gets
    NOPERM: the server is then taken as a standalone Redis after a PING (grant ``+info`` to
    such a user on a cluster).
    """
    import redis
    from redis.exceptions import NoPermissionError, ResponseError

    url = url or redis_url(settings)
    check_url(url)
    opts = client_options(settings, url)
    try:
        client: Any = redis.Redis.from_url(url, **opts)
    except (TypeError, ValueError) as exc:
        # An unknown ?option (TypeError from the connection class) or a bad option value.
        why = scrub(describe_error(exc), url_secrets(url))
        raise _bad_url(url, f"{why} (see redis-py's URL options)") from None
    with redis_errors(url), _unknown_options(url):
        try:
            enabled = str(client.info("cluster").get("cluster_enabled", "0")) == "1"
        except (NoPermissionError, ResponseError) as exc:
            if "out of range" in str(exc) or "invalid db" in str(exc).lower():
                raise _bad_url(
                    url,
                    "no such database on that server (it has the databases 0 to its "
                    "'databases' setting - 1, usually 0-15)",
                ) from None
            if "NOPERM" not in str(exc) and not isinstance(exc, NoPermissionError):
                raise
            client.ping()
            enabled = False
        if enabled:
            client.close()
            client = _cluster_client(url, opts)
    return client


@contextlib.contextmanager
def _unknown_options(url: str) -> Iterator[None]:
    """An unknown ``?option=`` of the URL reaches redis-py's connection class as a keyword it
    does not take (a TypeError on first connect): bad input, not a crash."""
    try:
        yield
    except TypeError as exc:
        m = re.search(r"unexpected keyword argument '([^']*)'", str(exc))
        if m is None:
            raise
        raise _bad_url(url, f"unknown option {m.group(1)!r} in the URL's query") from None


def _cluster_client(url: str, opts: dict[str, Any]) -> Any:
    """redis-py's cluster client for ``url`` (topology read now, so errors surface here)."""
    from redis.cluster import RedisCluster
    from redis.exceptions import RedisClusterException

    parts = urlsplit(url)
    if parts.scheme == "unix":
        raise BadInput(
            f"{mask_url(url)} is a Redis Cluster node: a cluster is reached over TCP, "
            "use redis://host:port (or rediss://)"
        )
    cluster_opts = {k: v for k, v in opts.items() if k not in ("health_check_interval",)}
    try:
        client: Any = RedisCluster.from_url(url, **cluster_opts)
    except RedisClusterException as exc:
        if "db" in str(exc):
            raise BadInput(
                f"{mask_url(url)} is a Redis Cluster, which has only database 0: "
                "drop the /N from the URL (or REDIS_DB)"
            ) from None
        raise
    client.ping()
    return client


def is_cluster(client: Any) -> bool:
    """True for redis-py's cluster client."""
    return hasattr(client, "get_nodes")


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def tls_problem(text: str, url: str) -> str | None:
    """A one-line explanation and remedy when ``text`` is a TLS failure, else None."""
    low = text.lower()
    if "certificate verify failed" in low or "certificate_verify_failed" in low:
        reason = text.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip()
        return (
            f"its TLS certificate could not be verified ({reason or 'verify failed'}); pass the "
            "CA that signed it with --tls-ca-cert FILE (REDIS_TLS_CA_CERT), or --tls-insecure "
            "to skip verification (unsafe)"
        )
    if any(w in low for w in ("wrong_version_number", "wrong version number", "packet length")):
        return "the server does not speak TLS on that port; use redis:// instead of rediss://"
    if "tlsv13_alert_certificate_required" in low or "certificate required" in low:
        return "the server requires a client certificate: pass --tls-cert FILE and --tls-key FILE"
    if "eof occurred in violation of protocol" in low:
        # TLS 1.3 may report a refused client certificate as the server hanging up.
        return (
            "the server closed the TLS connection during the handshake; if it requires a "
            "client certificate, pass --tls-cert FILE and --tls-key FILE"
        )
    if url.startswith("rediss://") and ("ssl" in low or "tls" in low):
        return f"TLS handshake failed ({describe_error(Exception(text))})"
    return None


def translate(exc: BaseException, url: str) -> NeurolinkError | None:
    """The project's error for a redis-py exception, or None when it is not one we map.

    The message names the URL with its password masked, and any spelling of that password
    that redis-py's own text may hold is scrubbed.
    """
    mapped = _translate(exc, url)
    if mapped is not None:
        mapped.args = (scrub(str(mapped), url_secrets(url)),)
    return mapped


def _translate(exc: BaseException, url: str) -> NeurolinkError | None:
    from redis import exceptions as rx

    # control characters of a mistyped URL (a pasted newline) shown escaped: one line
    shown = re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], mask_url(url))
    auth = (
        f"Redis at {shown} refused authentication ({describe_error(exc)}); "
        "check REDIS_PASSWORD / REDIS_USERNAME or the URL"
    )
    if isinstance(exc, rx.AuthenticationError | rx.AuthenticationWrongNumberOfArgsError):
        if "HELLO must be called" in str(exc) or "Authentication required" in str(exc):
            return StoreUnavailable(
                f"Redis at {shown} needs a password and none was given; set REDIS_PASSWORD "
                "(and REDIS_USERNAME for an ACL user) or put it in the URL"
            )
        return StoreUnavailable(auth)
    if isinstance(exc, rx.ResponseError):
        text = str(exc)
        if "NOAUTH" in text or "HELLO must be called" in text:
            return StoreUnavailable(
                f"Redis at {shown} needs a password and none was given; set REDIS_PASSWORD "
                "(and REDIS_USERNAME for an ACL user) or put it in the URL"
            )
        if "WRONGPASS" in text:
            return StoreUnavailable(auth)
        if "NOPERM" in text:
            return StoreUnavailable(
                f"Redis at {shown} denied a command to this user ({describe_error(exc)}); "
                "grant the user access to the neurolink keys"
            )
        return None
    if isinstance(exc, rx.ConnectionError):
        tls = tls_problem(str(exc), url)
        if tls:
            return StoreUnavailable(f"cannot connect to Redis at {shown}: {tls}")
    if isinstance(
        exc, rx.ConnectionError | rx.TimeoutError | rx.ClusterDownError | rx.RedisClusterException
    ):
        text = str(exc).lower()
        hint = ""
        if url.startswith("redis://") and ("reset by peer" in text or "closed by server" in text):
            hint = " (if that port speaks TLS, use a rediss:// URL)"
        return StoreUnavailable(
            f"cannot reach Redis at {shown} ({describe_error(exc)}){hint}; start it or point "
            "neurolink elsewhere with --redis-url / REDIS_URL"
        )
    return None


@contextlib.contextmanager
def redis_errors(url: str) -> Iterator[None]:
    """Turn redis-py's connection and authentication errors into StoreUnavailable (exit 4)."""
    try:
        yield
    except NeurolinkError:
        raise
    except Exception as exc:
        mapped = translate(exc, url) if type(exc).__module__.startswith("redis") else None
        if mapped is None:
            raise
        raise mapped from None


Notice = Callable[[str, str], None]
"""``notice(key, message)``: something the user may want to know, said once per key."""

log = logging.getLogger("neurolink")
log.addHandler(logging.NullHandler())  # a library: silent unless the application configures logging


class Connection:
    """Settings turned into one redis client and repository, made on first use; never prints.

    The CLI's ``AppContext`` and the SDK both hold one. When the embedded store is the one
    in use (nothing configured, CONTRACT §6) it is started on first use and ``notice`` is
    told where it is: the CLI prints that on stderr, the SDK leaves it to the ``neurolink``
    logger (the default), so library code never writes to a terminal.
    """

    def __init__(self, settings: Settings, notice: Notice | None = None) -> None:
        self.settings = settings
        self._notice = notice
        self._url: str | None = None
        self._client: Any = None
        self._repository: Any = None

    @property
    def redis_url(self) -> str:
        """The URL in use (the embedded store's socket when nothing is configured)."""
        if self._url is None:
            if self.settings.redis_configured:
                self._url = redis_url(self.settings)
            else:
                from neurolink_cli.store.embedded import embedded_url

                self._url = embedded_url(self.settings)
        return self._url

    def shown_url(self) -> str:
        """The URL with its password masked: the only form to print."""
        return mask_url(self.redis_url)

    def notify(self, key: str, message: str) -> None:
        if self._notice is not None:
            self._notice(key, message)
        else:
            log.info(message)

    def client(self) -> Any:
        """A connected redis client (starting the embedded store if that is the one in use)."""
        if self._client is None:
            if not self.settings.redis_configured:
                from neurolink_cli.store.embedded import ensure_embedded

                ensure_embedded(self.settings)
                self.notify(
                    "store",
                    f"using the embedded store at {self.redis_url} "
                    "(set REDIS_URL to use another Redis)",
                )
            self._client = make_client(self.settings, self.redis_url)
        return self._client

    def repository(self) -> Any:
        """Both layouts as one collection (see :mod:`neurolink_cli.store.repository`)."""
        if self._repository is None:
            from neurolink_cli.store.native import NativeStore
            from neurolink_cli.store.repository import Repository
            from neurolink_cli.store.upstream import UpstreamStore

            client = self.client()
            s = self.settings
            native = NativeStore(client, s.key_prefix, max_turns=s.max_turns, ttl=s.ttl)
            upstream = UpstreamStore(client, s.upstream_prefix, s.upstream_user_prefix)
            self._repository = Repository(native, upstream)
        return self._repository

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
