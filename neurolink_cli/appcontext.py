"""The one object a command receives: settings, the terminal, and the store connection.

Built by the root command from flags, the environment and the config file; it opens nothing
until a command asks for :meth:`AppContext.repository` (or :meth:`client`). No global state:
everything a command needs hangs off this object in ``ctx.obj``. Terminal I/O goes through
``env`` (an :class:`~neurolink_cli.environment.Environment`), so commands never touch
``sys.stdout`` and tests can hand in a fake terminal. The store side is a
:class:`~neurolink_cli.store.connection.Connection`, the non-printing object the SDK uses
too; its notices are printed here.

The first :meth:`AppContext.repository` of a process freezes the heap (``gc.freeze``):
what start-up made (modules, Click's commands, redis-py) lives as long as the process, and
the collector then no longer walks it every time a command's rows make it run. Once per
process, so the heap frozen is the start-up one (a process that runs many commands, a test
run, freezes only what it had at the first).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neurolink_cli.config import Settings, load_settings, mask_url
from neurolink_cli.environment import Environment
from neurolink_cli.errors import BadInput
from neurolink_cli.store.connection import Connection
from neurolink_cli.util.secrets import scrub, spellings, url_secrets

if TYPE_CHECKING:
    from neurolink_cli.store.repository import Repository


@dataclass
class AppContext:
    """Settings, the terminal (:class:`Environment`) and the store :class:`Connection`."""

    settings: Settings
    env: Environment = field(default_factory=Environment.from_process)
    _connection: Connection | None = None
    _console: Any = None
    _notices: set[str] = field(default_factory=set)

    @classmethod
    def create(
        cls, flags: Mapping[str, Any], env_file: str | None = None, env: Environment | None = None
    ) -> AppContext:
        """Load ``.env`` (or ``env_file``) without overriding the environment, then settings."""
        if env_file is not None:
            if not Path(env_file).is_file():
                raise BadInput(f"--env-file {env_file!r}: no such file")
            _load_dotenv(env_file)
        elif Path(".env").is_file():
            _load_dotenv(".env")
        return cls(load_settings(flags), env=env or Environment.from_process())

    # -- Redis ----------------------------------------------------------------------------
    @property
    def connection(self) -> Connection:
        """The store connection; its notices (the embedded store's) come here to be printed."""
        if self._connection is None:
            self._connection = Connection(self.settings, notice=self.notice_once)
        return self._connection

    @property
    def redis_url(self) -> str:
        """The URL in use (the embedded store's socket when nothing is configured)."""
        return self.connection.redis_url

    def client(self) -> Any:
        """A connected redis client (starting the embedded store if that is the one in use)."""
        return self.connection.client()

    def repository(self) -> Repository:
        """Both layouts as one collection (see :mod:`neurolink_cli.store.repository`)."""
        repository = self.connection.repository()
        if not gc.get_freeze_count():  # after the store's imports, before the command's work
            gc.freeze()
        return repository

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()

    # -- the terminal ---------------------------------------------------------------------
    @property
    def console(self) -> Any:
        """A rich console on stderr (colour off with NO_COLOR)."""
        if self._console is None:
            self._console = self.env.rich_console(stderr=True)
        return self._console

    def notice_once(self, key: str, message: str) -> None:
        if key not in self._notices:
            self._notices.add(key)
            self.note(message)

    def note(self, message: str) -> None:
        self.env.message(scrub(f"neurolink: {message}", self.secrets()))

    def warn(self, message: str) -> None:
        self.env.message(scrub(f"neurolink: warning: {message}", self.secrets()))

    def shown_url(self) -> str:
        return mask_url(self.redis_url)

    def secrets(self) -> set[str]:
        """The configured passwords in every spelling: scrubbed from anything printed."""
        s = self.settings
        url = self._connection._url if self._connection is not None else None
        return url_secrets(s.redis_url) | url_secrets(url) | spellings([s.redis_password])


def _load_dotenv(path: str) -> None:
    """Load a ``.env`` file without overriding the environment (python-dotenv imported
    only when there is one to load)."""
    from dotenv import load_dotenv

    load_dotenv(path, override=False)
