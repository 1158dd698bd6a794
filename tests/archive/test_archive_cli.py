"""``neurolink memory archive`` at the command edge: confirmation, --dry-run, exit codes,
and a SIGKILL mid-run finished by rerunning the same command (the installed binary)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.archive_helpers import archived_docs
from support.helpers import add_conversation, seed_sessions

from neurolink_cli.store.native import NativeStore

NEUROLINK = str(Path(sys.executable).parent / "neurolink")


def test_needs_yes_without_a_terminal(cli: Any, store: NativeStore, tmp_path: Path) -> None:
    add_conversation(store, "s1")
    result = cli("memory", "archive", "--to", str(tmp_path / "a"), "--all")
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert store.exists("s1") and not (tmp_path / "a").exists()


def test_choose_one_selection(cli: Any, tmp_path: Path) -> None:
    result = cli("memory", "archive", "--to", str(tmp_path), "--all", "--older-than", "3d")
    assert result.exit_code == 2 and "exactly one" in result.stderr


def test_dry_run_lists_ids(cli: Any, store: NativeStore, tmp_path: Path) -> None:
    add_conversation(store, "s1")
    add_conversation(store, "s2")
    result = cli("memory", "archive", "--to", str(tmp_path / "a"), "--all", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.split() == ["s1", "s2"] and "would be archived" in result.stderr
    assert store.exists("s1") and not (tmp_path / "a").exists()


def test_archive_with_yes(cli: Any, store: NativeStore, tmp_path: Path) -> None:
    add_conversation(store, "s1")  # 2026-01-01: older than 30 days
    result = cli("memory", "archive", "--to", str(tmp_path / "a"), "--older-than", "30d", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and "archived 1 session" in result.stderr
    assert not store.exists("s1")
    (manifest,) = (tmp_path / "a").glob("*/manifest.json")
    assert orjson.loads(manifest.read_bytes())["deleted"] == [
        {"sessionId": "s1", "file": "s1.json.gz"}
    ]


@pytest.mark.e2e
def test_sigkill_mid_run_then_rerun_finishes_without_duplicates(
    env: dict[str, str], client: Any, prefix: str, tmp_path: Path
) -> None:
    n = 6000
    seed_sessions(client, prefix, n, turns=2, size=200)
    dest = tmp_path / "arch"
    cmd = [NEUROLINK, "memory", "archive", "--to", str(dest), "--all", "--yes"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(dest.glob("*/journal/000002.*")):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = NativeStore(client, prefix)
    left = {f"s{i:06d}" for i in range(n) if store.exists(f"s{i:06d}")}
    archived = {d["sessionId"] for d in archived_docs(dest)}
    assert left | archived == {f"s{i:06d}" for i in range(n)}
    assert len(left) < n and left  # killed in the middle

    done = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert b"continued the interrupted run" in done.stderr
    assert store.count() == 0 and not any(store.exists(f"s{i:06d}") for i in range(0, n, 97))
    (run,) = dest.iterdir()
    manifest = orjson.loads((run / "manifest.json").read_bytes())
    assert len(manifest["sessions"]) == n == len(manifest["deleted"])
    assert sorted(d["sessionId"] for d in archived_docs(dest)) == sorted(
        f"s{i:06d}" for i in range(n)
    )


def test_an_uncompressed_run_folder_imports_back(
    cli: Any, store: NativeStore, tmp_path: Path
) -> None:
    add_conversation(store, "s1")
    before = cli("memory", "export", "--session-id", "s1").stdout
    dest = tmp_path / "a"
    result = cli("memory", "archive", "--to", str(dest), "--all", "--compress", "none", "--yes")
    assert result.exit_code == 0, result.stderr
    assert not store.exists("s1")
    (run,) = dest.iterdir()
    result = cli("memory", "import", str(run))
    assert result.exit_code == 0, result.stderr
    assert cli("memory", "export", "--session-id", "s1").stdout == before


@pytest.mark.e2e
def test_redis_gone_mid_run_is_exit_4_and_rerun_finishes(
    env: dict[str, str], tmp_path: Path
) -> None:
    import redis as redis_py
    from support.redis_server import RedisServer

    n = 4000
    # snapshots on shutdown, so the server comes back with what it held when it went away
    server = RedisServer(extra_args=["--save", "3600 1"]).start()
    try:
        client = redis_py.Redis.from_url(server.url)
        seed_sessions(client, "neurolink", n, turns=4, size=300)
        client.close()
        run_env = {**env, "REDIS_URL": server.url, "NEUROLINK_REDIS_TIMEOUT": "1"}
        run_env.pop("NEUROLINK_KEY_PREFIX", None)
        dest = tmp_path / "arch"
        cmd = [NEUROLINK, "memory", "archive", "--to", str(dest), "--all", "--yes"]
        proc = subprocess.Popen(cmd, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(dest.glob("*/journal/000002.*")):
            time.sleep(0.01)
        server.stop()
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 4, err
        assert b"Traceback" not in err and len(err.strip().splitlines()) == 1
        server.start()
        client = redis_py.Redis.from_url(server.url)
        store = NativeStore(client, "neurolink")
        ids = {f"s{i:06d}" for i in range(n)}
        left = {sid for sid in ids if store.exists(sid)}
        assert 0 < len(left) < n  # it went away in the middle
        assert left | {d["sessionId"] for d in archived_docs(dest)} == ids
        done = subprocess.run(cmd, env=run_env, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert not any(store.exists(sid) for sid in ids)
        assert len(list(dest.iterdir())) == 1  # the interrupted run's folder, finished
        assert sorted(d["sessionId"] for d in archived_docs(dest)) == sorted(ids)
        client.close()
    finally:
        server.cleanup()


def _on_terminal(env: dict[str, str], answer: str, *args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from neurolink_cli.cli import main
    from neurolink_cli.environment import Environment

    fake = Environment.fake(answer, tty=True)
    full = {**{k: None for k in os.environ if k.startswith(("REDIS_", "NEUROLINK_"))}, **env}
    result = CliRunner().invoke(main, list(args), env=full, obj=fake, catch_exceptions=False)
    return result.exit_code, Environment.text_of(fake.stderr)


def test_asks_on_a_terminal(env: dict[str, str], store: NativeStore, tmp_path: Path) -> None:
    add_conversation(store, "s1")
    args = ("memory", "archive", "--to", str(tmp_path / "a"), "--all")
    code, err = _on_terminal(env, "n\n", *args)
    assert code == 1 and "[y/N]" in err and "nothing archived" in err
    assert store.exists("s1") and not (tmp_path / "a").exists()
    code, err = _on_terminal(env, "y\n", *args)
    assert code == 0 and "archived 1 session" in err and not store.exists("s1")
