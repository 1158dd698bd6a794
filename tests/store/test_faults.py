"""Faults during export-all: Redis killed, restarted or stalled mid-run; a full disk.

Each test starts its own redis-server (never the suite's shared one) so it can be killed.
Every test is bounded in time: the export must give up within its retry budget.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest
import redis as redis_py
from conftest import NEUROLINK
from support.helpers import seed_sessions
from support.redis_server import RedisServer

N_SESSIONS = 4000


@pytest.fixture
def own_server(tmp_path: Path):
    # Snapshots on shutdown so a restart keeps the data (as a production Redis would).
    server = RedisServer(extra_args=["--save", "3600 1"]).start()
    client = redis_py.Redis.from_url(server.url)
    seed_sessions(client, "neurolink", N_SESSIONS, turns=6, size=400)
    client.save()  # on disk, so a killed server comes back with the data
    client.close()
    yield server
    server.cleanup()


def _env(env: dict[str, str], server: RedisServer) -> dict[str, str]:
    out = {**env, "REDIS_URL": server.url, "NEUROLINK_REDIS_TIMEOUT": "1"}
    out.pop("NEUROLINK_KEY_PREFIX", None)
    return out


def _start_export(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [NEUROLINK, "memory", "export-all", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _read_some(proc: subprocess.Popen[bytes], size: int = 200_000) -> bytes:
    """Read ``size`` bytes of stdout straight from the pipe (communicate() reads the fd too,
    so a buffered reader here would hide bytes from it)."""
    assert proc.stdout is not None
    chunks, got = [], 0
    while got < size:
        chunk = os.read(proc.stdout.fileno(), size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _wait_for_files(directory: Path, at_least: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if directory.exists() and sum(1 for _ in directory.glob("*.json")) >= at_least:
            return
        time.sleep(0.005)
    raise AssertionError("export did not start")


def _check_dir_is_consistent(directory: Path) -> dict:
    manifest = orjson.loads((directory / "manifest.json").read_bytes())
    listed = {e["file"]: e for e in manifest["sessions"]}
    for path in directory.glob("*.json"):
        if path.name == "manifest.json":
            continue
        data = path.read_bytes()
        orjson.loads(data)  # never a half-written file under a final name
        if path.name in listed:
            assert hashlib.sha256(data).hexdigest() == listed[path.name]["sha256"]
    assert not list(directory.glob(".*.tmp"))
    return manifest


@pytest.mark.e2e
def test_redis_killed_mid_export_to_dir_then_resume(own_server, env, tmp_path) -> None:
    out = tmp_path / "exp"
    proc = _start_export(["--output", str(out)], _env(env, own_server))
    _wait_for_files(out, 50)
    os.kill(own_server.proc.pid, signal.SIGKILL)
    own_server.proc.wait()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 4, err
    assert b"cannot reach Redis" in err and b"Traceback" not in err
    manifest = _check_dir_is_consistent(out)
    assert manifest["complete"] is False
    done = len(manifest["sessions"])
    assert 0 < done < N_SESSIONS
    # Bring it back (the data was snapshotted at seeding) and finish the job.
    own_server.start()
    proc = _start_export(["--output", str(out), "--resume"], _env(env, own_server))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    manifest = _check_dir_is_consistent(out)
    assert manifest["complete"] is True
    assert len(manifest["sessions"]) == N_SESSIONS
    assert len({e["sessionId"] for e in manifest["sessions"]}) == N_SESSIONS


@pytest.mark.e2e
def test_redis_restart_mid_stream_is_retried(own_server, env) -> None:
    proc = _start_export([], _env(env, own_server))
    first = _read_some(proc)
    own_server.restart()  # SIGTERM: snapshot, exit; then the same port and data again
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = (first + rest).splitlines()
    ids = [orjson.loads(line)["sessionId"] for line in lines]
    assert len(ids) == N_SESSIONS and len(set(ids)) == N_SESSIONS


@pytest.mark.e2e
def test_redis_killed_mid_stream_leaves_only_whole_lines(own_server, env) -> None:
    proc = _start_export([], _env(env, own_server))
    first = _read_some(proc)
    helpers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True)
    os.kill(own_server.proc.pid, signal.SIGKILL)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 4, err
    time.sleep(0.2)
    for pid in helpers.stdout.split():  # the second export process is gone too
        status = Path(f"/proc/{int(pid)}/status")
        assert not status.exists() or b"zombie" in status.read_bytes().lower()
    lines = (first + rest).splitlines()
    assert 0 < len(lines) < N_SESSIONS
    for line in lines:
        orjson.loads(line)


@pytest.mark.e2e
def test_redis_stalled_past_the_socket_timeout_gives_up_in_bounded_time(own_server, env) -> None:
    proc = _start_export([], _env(env, own_server))
    _read_some(proc)
    own_server.pause()
    try:
        started = time.monotonic()
        _, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - started
    finally:
        own_server.resume()
    assert proc.returncode == 4, err
    assert elapsed < 30
    assert b"Traceback" not in err


def test_full_disk_is_a_clear_error_with_no_partial_files(env, tmp_path, store, client) -> None:
    # A tiny filesystem is not available without root mounts everywhere; RLIMIT_FSIZE makes
    # writes past a size fail with EFBIG the same way ENOSPC would.
    seed_sessions(client, store.prefix, 200, turns=6, size=400)
    out = tmp_path / "small"
    # No bytecode written under the limit: a .pyc cut at 4,000 bytes would break every
    # later import of that module ("marshal data too short") in other tests and runs.
    code = (
        "import resource, sys\n"
        "sys.dont_write_bytecode = True\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))\n"
        "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "from neurolink_cli.__main__ import main\n"
        f"sys.argv = ['neurolink', 'memory', 'export-all', '--output', {str(out)!r}]\n"
        "main()\n"
    )
    import sys

    run_env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=run_env, capture_output=True, timeout=60
    )
    assert proc.returncode == 1, proc.stderr
    assert b"cannot write" in proc.stderr and b"Traceback" not in proc.stderr
    for path in out.glob("*.json"):
        if path.name != "manifest.json":
            orjson.loads(path.read_bytes())
    assert not list(out.glob(".*.tmp"))
