"""The one object a command receives: settings, and the connections built from them on demand.

Built by the root command from flags, the environment and the config file; it opens nothing
until a command asks for :meth:`AppContext.repository` (or :meth:`client`). No global state:
everything a command needs hangs off this object in ``ctx.obj``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurolink_cli.config import Settings, load_settings, mask_url, redis_url
from neurolink_cli.errors import BadInput


@dataclass
class AppContext:
    """Settings plus lazily made connections and the stderr console."""

    settings: Settings
    _client: Any = None
    _repository: Any = None
    _console: Any = None
    _url: str | None = None
    _notices: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, flags: Mapping[str, Any], env_file: str | None = None) -> AppContext:
        """Load ``.env`` (or ``env_file``) without overriding the environment, then settings."""
        from dotenv import load_dotenv

        if env_file is not None:
            if not Path(env_file).is_file():
                raise BadInput(f"--env-file {env_file!r}: no such file")
            load_dotenv(env_file, override=False)
        elif Path(".env").is_file():
            load_dotenv(".env", override=False)
        return cls(load_settings(flags))

    # -- Redis ----------------------------------------------------------------------------
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

    def client(self) -> Any:
        """A connected redis client (starting the embedded store if that is the one in use)."""
        if self._client is None:
            from neurolink_cli.store.connection import make_client

            if not self.settings.redis_configured:
                from neurolink_cli.store.embedded import ensure_embedded

                ensure_embedded(self.settings)
                self.notice_once(
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

            client = self.client()
            s = self.settings
            native = NativeStore(client, s.key_prefix, max_turns=s.max_turns, ttl=s.ttl)
            self._repository = Repository(native, _upstream(client, s))
        return self._repository

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()

    # -- stderr ---------------------------------------------------------------------------
    @property
    def console(self) -> Any:
        """A rich console on stderr (colour off with NO_COLOR, which rich honours)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
        return self._console

    def notice_once(self, key: str, message: str) -> None:
        if key not in self._notices:
            self._notices.add(key)
            self.note(message)

    def note(self, message: str) -> None:
        sys.stderr.write(f"neurolink: {message}\n")
        sys.stderr.flush()

    def warn(self, message: str) -> None:
        sys.stderr.write(f"neurolink: warning: {message}\n")
        sys.stderr.flush()

    def shown_url(self) -> str:
        return mask_url(self.redis_url)

    def secrets(self) -> set[str]:
        """The configured passwords in every spelling: scrubbed from anything printed."""
        from neurolink_cli.util.secrets import spellings, url_secrets

        s = self.settings
        return url_secrets(s.redis_url) | url_secrets(self._url) | spellings([s.redis_password])


def _upstream(client: Any, settings: Settings) -> Any:
    """The reader of the TypeScript SDK's layout (CONTRACT §4)."""
    from neurolink_cli.store.upstream import UpstreamStore

    return UpstreamStore(client, settings.upstream_prefix, settings.upstream_user_prefix)
