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
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from neurolink_cli.config import Settings, mask_url, redis_url
from neurolink_cli.errors import BadInput, NeurolinkError, StoreUnavailable

RETRIES = 3


def check_url(url: str) -> None:
    """BadInput unless ``url`` is a redis://, rediss:// or unix:// URL that parses."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise BadInput(f"bad Redis URL {mask_url(url)!r}: {exc}") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise BadInput(
            f"bad Redis URL {mask_url(url)!r}: use redis://host:port, rediss://host:port "
            "(TLS) or unix:///path/to/socket"
        )
    if parts.scheme == "unix" and not parts.path:
        raise BadInput(f"bad Redis URL {mask_url(url)!r}: a unix:// URL needs a socket path")


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
    with redis_errors(url):
        client: Any = redis.Redis.from_url(url, **opts)
        try:
            enabled = str(client.info("cluster").get("cluster_enabled", "0")) == "1"
        except (NoPermissionError, ResponseError) as exc:
            if "NOPERM" not in str(exc) and not isinstance(exc, NoPermissionError):
                raise
            client.ping()
            enabled = False
        if enabled:
            client.close()
            client = _cluster_client(url, opts)
    return client


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
    """The project's error for a redis-py exception, or None when it is not one we map."""
    from redis import exceptions as rx

    shown = mask_url(url)
    auth = (
        f"Redis at {shown} refused authentication ({describe_error(exc)}); "
        "check REDIS_PASSWORD / REDIS_USERNAME or the URL"
    )
    if isinstance(exc, rx.AuthenticationError | rx.AuthenticationWrongNumberOfArgsError):
        return StoreUnavailable(auth)
    if isinstance(exc, rx.ResponseError):
        text = str(exc)
        if "NOAUTH" in text or "WRONGPASS" in text:
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
