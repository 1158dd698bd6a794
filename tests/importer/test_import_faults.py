"""Import that Redis stops halfway: a real ``maxmemory`` limit, a server killed mid-import.

Each test starts its own redis-server (never the suite's shared one) so it can limit or
kill it. What must hold (issue 13 item 4): the run stops with one line saying how many
sessions were imported, which one failed and why, and the command that finishes the job;
exit 1 (4 when Redis went away); no session is ever half-written (its turn count equals
its metadata ``totalTurns``); and the suggested command, run as printed, finishes the job.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis as redis_py
from conftest import NEUROLINK, Cli
from support.helpers import ts
from support.redis_server import RedisServer

PREFIX = "imp"

pytestmark = pytest.mark.slow  # real maxmemory limits, killed servers


def make_docs(n: int, turns: int = 4, size: int = 300) -> list[dict[str, Any]]:
    """``n`` session documents of ``turns`` turns, each turn about ``size`` bytes."""
    docs = []
    for s in range(n):
        doc_turns = [
            {
                "index": i,
                "role": "user" if i % 2 == 0 else "assistant",
                "content": f"s{s} t{i} " + "x" * size,
                "timestamp": ts(s * 10 + i),
            }
            for i in range(turns)
        ]
        docs.append(
            {
                "sessionId": f"s-{s:05d}",
                "userId": "u1",
                "createdAt": ts(s * 10),
                "updatedAt": ts(s * 10 + turns - 1),
                "turns": doc_turns,
                "metadata": {"provider": None, "model": None, "totalTurns": turns, "toolsUsed": []},
            }
        )
    return docs


def write_jsonl(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return path


def stored_sessions(client: Any) -> dict[str, tuple[int, int]]:
    """Every native session under PREFIX: id -> (turns in its list, its totalTurns)."""
    out = {}
    for key in client.scan_iter(match=f"{PREFIX}:session:*:metadata", count=1000):
        sid = key.decode()[len(PREFIX) + len(":session:{") : -len("}:metadata")]
        total = client.hget(key, "totalTurns")
        out[sid] = (client.llen(f"{PREFIX}:session:{{{sid}}}:turns"), int(total))
    for key in client.scan_iter(match=f"{PREFIX}:session:*:turns", count=1000):
        sid = key.decode()[len(PREFIX) + len(":session:{") : -len("}:turns")]
        assert sid in out, f"session {sid} has turns but no metadata"
    return out


def assert_whole(client: Any) -> dict[str, tuple[int, int]]:
    found = stored_sessions(client)
    half = {sid: v for sid, v in found.items() if v[0] != v[1]}
    assert not half, f"half-written sessions: {list(half.items())[:5]}"
    return found


def finish_command(stderr: str) -> list[str]:
    """The suggested command, split as a shell would, without the leading ``neurolink``."""
    assert stderr.count("\n") == 1, stderr  # one line
    m = re.search(r"Finish the job with: (.*)$", stderr.strip())
    assert m, stderr
    words = shlex.split(m.group(1))
    assert words[0] == "neurolink"
    return words[1:]


def imported_count(stderr: str) -> int:
    m = re.search(r"import stopped: ([\d,]+) of ([\d,]+) sessions imported", stderr)
    assert m, stderr
    return int(m.group(1).replace(",", ""))


@pytest.fixture
def own_server():
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def aof_server():
    """Every write on disk before its reply, so a killed server comes back with it."""
    server = RedisServer(extra_args=["--appendonly", "yes", "--appendfsync", "always"]).start()
    yield server
    server.cleanup()


@pytest.mark.parametrize("policy", ["fail", "replace"])
def test_maxmemory_reached_mid_import_stops_with_one_line_and_the_finish_command(
    own_server: RedisServer, cli: Cli, tmp_path: Path, policy: str
) -> None:
    n = 2000
    docs = make_docs(n)
    source = write_jsonl(tmp_path / "all.jsonl", docs)
    client = redis_py.Redis.from_url(own_server.url)
    used = int(client.info("memory")["used_memory"])
    # Room for roughly a third of the sessions (each ~1.5 KB of data plus overhead).
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", used + 1_500_000)
    args = ["--redis-url", own_server.url, "--key-prefix", PREFIX, "memory", "import"]
    result = cli(*args, str(source), "--on-conflict", policy)
    assert result.exit_code == 1, result.stderr
    assert result.stdout == ""
    err = result.stderr
    assert "unexpected error" not in err and "Traceback" not in err
    assert "out of memory" in err and "maxmemory" in err, err
    done = imported_count(err)
    assert 0 < done < n
    failed = re.search(r"then session '([^']+)' failed", err)
    assert failed, err
    found = assert_whole(client)
    assert failed.group(1) not in found or len(found) == done + 1
    assert len(found) in (done, done + 1)
    command = finish_command(err)
    finish = "replace" if policy == "replace" else "skip"
    assert command == [*args, str(source), "--on-conflict", finish]

    client.config_set("maxmemory", 0)
    again = cli(*command)
    assert again.exit_code == 0, again.stderr
    written = n - len(found) if finish == "skip" else n
    assert f"imported {written} sessions" in again.stderr
    found = assert_whole(client)
    assert sorted(found) == [d["sessionId"] for d in docs]
    assert client.zcard(f"{PREFIX}:sessions") == n
    client.close()


def test_finish_with_skip_indexes_a_session_written_before_its_index_entry(
    cli: Cli, client: Any, prefix: str, tmp_path: Path
) -> None:
    """A run stopped between a session's MULTI/EXEC and its ZADD: skip gives it the entry."""
    source = write_jsonl(tmp_path / "two.jsonl", make_docs(2))
    assert cli("memory", "import", str(source)).exit_code == 0
    client.zrem(f"{prefix}:sessions", "s-00001")
    result = cli("memory", "import", str(source), "--on-conflict", "skip")
    assert result.exit_code == 0, result.stderr
    assert "skipped 2" in result.stderr
    assert client.zscore(f"{prefix}:sessions", "s-00001") is not None
    listed = cli("memory", "list", "--format", "json")
    assert {r["sessionId"] for r in orjson.loads(listed.stdout)} == {"s-00000", "s-00001"}


@pytest.mark.e2e
def test_redis_killed_mid_import_exit_4_then_the_finish_command_completes(
    aof_server: RedisServer, env: dict[str, str], tmp_path: Path
) -> None:
    own_server = aof_server
    n = 3000
    docs = make_docs(n, turns=3, size=100)
    source = write_jsonl(tmp_path / "all.jsonl", docs)
    run_env = {**env, "NEUROLINK_REDIS_TIMEOUT": "1"}
    run_env.pop("REDIS_URL")
    run_env.pop("NEUROLINK_KEY_PREFIX")
    args = ["--redis-url", own_server.url, "--key-prefix", PREFIX, "memory", "import"]
    proc = subprocess.Popen(
        [NEUROLINK, *args, str(source)],
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    watcher = redis_py.Redis.from_url(own_server.url)
    deadline = time.monotonic() + 60
    while watcher.zcard(f"{PREFIX}:sessions") < 200:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "import did not start"
        time.sleep(0.01)
    watcher.close()
    assert own_server.proc is not None
    os.kill(own_server.proc.pid, signal.SIGKILL)
    own_server.proc.wait()
    out, err_bytes = proc.communicate(timeout=60)
    err = err_bytes.decode()
    assert proc.returncode == 4, err
    assert out == b""
    assert "Redis went away" in err and "Traceback" not in err, err
    done = imported_count(err)
    assert 0 < done < n
    command = finish_command(err)
    assert command == [*args, str(source), "--on-conflict", "skip"]

    own_server.start()  # the same port; the append-only file brings back what was written
    client = redis_py.Redis.from_url(own_server.url)
    assert len(assert_whole(client)) >= done
    client.config_set("appendfsync", "no")  # the rest need not be durable: faster
    again = subprocess.run([NEUROLINK, *command], env=run_env, capture_output=True, timeout=120)
    assert again.returncode == 0, again.stderr
    found = assert_whole(client)
    assert sorted(found) == [d["sessionId"] for d in docs]
    assert client.zcard(f"{PREFIX}:sessions") == n
    client.close()


@pytest.mark.e2e
def test_ctrl_c_mid_import_says_what_it_did(
    own_server: RedisServer, env: dict[str, str], tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "all.jsonl", make_docs(3000, turns=3, size=100))
    run_env = {**env, "REDIS_URL": own_server.url, "NEUROLINK_KEY_PREFIX": PREFIX}
    proc = subprocess.Popen(
        [NEUROLINK, "memory", "import", str(source)],
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    client = redis_py.Redis.from_url(own_server.url)
    deadline = time.monotonic() + 60
    while client.zcard(f"{PREFIX}:sessions") < 200:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "import did not start"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err_bytes = proc.communicate(timeout=60)
    err = err_bytes.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    first, last = err.splitlines()
    assert last == "neurolink: interrupted"
    assert "failed: interrupted" in first and "--on-conflict skip" in first, first
    done = imported_count(first)
    found = assert_whole(client)
    assert len(found) in (done, done + 1)
    again = subprocess.run(
        [NEUROLINK, "memory", "import", str(source), "--on-conflict", "skip"],
        env=run_env,
        capture_output=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert len(assert_whole(client)) == 3000
    assert client.zcard(f"{PREFIX}:sessions") == 3000
    client.close()


def test_a_user_who_may_not_write_gets_exit_4_and_nothing_half_written(
    own_server: RedisServer, cli: Cli, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "two.jsonl", make_docs(2))
    admin = redis_py.Redis.from_url(own_server.url)
    admin.acl_setuser(
        "reader", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-@write"]
    )
    url = f"redis://reader:pw@127.0.0.1:{own_server.port}/0"
    result = cli("--redis-url", url, "--key-prefix", PREFIX, "memory", "import", str(source))
    assert result.exit_code == 4, result.stderr
    err = result.stderr
    assert "0 of 2 sessions imported" in err and "denied the write" in err, err
    assert "pw@" not in err and "redis://reader:***@" in err, err
    assert assert_whole(admin) == {}
    admin.close()


def test_an_archive_changed_between_the_two_passes_stops_with_the_stop_line(
    cli: Cli, client: Any, prefix: str, tmp_path: Path
) -> None:
    """Pass two reads the input again; a file changed after pass one checked it stops the
    run at that file (exit 2), saying how many sessions went in before it."""
    from neurolink_cli.importer.run import ImportStopped, import_sessions
    from neurolink_cli.store.native import NativeStore
    from neurolink_cli.store.repository import Repository

    source = write_jsonl(tmp_path / "many.jsonl", make_docs(250))  # the importer's batch: 200
    assert cli("memory", "import", str(source)).exit_code == 0
    assert cli("memory", "export-all", "--output", "exp").exit_code == 0
    exp = cli.cwd / "exp"
    (exp / "stray.txt").write_text("not listed")  # a note after pass one: the hook below
    files = sorted(p for p in exp.glob("s-*.json"))
    repo = Repository(NativeStore(client, prefix + "2"))

    def after_pass_one(note: str) -> None:
        files[-1].write_bytes(files[-1].read_bytes().replace(b"s249 t0", b"s249 T0"))

    with pytest.raises(ImportStopped) as stopped:
        import_sessions(repo, str(exp), warn=after_pass_one)
    exc = stopped.value
    assert exc.exit_code == 2
    assert str(exc).count("\n") == 0
    assert "200 of 250 sessions imported, then reading the input failed" in str(exc), str(exc)
    assert "sha256 differs" in str(exc) and "nothing imported" not in str(exc)
    assert len(list(client.scan_iter(match=f"{prefix}2:session:*:metadata"))) == 200
    assert "--on-conflict skip" in str(exc)


# -- a big session (written page by page to a staging list, then moved into place) ----------


def staging_keys(client: Any) -> list[bytes]:
    return list(client.scan_iter(match=f"{PREFIX}:session:*:importing:*", count=1000))


def big_doc(sid: str, turns: int, size: int = 300) -> dict[str, Any]:
    return {**make_docs(1, turns, size)[0], "sessionId": sid}


@pytest.mark.parametrize("policy", ["fail", "replace"])
def test_maxmemory_reached_while_a_big_session_is_staged_leaves_it_as_it_was(
    own_server: RedisServer,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    policy: str,
) -> None:
    from neurolink_cli.importer import documents, sources

    monkeypatch.setattr(sources, "LAZY_BYTES", 0)  # every document is a big one
    monkeypatch.setattr(documents, "PAGE_TURNS", 50)
    client = redis_py.Redis.from_url(own_server.url)
    args = ["--redis-url", own_server.url, "--key-prefix", PREFIX, "memory", "import"]
    if policy == "replace":  # an older, small version of the big session is there
        old = write_jsonl(tmp_path / "old.jsonl", [big_doc("s-big", 2)])
        assert cli(*args, str(old)).exit_code == 0
    before = client.lrange(f"{PREFIX}:session:{{s-big}}:turns", 0, -1)
    docs = [*make_docs(3), big_doc("s-big", 3000)]
    source = write_jsonl(tmp_path / "all.jsonl", docs)
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", used + 500_000)  # the small ones fit, the big one not
    result = cli(*args, str(source), "--on-conflict", policy)
    assert result.exit_code == 1, result.stderr
    err = result.stderr
    assert "out of memory" in err and "then session 's-big' failed" in err, err
    assert imported_count(err) == 3
    found = assert_whole(client)
    assert client.lrange(f"{PREFIX}:session:{{s-big}}:turns", 0, -1) == before
    assert len(found) == (4 if policy == "replace" else 3)
    assert staging_keys(client) == []

    client.config_set("maxmemory", 0)
    again = cli(*finish_command(err))
    assert again.exit_code == 0, again.stderr
    assert assert_whole(client)["s-big"] == (3000, 3000)
    assert staging_keys(client) == []
    client.close()


@pytest.mark.e2e
def test_redis_killed_while_a_big_session_is_staged_leaves_no_part_of_it(
    aof_server: RedisServer, env: dict[str, str], tmp_path: Path
) -> None:
    """A real big document (over LAZY_BYTES): the server dies while its pages are staged."""
    from neurolink_cli.importer.lazy import LAZY_BYTES

    own_server = aof_server
    docs = [*make_docs(2), big_doc("s-big", 20_000, 500)]
    source = write_jsonl(tmp_path / "all.jsonl", docs)
    assert source.stat().st_size > LAZY_BYTES
    run_env = {**env, "NEUROLINK_REDIS_TIMEOUT": "1"}
    run_env.pop("REDIS_URL")
    run_env.pop("NEUROLINK_KEY_PREFIX")
    args = ["--redis-url", own_server.url, "--key-prefix", PREFIX, "memory", "import"]
    proc = subprocess.Popen(
        [NEUROLINK, *args, str(source)], env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    watcher = redis_py.Redis.from_url(own_server.url)
    deadline = time.monotonic() + 60
    while not any(watcher.llen(k) for k in staging_keys(watcher)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "import did not start staging"
        time.sleep(0.005)
    watcher.close()
    assert own_server.proc is not None
    os.kill(own_server.proc.pid, signal.SIGKILL)
    own_server.proc.wait()
    _, err_bytes = proc.communicate(timeout=60)
    err = err_bytes.decode()
    assert proc.returncode == 4, err
    assert "Redis went away" in err and "then session 's-big' failed" in err, err
    assert imported_count(err) == 2

    own_server.start()  # the append-only file brings back what was written
    client = redis_py.Redis.from_url(own_server.url)
    assert sorted(assert_whole(client)) == ["s-00000", "s-00001"]
    left = staging_keys(client)  # the killed run's staging list: not a session, expiring
    assert left and all(client.ttl(k) > 0 for k in left)
    client.config_set("appendfsync", "no")
    again = subprocess.run(
        [NEUROLINK, *finish_command(err)], env=run_env, capture_output=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert assert_whole(client)["s-big"] == (20_000, 20_000)
    assert staging_keys(client) == left
    client.close()
