"""Settings and where they come from (CONTRACT §2).

Precedence, highest first: command-line flag; environment; ``.env`` in the current
directory (loaded by the root command with python-dotenv, never overriding the real
environment); config file (``./.neurolink.toml``, else
``$XDG_CONFIG_HOME/neurolink/config.toml``, section ``[conversationMemory]``); defaults.

:func:`load_settings` builds one immutable :class:`Settings` from those layers; the root
command builds it once and passes it down in the ``AppContext``. Nothing here talks to
Redis: :mod:`neurolink_cli.store.connection` turns settings into a client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurolink_cli.errors import BadInput
from neurolink_cli.util.secrets import mask_url
from neurolink_cli.util.validate import check_key_prefix

__all__ = ["Settings", "load_settings", "mask_url", "redis_url"]

# setting name -> (environment variable, path in [conversationMemory], kind)
_SOURCES: dict[str, tuple[str | None, tuple[str, ...], str]] = {
    "redis_url": ("REDIS_URL", ("redis", "url"), "str"),
    "redis_host": ("REDIS_HOST", ("redis", "host"), "str"),
    "redis_port": ("REDIS_PORT", ("redis", "port"), "port"),
    "redis_password": ("REDIS_PASSWORD", ("redis", "password"), "str"),
    "redis_username": ("REDIS_USERNAME", ("redis", "username"), "str"),
    "redis_db": ("REDIS_DB", ("redis", "db"), "int"),
    "memory_enabled": ("NEUROLINK_MEMORY_ENABLED", ("enabled",), "bool"),
    "store": ("NEUROLINK_MEMORY_STORE", ("store",), "store"),
    "max_turns": ("NEUROLINK_MEMORY_MAX_TURNS_PER_SESSION", ("maxTurnsPerSession",), "int"),
    "ttl": ("NEUROLINK_MEMORY_TTL", ("redis", "ttl"), "int"),
    "key_prefix": ("NEUROLINK_KEY_PREFIX", ("redis", "keyPrefix"), "prefix"),
    "model": ("NEUROLINK_MODEL", ("model",), "str"),
    "upstream_prefix": ("REDIS_KEY_PREFIX", ("redis", "upstreamKeyPrefix"), "str"),
    "upstream_user_prefix": (None, ("redis", "upstreamUserSessionsPrefix"), "str"),
    "redis_server": ("NEUROLINK_REDIS_SERVER", ("redis", "serverBinary"), "str"),
    "timeout": ("NEUROLINK_REDIS_TIMEOUT", ("redis", "timeout"), "float"),
    "tls_ca_cert": ("REDIS_TLS_CA_CERT", ("redis", "tlsCaCert"), "str"),
    "tls_cert": ("REDIS_TLS_CERT", ("redis", "tlsCert"), "str"),
    "tls_key": ("REDIS_TLS_KEY", ("redis", "tlsKey"), "str"),
    "tls_insecure": ("REDIS_TLS_INSECURE", ("redis", "tlsInsecure"), "bool"),
}

_MAX_INT = 10**15
_MAX_FLOAT = 1e9
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Every setting of CONTRACT §2, resolved. Built once, passed down, never mutated."""

    redis_url: str | None = None
    redis_host: str | None = None
    redis_port: int | None = None
    redis_password: str | None = field(default=None, repr=False)
    redis_username: str | None = None
    redis_db: int | None = None
    memory_enabled: bool = True
    store: str = "redis"
    max_turns: int = 100
    ttl: int = 0
    key_prefix: str = "neurolink"
    model: str = "gpt-4o-mini"
    upstream_prefix: str = "neurolink:conversation:"
    upstream_user_prefix: str = "neurolink:user:sessions:"
    redis_server: str | None = None
    timeout: float = 10.0
    tls_ca_cert: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_insecure: bool = False
    data_dir: str = ""
    debug: bool = False

    @property
    def redis_configured(self) -> bool:
        """True when a Redis URL, host or port was set anywhere (else the embedded store)."""
        return bool(self.redis_url or self.redis_host or self.redis_port)


def _convert(name: str, kind: str, value: Any, origin: str) -> Any:
    try:
        if kind == "str":
            return str(value) if value is not None and str(value) != "" else None
        if kind == "int":
            number = int(str(value).strip())
            if not 0 <= number <= _MAX_INT:  # a TTL beyond it overflows Redis's expire time
                raise ValueError
            return number
        if kind == "port":
            port = int(str(value).strip())
            if not 1 <= port <= 65535:
                raise ValueError
            return port
        if kind == "float":
            real = float(str(value).strip())
            if not 0 < real <= _MAX_FLOAT:  # nan, inf: socket timeouts refuse them
                raise ValueError
            return real
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError
        if kind == "store":
            text = str(value).strip().lower()
            if text not in ("redis", "memory"):
                raise ValueError
            return text
        if kind == "prefix":
            return check_key_prefix(str(value))
    except (ValueError, TypeError):
        pass
    except BadInput as exc:
        raise BadInput(f"{origin}: {exc}") from None
    want = {
        "int": "a whole number >= 0 (at most 10^15)",
        "port": "a port number from 1 to 65535",
        "float": "a number > 0 (at most 10^9)",
        "bool": "true or false",
        "store": "redis or memory",
    }.get(kind, "text")
    raise BadInput(f"bad value {value!r} for {name} in {origin}: expected {want}")


def xdg_dir(env: Mapping[str, str], var: str, fallback: str) -> Path:
    base = env.get(var) or str(Path(env.get("HOME") or Path.home()) / fallback)
    return Path(base) / "neurolink"


def find_config_file(env: Mapping[str, str], cwd: Path) -> Path | None:
    local = cwd / ".neurolink.toml"
    if local.is_file():
        return local
    user = xdg_dir(env, "XDG_CONFIG_HOME", ".config") / "config.toml"
    return user if user.is_file() else None


def read_config_file(path: Path) -> dict[str, Any]:
    """The ``[conversationMemory]`` table of a TOML file; BadInput if it cannot be parsed."""
    import tomllib  # not at import time: most runs have no config file

    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"cannot read config file {path}: {exc}") from None
    section = data.get("conversationMemory", {})
    if not isinstance(section, dict):
        raise BadInput(f"config file {path}: [conversationMemory] must be a table")
    return section


def _lookup(section: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = section
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    file_values: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve settings: flags > environment (with ``.env`` already merged) > file > defaults."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    config_path = None
    if file_values is None:
        config_path = find_config_file(env, cwd)
        file_values = read_config_file(config_path) if config_path else {}
    values: dict[str, Any] = {}
    for name, (var, path, kind) in _SOURCES.items():
        raw = _lookup(file_values, path)
        if raw is not None:
            values[name] = _convert(name, kind, raw, f"config file {config_path or ''}".strip())
        if var and env.get(var) not in (None, ""):
            values[name] = _convert(name, kind, env[var], f"environment variable {var}")
    for name, value in (flags or {}).items():
        if value is not None:
            kind = _SOURCES[name][2] if name in _SOURCES else "raw"
            values[name] = (
                value if kind == "raw" else _convert(name, kind, value, "the command line")
            )
    values["data_dir"] = str(xdg_dir(env, "XDG_DATA_HOME", ".local/share"))
    return Settings(**values)


def redis_url(settings: Settings) -> str:
    """The URL to connect to, built from host/port/db when no URL was given."""
    if settings.redis_url:
        return settings.redis_url
    host = settings.redis_host or "localhost"
    port = settings.redis_port or 6379
    db = settings.redis_db or 0
    return f"redis://{host}:{port}/{db}"
