"""The embedded default store (CONTRACT §6), run as a user would: the installed binary with no
REDIS_URL/REDIS_HOST/REDIS_PORT in the environment and a temp XDG_DATA_HOME.

Every test gets its own data dir (short, under /tmp, so the socket path fits AF_UNIX) and
stops the embedded server it caused to start at teardown.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis as redis_py
from conftest import NEUROLINK

from neurolink_cli.config import load_settings
from neurolink_cli.errors import StoreUnavailable
from neurolink_cli.models import make_turn
from neurolink_cli.store import embedded
from neurolink_cli.store.native import NativeStore


class Embedded:
    """A user's environment with nothing configured, and helpers to run neurolink in it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        home = base / "h"
        home.mkdir()
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
        self.env = {
            **keep,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "c"),
            "XDG_DATA_HOME": str(base / "d"),
            "NO_COLOR": "1",
        }
        self.cwd = home

    @property
    def settings(self) -> Any:
        return load_settings({}, env=self.env, cwd=self.cwd, file_values={})

    @property
    def paths(self) -> embedded.EmbeddedPaths:
        return embedded.EmbeddedPaths.of(self.settings)

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [NEUROLINK, *args],
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            timeout=60,
        )

    def status(self) -> dict[str, Any]:
        result = self.run("memory", "server", "status", "--format", "json")
        assert result.returncode == 0, result.stderr
        return orjson.loads(result.stdout)

    def client(self) -> Any:
        return redis_py.Redis(unix_socket_path=str(self.paths.socket))

    def teardown(self) -> None:
        try:
            embedded.stop_embedded(self.settings, timeout=20)
        except Exception:
            pid = embedded.read_pid(self.paths)
            if pid and embedded._pid_is_redis(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def emb() -> Iterator[Embedded]:
    base = Path(tempfile.mkdtemp(prefix="nle-", dir="/tmp"))
    e = Embedded(base)
    yield e
    e.teardown()


def _write_session(e: Embedded, sid: str, n: int = 2) -> None:
    c = e.client()
    store = NativeStore(c, "neurolink")
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        turn = make_turn(role, f"turn {i} of {sid} — ünïcode", f"2026-01-01T00:00:0{i}.000Z")
        store.append_turn(sid, turn, user_id="alice")
    c.close()


@pytest.mark.e2e
def test_first_command_starts_the_embedded_store_and_says_so(emb: Embedded) -> None:
    assert emb.status()["running"] is False  # status never starts it
    result = emb.run("memory", "list", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout) == []
    notices = [line for line in result.stderr.splitlines() if "embedded" in line]
    assert len(notices) == 1 and str(emb.paths.socket) in notices[0]
    status = emb.status()
    assert status["running"] is True and status["pid"] > 0
    assert status["socket"] == str(emb.settings.data_dir) + "/redis.sock"
    assert (emb.paths.data_dir / "appendonlydir").is_dir()
    assert oct(emb.paths.data_dir.stat().st_mode & 0o777) == "0o700"
    # a second command reuses the same server
    assert emb.run("memory", "list").returncode == 0
    assert emb.status()["pid"] == status["pid"]


@pytest.mark.e2e
def test_history_survives_server_stop_and_next_command(emb: Embedded) -> None:
    assert emb.run("memory", "list").returncode == 0
    _write_session(emb, "s-keep", 3)
    before = emb.run("memory", "export", "--session-id", "s-keep")
    assert before.returncode == 0, before.stderr
    stop = emb.run("memory", "server", "stop")
    assert stop.returncode == 0 and "stopped" in stop.stderr
    assert emb.status()["running"] is False
    assert (emb.paths.data_dir / "dump.rdb").is_file()
    assert not emb.paths.socket.exists()
    after = emb.run("memory", "export", "--session-id", "s-keep")
    assert after.returncode == 0, after.stderr
    assert "embedded" in after.stderr
    assert orjson.loads(after.stdout) == orjson.loads(before.stdout)
    assert len(orjson.loads(after.stdout)["turns"]) == 3


@pytest.mark.e2e
def test_history_survives_a_crash_with_stale_socket_and_pid(emb: Embedded) -> None:
    assert emb.run("memory", "list").returncode == 0
    _write_session(emb, "s-crash", 2)
    pid = emb.status()["pid"]
    os.kill(pid, signal.SIGKILL)  # like a power cut: no SHUTDOWN, files left behind
    deadline = time.monotonic() + 10
    while embedded._pid_is_redis(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert emb.paths.socket.exists() and emb.paths.pidfile.exists()
    result = emb.run("memory", "export", "--session-id", "s-crash")
    assert result.returncode == 0, result.stderr
    assert [t["index"] for t in orjson.loads(result.stdout)["turns"]] == [0, 1]
    assert emb.status()["pid"] != pid


@pytest.mark.e2e
def test_concurrent_first_use_starts_exactly_one_server(emb: Embedded) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: emb.run("memory", "list"), range(8)))
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results]
    log = (emb.paths.data_dir / "redis.log").read_text()
    assert log.count("Server initialized") == 1
    assert emb.status()["running"] is True


@pytest.mark.e2e
def test_stop_when_not_running_is_fine(emb: Embedded) -> None:
    result = emb.run("memory", "server", "stop")
    assert result.returncode == 0
    assert "not running" in result.stderr


@pytest.mark.e2e
def test_missing_binary_setting_is_exit_4_with_install_hint(emb: Embedded) -> None:
    result = emb.run("memory", "list", env={"NEUROLINK_REDIS_SERVER": "/nonexistent/redis-server"})
    assert result.returncode == 4
    line = result.stderr.strip().splitlines()[-1]
    assert "apt-get install redis-server" in line and "brew install redis" in line
    assert "REDIS_URL" in line
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
def test_no_binary_anywhere(monkeypatch: pytest.MonkeyPatch, emb: Embedded) -> None:
    monkeypatch.setenv("PATH", str(emb.base))
    monkeypatch.setattr(embedded, "SYSTEM_DIRS", ())
    with pytest.raises(StoreUnavailable, match="no redis-server found.*apt-get install"):
        embedded.find_binary(emb.settings)


@pytest.mark.e2e
def test_configured_redis_never_starts_the_embedded_store(emb: Embedded, redis_server) -> None:
    result = emb.run("memory", "list", env={"REDIS_URL": redis_server.url})
    assert result.returncode == 0, result.stderr
    assert "embedded" not in result.stderr
    assert not emb.paths.socket.exists()
    status = emb.run("memory", "server", "status", env={"REDIS_URL": redis_server.url})
    assert "not in use" in status.stderr


@pytest.mark.e2e
def test_long_data_dir_gets_a_short_socket(emb: Embedded) -> None:
    deep = emb.base / ("x" * 60) / ("y" * 60)
    env = {"XDG_DATA_HOME": str(deep)}
    result = emb.run("memory", "list", env=env)
    try:
        assert result.returncode == 0, result.stderr
        settings = load_settings({}, env={**emb.env, **env}, cwd=emb.cwd, file_values={})
        sock = embedded.EmbeddedPaths.of(settings).socket
        assert len(str(sock)) <= embedded.MAX_SOCKET_PATH and sock.exists()
        assert (deep / "neurolink" / "appendonlydir").is_dir()
    finally:
        emb.run("memory", "server", "stop", env=env)


@pytest.mark.e2e
def test_loop_then_export_after_restart_out_of_the_box(emb: Embedded) -> None:
    """The issue's "done when": loop + export with nothing configured, across a restart."""
    from support.llm_server import LLMServer

    llm = LLMServer().start()
    try:
        env = {"OPENAI_API_BASE": llm.base_url, "OPENAI_API_KEY": "test-key"}
        chat = subprocess.run(
            [NEUROLINK, "loop", "--model", "openai/test", "--session-id", "s-chat"],
            input="hello embedded\n",
            capture_output=True,
            text=True,
            env={**emb.env, **env},
            cwd=emb.cwd,
            timeout=120,
        )
    finally:
        llm.stop()
    assert chat.returncode == 0, chat.stderr
    assert "embedded" in chat.stderr
    assert emb.run("memory", "server", "stop").returncode == 0
    result = emb.run("memory", "export", "--session-id", "s-chat")
    assert result.returncode == 0, result.stderr
    turns = orjson.loads(result.stdout)["turns"]
    assert [(t["role"], t["content"]) for t in turns] == [
        ("user", "hello embedded"),
        ("assistant", "echo: hello embedded (1 messages)"),
    ]


@pytest.mark.e2e
def test_stale_pid_of_another_redis_after_reboot_is_not_ours(emb: Embedded, redis_server) -> None:
    """After a reboot the old pid may be the system's redis-server: never wait on it or stop it."""
    import socket as socketlib

    paths = emb.paths
    paths.data_dir.mkdir(parents=True)
    with socketlib.socket(socketlib.AF_UNIX) as s:  # a stale socket file nobody listens on
        s.bind(str(paths.socket))
    paths.pidfile.write_text(f"{redis_server.proc.pid}\n")
    started = time.monotonic()
    result = emb.run("memory", "list")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    assert emb.status()["pid"] != redis_server.proc.pid
    assert emb.run("memory", "server", "stop").returncode == 0
    assert redis_server.proc.poll() is None  # the other server still runs
