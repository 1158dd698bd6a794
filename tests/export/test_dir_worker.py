"""``export-all --output DIR`` with its files written by a second process
(:mod:`neurolink_cli.export.filesink`), or by both: the same files and manifest as written
in-process, a write error stops the run with the same message and exit code, and Ctrl-C
leaves no half file under a final name; in every case each file in DIR is listed, intact."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.helpers import seed_sessions

from neurolink_cli.errors import NeurolinkError
from neurolink_cli.export import filesink
from neurolink_cli.export.run import export_all
from neurolink_cli.export.transform import ExportOptions
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.repository import Repository
from neurolink_cli.util import atomic, forkmap

pytestmark = pytest.mark.skipif(not forkmap.can_fork(), reason="needs two cores and fork")

N = 150
# Who writes the files: (files written in-process before the worker starts, batches of files
# the worker holds unwritten when the main process writes the next one itself).
WHERE = {"worker": (10, 10**9), "inline": (10**9, 10**9), "here": (10, 0)}


def writers(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    monkeypatch.setattr(filesink, "INLINE", WHERE[where][0])
    monkeypatch.setattr(filesink, "BEHIND", WHERE[where][1])


def listed(out: Path, *, all_files: bool = True) -> list[dict[str, Any]]:
    """The manifest's entries, each checked against its file; no other file (unless
    ``all_files`` is False: a killed writer's last files), no temporary."""
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    names = sorted(n for n in os.listdir(out) if not n.startswith(".") and n != "manifest.json")
    files = sorted(e["file"] for e in manifest["sessions"])
    assert files == names if all_files else set(files) <= set(names)
    assert not [n for n in os.listdir(out) if atomic.is_temp_name(n)]
    for entry in manifest["sessions"]:
        data = (out / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
        assert orjson.loads(data)["sessionId"] == entry["sessionId"]
    return manifest["sessions"]


def test_the_worker_writes_what_this_process_writes(cli, client, prefix, monkeypatch) -> None:
    seed_sessions(client, prefix, N, 4, 300)
    seen = []
    for where in WHERE:
        writers(monkeypatch, where)
        out = cli.cwd / where
        result = cli("memory", "export-all", "--output", str(out))
        assert result.exit_code == 0, result.stderr
        entries = listed(out)
        assert len(entries) == N
        seen.append((entries, {e["file"]: (out / e["file"]).read_bytes() for e in entries}))
    assert seen[0] == seen[1] == seen[2]  # the same files, bytes and entries, in the same order


@pytest.mark.parametrize("where", list(WHERE))
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_a_write_error_stops_the_run_as_it_did(cli, client, prefix, monkeypatch, where, code):
    seed_sessions(client, prefix, N, 4, 300)
    writers(monkeypatch, where)
    real = atomic.write_atomic
    calls = []

    def failing(name: str, *args: Any, **kwargs: Any) -> None:
        calls.append(name)
        if len(calls) == 40:  # in the worker when there is one (a copy of this after fork)
            raise OSError(code, os.strerror(code))
        real(name, *args, **kwargs)

    monkeypatch.setattr(atomic, "write_atomic", failing)
    out = cli.cwd / "out"
    result = cli("memory", "export-all", "--output", str(out))
    assert result.exit_code == 1
    assert (
        f"cannot write {out}/s000039.json: {os.strerror(code)}; "
        "check the path, its permissions and free space"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    assert len(listed(out)) == 39  # the files before it: in place and listed
    assert orjson.loads((out / "manifest.json").read_bytes())["complete"] is False


@pytest.mark.parametrize("where", list(WHERE))
def test_ctrl_c_leaves_whole_files_listed_and_no_worker(
    client, prefix, tmp_path, monkeypatch, where
):
    seed_sessions(client, prefix, N, 4, 300)
    writers(monkeypatch, where)
    children = _children()
    done = [0]

    def progress(sessions: int, _turns: int) -> None:
        done[0] += sessions
        if done[0] == 100:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    repo = Repository(NativeStore(client, prefix, batch_size=20))
    with pytest.raises(KeyboardInterrupt):
        export_all(repo, ExportOptions(), directory=out, progress=progress)
    entries = listed(out)
    assert 90 <= len(entries) <= 100
    assert orjson.loads((out / "manifest.json").read_bytes())["complete"] is False
    assert _children() == children  # the worker is gone
    # and the directory is free for the next run, which completes it
    assert export_all(repo, ExportOptions(), directory=out, resume=True).exported == N - len(
        entries
    )
    assert len(listed(out)) == N


@pytest.mark.parametrize("behind", [0, 1, 2])
@pytest.mark.parametrize("at", [15, 40, 75, 130])
def test_a_write_error_in_either_process_leaves_every_file_listed(
    cli, client, prefix, monkeypatch, behind, at
) -> None:
    """Both processes writing (the main one whenever the worker holds ``behind`` batches):
    whichever meets the error first (call ``at`` of its own), the run exits 1 naming the
    file, and every file in DIR is listed with its sha256, none missing from the log."""
    seed_sessions(client, prefix, 300, 2, 200)
    monkeypatch.setattr(filesink, "INLINE", 10)
    monkeypatch.setattr(filesink, "BEHIND", behind)
    real = atomic.write_atomic
    calls = []

    def failing(name: str, *args: Any, **kwargs: Any) -> None:
        calls.append(name)
        if len(calls) >= at:  # in each process, its own count (copied at the fork)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(name, *args, **kwargs)

    monkeypatch.setattr(atomic, "write_atomic", failing)
    out = cli.cwd / "out"
    result = cli("memory", "export-all", "--output", str(out))
    assert result.exit_code == 1
    assert f"cannot write {out}/s" in result.stderr and "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    assert at - 1 <= len(listed(out)) < 300
    assert orjson.loads((out / "manifest.json").read_bytes())["complete"] is False


def test_ctrl_c_while_this_process_writes_leaves_its_files_listed(
    client, prefix, tmp_path, monkeypatch
) -> None:
    seed_sessions(client, prefix, N, 4, 300)
    writers(monkeypatch, "here")
    real = atomic.write_atomic
    calls = []

    def interrupted(name: str, *args: Any, **kwargs: Any) -> None:
        calls.append(name)
        if len(calls) == 40:
            raise KeyboardInterrupt
        real(name, *args, **kwargs)

    monkeypatch.setattr(atomic, "write_atomic", interrupted)
    out = tmp_path / "out"
    repo = Repository(NativeStore(client, prefix, batch_size=20))
    with pytest.raises(KeyboardInterrupt):
        export_all(repo, ExportOptions(), directory=out)
    assert len(listed(out)) == 39  # those written before it, in this process too
    monkeypatch.setattr(atomic, "write_atomic", real)
    assert export_all(repo, ExportOptions(), directory=out, resume=True).exported == N - 39
    assert len(listed(out)) == N


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    behind=st.sampled_from([0, 1, 2, 6]),
    at=st.integers(1, 300),
    stop=st.sampled_from(["ENOSPC", "EACCES", "Ctrl-C"]),
    batch=st.sampled_from([20, 250]),
)
def test_any_stop_anywhere_leaves_every_file_listed_and_resume_completes(
    client, prefix, tmp_path_factory, monkeypatch, behind, at, stop, batch
) -> None:
    """A write error in either process, or Ctrl-C in the main one (the worker ignores it),
    at any file of its own, with the main process writing never, sometimes or always:
    what is in DIR is exactly what the manifest lists, each file intact, no temporary; and
    ``--resume`` then completes the export."""
    if not client.exists(f"{prefix}:_seeded"):
        seed_sessions(client, prefix, 300, 2, 200)
        client.set(f"{prefix}:_seeded", 1)
    monkeypatch.setattr(filesink, "INLINE", 10)
    monkeypatch.setattr(filesink, "BEHIND", behind)
    real, main, calls = atomic.write_atomic, os.getpid(), []

    def stopping(name: str, *args: Any, **kwargs: Any) -> None:
        calls.append(name)
        if len(calls) == at and stop == "Ctrl-C" and os.getpid() == main:
            raise KeyboardInterrupt
        if len(calls) >= at and stop != "Ctrl-C":
            code = getattr(errno, stop)
            raise OSError(code, os.strerror(code))
        real(name, *args, **kwargs)

    monkeypatch.setattr(atomic, "write_atomic", stopping)
    out = tmp_path_factory.mktemp("any") / "out"
    repo = Repository(NativeStore(client, prefix, batch_size=batch))
    try:
        export_all(repo, ExportOptions(), directory=out)
    except (NeurolinkError, KeyboardInterrupt):
        assert orjson.loads((out / "manifest.json").read_bytes())["complete"] is False
    before = len(listed(out))
    monkeypatch.setattr(atomic, "write_atomic", real)
    assert export_all(repo, ExportOptions(), directory=out, resume=True).exported == 300 - before
    assert len(listed(out)) == 300


def test_a_worker_that_dies_after_its_error_is_reported_by_that_error(
    cli, client, prefix, monkeypatch
) -> None:
    """On a full disk the worker meets ENOSPC, says so, then cannot even flush its log and
    goes: the error the user reads is the first one, not "stopped unexpectedly" (also when
    the main process hears both at once, handing on a later batch)."""
    seed_sessions(client, prefix, 1000, 2, 100)
    writers(monkeypatch, "worker")
    real_say, real_write = filesink._say, atomic.write_atomic

    def say_and_die(conn: Any, word: tuple[str, Any]) -> None:
        real_say(conn, word)
        if word[0] == "failed":
            os._exit(0)

    def full(name: str, *args: Any, **kwargs: Any) -> None:
        if name == "s000100.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(name, *args, **kwargs)

    monkeypatch.setattr(filesink, "_say", say_and_die)
    monkeypatch.setattr(atomic, "write_atomic", full)
    out = cli.cwd / "out"
    result = cli("memory", "export-all", "--output", str(out))
    assert result.exit_code == 1
    assert f"cannot write {out}/s000100.json: No space left on device" in result.stderr
    assert "unexpectedly" not in result.stderr


def test_a_worker_that_dies_is_an_error_not_a_hang(client, prefix, tmp_path, monkeypatch) -> None:
    seed_sessions(client, prefix, N, 4, 300)
    monkeypatch.setattr(filesink, "INLINE", 10)
    real = atomic.write_atomic

    def dying(name: str, *args: Any, **kwargs: Any) -> None:
        if name == "s000030.json":
            os._exit(9)
        real(name, *args, **kwargs)

    monkeypatch.setattr(atomic, "write_atomic", dying)
    repo = Repository(NativeStore(client, prefix))
    with pytest.raises(NeurolinkError, match="stopped unexpectedly"):
        export_all(repo, ExportOptions(), directory=tmp_path / "out")
    assert 10 <= len(listed(tmp_path / "out", all_files=False)) <= 30
    assert not (tmp_path / "out" / "s000030.json").exists()


def _children() -> set[str]:
    """The pids of this process's children (the private redis-server among them)."""
    found = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.add(proc.name)
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_a_message_cut_by_ctrl_c_ends_the_worker_at_once(tmp_path) -> None:
    """Ctrl-C in the middle of a send: the worker, waiting for the rest, sees the pipe close
    (its copy of the main end is closed) and ends; nothing half written, no 30 s wait."""
    import time

    from neurolink_cli.export.files import _os_error

    out = tmp_path / "out"
    out.mkdir()
    dir_fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    log = open(out / ".log", "wb")  # noqa: SIM115 - closed below
    sink = filesink.ProcessSink(out, dir_fd, 0o600, log, ".log", _os_error)
    sink._inline = 0
    for i in range(3 * filesink.BATCH):
        sink.put(("file", f"f{i}.json", b"{}", (f"f{i}", 0, None, "native", None)))
    sink._cut = True  # as if interrupted halfway through the next message
    started = time.monotonic()
    assert sink.finish() is None
    assert time.monotonic() - started < 10
    log.close()
    os.close(dir_fd)
    lines = (out / ".log").read_bytes().splitlines()
    assert len(lines) == 3 * filesink.BATCH  # the whole batches it received: written, logged
    assert not [n for n in os.listdir(out) if atomic.is_temp_name(n)]


def test_the_worker_takes_batches_ahead_of_a_stalled_disk() -> None:
    """The worker receives up to AHEAD batches while it is still writing (a disk that
    stalls): the main process's sends go through at once, where each had waited for the
    batch before it to be written (more than the pipe's buffer of ~200 KB a batch). What
    was received before the pipe ended is still handed on, in order, before the EOFError."""
    import multiprocessing
    import threading

    main_end, worker_end = multiprocessing.Pipe()
    batch = [("f.json", b"x" * 8_000, ("f", 0, None, "native", None))] * filesink.BATCH
    batches = filesink._received(worker_end)
    main_end.send([("first", b"", ())])
    assert next(batches) == [("first", b"", ())]  # and now this worker "writes" for a while

    def send_ahead() -> None:
        for n in range(filesink.AHEAD):
            main_end.send([*batch[:-1], (f"{n}.json", b"", ())])

    sender = threading.Thread(target=send_ahead, daemon=True)
    sender.start()
    sender.join(20)
    assert not sender.is_alive(), "the main process was held by a worker still writing"
    main_end.close()  # the main process goes away (Ctrl-C halfway, a crash)
    got = []
    with pytest.raises(EOFError):
        for b in batches:
            got.append(b[-1][0])
    assert got == [f"{n}.json" for n in range(filesink.AHEAD)]
