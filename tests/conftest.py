"""Fixtures: a private redis-server for the whole run, a fresh key prefix for every test.

Tests never touch a Redis they did not start (the one on 127.0.0.1:6379 is left alone), and
never reach the network. The CLI is run in-process with Click's CliRunner (``cli``) or as
the installed binary (``neurolink_bin``); both get an environment pointing at the private
server, with HOME/XDG dirs in a temp dir so no user config leaks in.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py
from click.testing import CliRunner, Result
from support.redis_server import RedisServer

from neurolink_cli.cli import main as cli_main
from neurolink_cli.store.native import NativeStore

NEUROLINK = str(Path(sys.executable).parent / "neurolink")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[Any]:
    c = redis_py.Redis.from_url(redis_server.url)
    yield c
    c.close()


@pytest.fixture
def store(client: Any, prefix: str) -> NativeStore:
    return NativeStore(client, prefix)


@pytest.fixture
def env(redis_server: RedisServer, prefix: str, tmp_path: Path) -> dict[str, str]:
    """An environment for the CLI: the private server, a fresh prefix, isolated HOME/XDG."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    keep = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR", "VIRTUAL_ENV")
    }
    return {
        **keep,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "REDIS_URL": redis_server.url,
        "NEUROLINK_KEY_PREFIX": prefix,
        "NO_COLOR": "1",
    }


class Cli:
    """Run ``neurolink`` in-process with CliRunner; stdout and stderr kept apart."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd

    def __call__(
        self, *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> Result:
        runner = CliRunner()
        full_env = {
            **{k: None for k in os.environ if k.startswith(("REDIS_", "NEUROLINK_"))},
            **self.env,
            **(env or {}),
        }
        old = os.getcwd()
        os.chdir(self.cwd)
        try:
            return runner.invoke(
                cli_main, list(args), input=input, env=full_env, catch_exceptions=False
            )
        finally:
            os.chdir(old)


@pytest.fixture
def cli(env: dict[str, str], tmp_path: Path) -> Cli:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return Cli(env, work)


@pytest.fixture
def neurolink_bin(env: dict[str, str], tmp_path: Path) -> Any:
    """Run the installed ``neurolink`` binary as a subprocess."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)

    def run(
        *args: str,
        input: bytes | None = None,
        env_extra: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [NEUROLINK, *args],
            input=input,
            capture_output=True,
            env={**env, **(env_extra or {})},
            cwd=work,
            timeout=timeout,
        )

    return run
