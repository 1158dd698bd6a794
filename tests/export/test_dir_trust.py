"""Issue 12 against the real CLI: ``export-all --output DIR`` you can put in an audit.

Item 2 (distinct sessions never share a file, import says why not), item 7 (long names),
item 4 (symlinks under every name), item 6 (one run per DIR), item 5 (``--resume`` only
continues the same run) and the durability order (files synced before the manifest).
Sessions of both layouts: native ones through the store's writer, TypeScript ones as the
SDK writes them (one JSON string per ``<prefix>:conversation:<user>:<id>``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.helpers import add_conversation

from neurolink_cli.util import atomic
from neurolink_cli.util.atomic import LOCK_NAME

PARTIAL = ".manifest.partial.jsonl"


class TsSessions:
    """TypeScript-layout sessions under the test prefix; the CLI configured to read them."""

    def __init__(self, client: Any, prefix: str, cli: Any) -> None:
        self.client = client
        self.c = f"{prefix}:conversation:"
        self.u = f"{prefix}:user:sessions:"
        cli.env["REDIS_KEY_PREFIX"] = self.c
        (cli.cwd / ".neurolink.toml").write_text(
            f'[conversationMemory.redis]\nupstreamUserSessionsPrefix = "{self.u}"\n'
        )

    def put(
        self, sid: str, user: str, text: str = "hello", updated: str = "05", key: str = ""
    ) -> None:
        doc = {
            "id": f"doc-{sid}",
            "title": f"About {sid}",
            "sessionId": sid,
            "userId": user,
            "createdAt": "2026-11-20T10:00:00.000Z",
            "updatedAt": f"2026-11-20T10:{updated}:00.000Z",
            "messages": [
                {"id": "m1", "role": "user", "content": text,
                 "timestamp": "2026-11-20T10:00:00.000Z"},
                {"id": "m2", "role": "assistant", "content": f"re: {text}",
                 "timestamp": "2026-11-20T10:01:00.000Z"},
            ],
        }  # fmt: skip
        self.client.set(f"{self.c}{user}:{key or sid}", orjson.dumps(doc))
        self.client.sadd(self.u + user, sid)


@pytest.fixture
def ts(client: Any, prefix: str, cli: Any) -> TsSessions:
    return TsSessions(client, prefix, cli)


def manifest_of(out: Path) -> dict[str, Any]:
    return orjson.loads((out / "manifest.json").read_bytes())


def session_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name != "manifest.json" and p.name[0] != ".")


def check_manifest(out: Path) -> dict[str, Any]:
    """Every listed file exists with its sha256 and holds its session; nothing else listed."""
    manifest = manifest_of(out)
    files = [e["file"] for e in manifest["sessions"]]
    assert len(files) == len(set(files)), "two entries name one file"
    assert sorted(files) == session_files(out)
    for entry in manifest["sessions"]:
        data = (out / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        doc = orjson.loads(data)
        assert (doc["sessionId"], doc["userId"]) == (entry["sessionId"], entry["userId"])
    return manifest


# -- item 2: two sessions, one file --------------------------------------------------------
TRICKY_NATIVE = ["manifest", "MANIFEST", ".manifest.partial.jsonl", ".nl-0123456789abcdef.tmp",
                 LOCK_NAME, "..", ".hidden", "shared"]  # fmt: skip


def test_distinct_sessions_get_distinct_files_in_both_layouts(cli, store, ts) -> None:
    for sid in TRICKY_NATIVE:
        add_conversation(store, sid, 2)
    ts.put("shared", "alice")  # the same id: native, and under two users of the TS layout
    ts.put("shared", "bob")
    ts.put("manifest", "alice")
    out = cli.cwd / "out"
    result = cli("memory", "export-all", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    manifest = check_manifest(out)
    who = {(e["source"], e["userId"], e["sessionId"]) for e in manifest["sessions"]}
    assert len(manifest["sessions"]) == len(TRICKY_NATIVE) + 3 == len(who)
    assert ("neurolink-ts", "bob", "shared") in who and ("native", "u1", "shared") in who
    assert manifest["format"] == "json" and "sessions" in manifest  # still the real manifest
    names = session_files(out)
    assert "%6Danifest.json" in names and "shared~alice.json" in names


def test_two_ts_keys_claiming_one_session_never_share_a_file(cli, ts) -> None:
    ts.put("x", "alice", text="first")
    ts.put("x", "alice", text="second", key="x-copy")  # another key, the same JSON id
    out = cli.cwd / "out"
    result = cli("memory", "export-all", "--output", str(out))
    assert result.exit_code == 1
    manifest = check_manifest(out)
    assert [e["file"] for e in manifest["sessions"]] == ["x~alice.json"]
    assert [f["sessionId"] for f in manifest["failed"]] == ["x"]
    assert "x~alice.json" in manifest["failed"][0]["reason"]


def test_import_of_an_archive_with_repeated_ids_says_precisely_why_not(cli, store, ts) -> None:
    add_conversation(store, "shared", 2)
    ts.put("shared", "alice")
    out = cli.cwd / "out"
    assert cli("memory", "export-all", "--output", str(out)).exit_code == 0
    result = cli("memory", "import", str(out), "--on-conflict", "replace")
    assert result.exit_code == 2
    assert "'shared' appears more than once" in result.stderr
    assert "shared.json" in result.stderr and "shared~alice.json" in result.stderr
    assert "one session per id" in result.stderr


def test_an_archive_of_tricky_ids_imports_back(cli, store) -> None:
    for sid in TRICKY_NATIVE:
        add_conversation(store, sid, 3)
    out, again = cli.cwd / "out", cli.cwd / "again"
    assert cli("memory", "export-all", "--output", str(out)).exit_code == 0
    assert cli("memory", "delete", "--all", "--yes").exit_code == 0
    result = cli("memory", "import", str(out))
    assert result.exit_code == 0, result.stderr
    assert cli("memory", "export-all", "--output", str(again)).exit_code == 0
    for name in session_files(out):
        assert (out / name).read_bytes() == (again / name).read_bytes()


# -- item 7: long names ---------------------------------------------------------------------
LONG_IDS = ["会" * 28, "a" * 245, "b" * 256, "é" * 128]


def test_long_ids_export_under_short_names_and_resume(cli, store, ts) -> None:
    for sid in LONG_IDS:
        add_conversation(store, sid, 2)
        ts.put(sid, "u" * 100)
    out = cli.cwd / "out"
    result = cli("memory", "export-all", "--output", str(out), "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    manifest = check_manifest(out)
    assert len(manifest["sessions"]) == 2 * len(LONG_IDS)
    assert all(len(name.encode()) <= 255 for name in os.listdir(out))
    result = cli("memory", "export-all", "--output", str(out), "--format", "jsonl", "--resume")
    assert result.exit_code == 0, result.stderr
    assert f"{2 * len(LONG_IDS)} already done" in result.stderr


# -- item 4: nothing outside DIR is written --------------------------------------------------
class PlantedTemp:
    """Makes the next temporary name the run draws ``name``; the test plants a symlink there."""

    name = ".nl-0123456789abcdef.tmp"

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = atomic.temp_name
        self._next: list[str] = []
        self._plant: tuple[Path, Path] | None = None

        def draw() -> str:
            if not self._next:
                return real()
            if self._plant:  # planted just as the run draws it: a racing attacker
                os.symlink(self._plant[1], self._plant[0] / self.name)
            return self._next.pop()

        monkeypatch.setattr(atomic, "temp_name", draw)

    def arm(self, plant_in: Path | None = None, target: Path | None = None) -> str:
        self._next = [self.name]
        if plant_in is not None and target is not None:
            self._plant = (plant_in, target)
        return self.name


@pytest.fixture
def planted_temp(monkeypatch: pytest.MonkeyPatch) -> PlantedTemp:
    return PlantedTemp(monkeypatch)


@pytest.mark.parametrize("resume", [False, True])
def test_symlinks_under_every_name_leave_their_targets_alone(
    cli, store, ts, tmp_path, planted_temp, resume
) -> None:
    add_conversation(store, "s1", 2)
    add_conversation(store, ".hidden", 2)
    ts.put("t1", "alice")
    out = cli.cwd / "out"
    if resume:  # an earlier run's files, manifest, partial log and lock are there
        assert cli("memory", "export-all", "--output", str(out)).exit_code == 0
        (out / PARTIAL).write_bytes(b"")
    else:
        out.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    names = ["s1.json", "%2Ehidden.json", "t1~alice.json", "manifest.json", PARTIAL,
             LOCK_NAME, ".nl-0000000000000000.tmp", ".s1.json.4242.tmp"]  # fmt: skip
    raced = outside / "raced"
    raced.write_bytes(b"precious")
    planted_temp.arm(out, raced)
    for i, name in enumerate(names):
        target = outside / f"target{i}"
        target.write_bytes(b"precious")
        if resume and i < 6:
            os.unlink(out / name)
        os.symlink(target, out / name)
    args = ["memory", "export-all", "--output", str(out)] + (["--resume"] if resume else [])
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    for i in range(len(names)):
        assert (outside / f"target{i}").read_bytes() == b"precious"
    assert raced.read_bytes() == b"precious"
    check_manifest(out)
    assert len(manifest_of(out)["sessions"]) == 3
    assert [n for n in os.listdir(out) if os.path.islink(out / n)] == [PlantedTemp.name]


def test_export_output_file_never_writes_through_a_symlink(cli, store, tmp_path, planted_temp):
    add_conversation(store, "s1", 2)
    outside = tmp_path / "outside"
    outside.write_bytes(b"precious")
    os.symlink(outside, cli.cwd / planted_temp.arm())
    os.symlink(outside, cli.cwd / "s1.json")  # the final name too: the link is replaced
    result = cli("memory", "export", "--session-id", "s1", "-o", "s1.json")
    assert result.exit_code == 0, result.stderr
    assert outside.read_bytes() == b"precious"
    assert not os.path.islink(cli.cwd / "s1.json")
    assert orjson.loads((cli.cwd / "s1.json").read_bytes())["sessionId"] == "s1"


# -- item 6: one run per DIR -----------------------------------------------------------------
def test_a_second_run_into_a_busy_dir_exits_1_naming_the_first(cli, store) -> None:
    add_conversation(store, "s1", 2)
    out = cli.cwd / "out"
    assert cli("memory", "export-all", "--output", str(out)).exit_code == 0
    before = (out / "manifest.json").read_bytes()
    fd = os.open(out / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the running export holds it
        os.pwrite(fd, b"4242\n", 0)
        result = cli("memory", "export-all", "--output", str(out), "--format", "jsonl")
    finally:
        os.close(fd)
    assert result.exit_code == 1
    assert "pid 4242" in result.stderr and str(out) in result.stderr
    assert (out / "manifest.json").read_bytes() == before
    assert session_files(out) == ["s1.json"]
    assert cli("memory", "export-all", "--output", str(out)).exit_code == 0  # released


# -- item 5: --resume only continues the same run ------------------------------------------
@pytest.mark.parametrize(
    ("first", "second", "named"),
    [
        ([], ["--format", "csv"], "format"),
        ([], ["--redact"], "redact"),
        (["--redact"], [], "redact"),
        ([], ["--no-include-metadata"], "includeMetadata"),
        ([], ["--since", "2020-01-01T00:00:00Z"], "since"),
        ([], ["--user-id", "u1"], "userId"),
        ([], ["--redact-pattern", "x+"], "redactPatterns"),
    ],
)
def test_resume_with_other_options_exits_2_naming_the_difference(
    cli, store, first, second, named
) -> None:
    add_conversation(store, "s1", 2, content="mail me at a@example.com {i}")
    out = cli.cwd / "out"
    assert cli("memory", "export-all", "--output", str(out), *first).exit_code == 0
    before = {n: (out / n).read_bytes() for n in os.listdir(out) if n != LOCK_NAME}
    result = cli("memory", "export-all", "--output", str(out), "--resume", *second)
    assert result.exit_code == 2, result.stderr
    assert named in result.stderr
    assert {n: (out / n).read_bytes() for n in os.listdir(out) if n != LOCK_NAME} == before


def test_resume_reexports_changed_drops_deleted_and_clears_temporaries(cli, store, ts) -> None:
    for sid in ("same", "grows", "tampered", "gone"):
        add_conversation(store, sid, 2)
    ts.put("ts-grows", "alice")
    out = cli.cwd / "out"
    assert cli("memory", "export-all", "--output", str(out)).exit_code == 0
    same_mtime = (out / "same.json").stat().st_mtime_ns
    add_conversation(store, "grows", 1, start_s=500)  # changed since its file was written
    ts.put("ts-grows", "alice", text="edited", updated="09")
    data = bytearray((out / "tampered.json").read_bytes())  # same size, other bytes
    data[-3] ^= 1
    (out / "tampered.json").write_bytes(bytes(data))
    assert cli("memory", "delete", "--session-id", "gone", "--yes").exit_code == 0
    (out / ".nl-feedfacefeedface.tmp").write_bytes(b"a killed run's")
    (out / ".grows.json.999.tmp").write_bytes(b"an older release's")

    result = cli("memory", "export-all", "--output", str(out), "--resume")
    assert result.exit_code == 0, result.stderr
    assert "exported 3 sessions" in result.stderr and "1 already done" in result.stderr
    manifest = check_manifest(out)
    assert sorted(e["sessionId"] for e in manifest["sessions"]) == [
        "grows", "same", "tampered", "ts-grows"]  # fmt: skip
    assert len(orjson.loads((out / "grows.json").read_bytes())["turns"]) == 3
    assert b"edited" in (out / "ts-grows~alice.json").read_bytes()
    assert (out / "same.json").stat().st_mtime_ns == same_mtime
    assert not (out / "gone.json").exists()
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]


# -- durability: files on disk before the manifest lists them -------------------------------
def test_one_sync_before_the_manifest_not_an_fsync_per_file(cli, store, monkeypatch) -> None:
    for n in range(30):
        add_conversation(store, f"s{n}", 2)
    out = cli.cwd / "out"
    events: list[str] = []
    real_sync, real_fsync = atomic.sync_filesystem, os.fsync

    def sync(fd: int) -> None:
        events.append("syncfs")
        assert not (out / "manifest.json").exists()  # nothing lists the files yet
        real_sync(fd)

    def fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    monkeypatch.setattr(atomic, "sync_filesystem", sync)
    monkeypatch.setattr(os, "fsync", fsync)
    assert cli("memory", "export-all", "--output", str(out)).exit_code == 0
    assert events[0] == "syncfs" and events.count("syncfs") == 1
    assert events.count("fsync") <= 2  # the manifest and the directory, whatever N is
    check_manifest(out)


def test_umask_is_applied_one_way_and_the_process_umask_is_untouched(cli, store) -> None:
    add_conversation(store, "s1", 2)
    old = os.umask(0o027)
    try:
        out = cli.cwd / "out"
        result = cli("memory", "export-all", "--output", str(out), "--umask", "002")
        assert result.exit_code == 0, result.stderr
        assert os.umask(0o027) == 0o027
    finally:
        os.umask(old)
    assert (out / "s1.json").stat().st_mode & 0o777 == 0o664
    assert (out / "manifest.json").stat().st_mode & 0o777 == 0o664
    assert out.stat().st_mode & 0o777 == 0o775


def test_two_real_processes_one_dir(client, prefix, env, tmp_path) -> None:
    """Item 6 end to end: the first run is stopped (SIGSTOP) while it holds DIR; the second
    exits 1 at once naming its pid; the first then finishes with a valid manifest."""
    import signal
    import subprocess
    import time

    from conftest import NEUROLINK
    from support.helpers import seed_sessions

    seed_sessions(client, prefix, 1500)
    out = tmp_path / "out"
    argv = [NEUROLINK, "memory", "export-all", "--output", str(out)]
    first = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lock = out / LOCK_NAME
            if lock.exists() and lock.read_text().strip() == str(first.pid):
                break
            time.sleep(0.01)
        first.send_signal(signal.SIGSTOP)
        assert first.poll() is None, "the first run ended before it could be stopped"
        second = subprocess.run(argv, env=env, capture_output=True, timeout=60)
        assert second.returncode == 1
        assert f"pid {first.pid}".encode() in second.stderr
    finally:
        first.send_signal(signal.SIGCONT)
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert len(check_manifest(out)["sessions"]) == 1500
