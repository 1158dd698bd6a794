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
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from .config import Settings, mask_url, redis_url
from .errors import BadInput, NeurolinkError, StoreUnavailable

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


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``Redis.from_url`` beyond the URL itself."""
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RConnectionError
    from redis.exceptions import TimeoutError as RTimeoutError
    from redis.retry import Retry

    opts: dict[str, Any] = {
        "socket_timeout": settings.timeout,
        "socket_connect_timeout": min(settings.timeout, 5.0),
        "retry": Retry(ExponentialBackoff(cap=2.0, base=0.2), RETRIES),
        "retry_on_error": [RConnectionError, RTimeoutError],
        "health_check_interval": 0,
    }
    if settings.redis_password and not urlsplit(redis_url(settings)).password:
        opts["password"] = settings.redis_password
    if settings.redis_username and not urlsplit(redis_url(settings)).username:
        opts["username"] = settings.redis_username
    if redis_url(settings).startswith("rediss://"):
        if settings.tls_insecure:
            opts["ssl_cert_reqs"] = "none"
            opts["ssl_check_hostname"] = False
        else:
            opts["ssl_cert_reqs"] = "required"
        if settings.tls_ca_cert:
            opts["ssl_ca_certs"] = settings.tls_ca_cert
        if settings.tls_cert:
            opts["ssl_certfile"] = settings.tls_cert
        if settings.tls_key:
            opts["ssl_keyfile"] = settings.tls_key
    return opts


def make_client(settings: Settings, url: str | None = None) -> Any:
    """Connect (one PING) and return a client: ``Redis``, or ``RedisCluster`` when detected."""
    import redis

    url = url or redis_url(settings)
    check_url(url)
    opts = client_options(settings)
    with redis_errors(url):
        client: Any = redis.Redis.from_url(url, **opts)
        info = client.info("cluster")
        if str(info.get("cluster_enabled", "0")) == "1":
            from redis.cluster import RedisCluster

            client.close()
            cluster_opts = {k: v for k, v in opts.items() if k != "health_check_interval"}
            client = RedisCluster.from_url(url, **cluster_opts)
            client.ping()
    return client


def is_cluster(client: Any) -> bool:
    return hasattr(client, "get_nodes")


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


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
    if isinstance(exc, rx.ConnectionError | rx.TimeoutError | rx.ClusterDownError):
        return StoreUnavailable(
            f"cannot reach Redis at {shown} ({describe_error(exc)}); start it or point "
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
