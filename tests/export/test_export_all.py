"""``memory export-all``: streams, directories, manifest, and memory that does not grow."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
import subprocess
import sys

import orjson
import pytest
from support.helpers import add_conversation, seed_sessions, ts

from neurolink_cli.models import make_turn


def test_stdout_is_jsonl_one_document_per_session(cli, store) -> None:
    for i in range(5):
        add_conversation(store, f"s{i}", 2, start_s=i * 1000)
    result = cli("memory", "export-all")
    assert result.exit_code == 0, result.stderr
    docs = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [d["sessionId"] for d in docs] == [f"s{i}" for i in range(5)]  # oldest first
    single = orjson.loads(cli("memory", "export", "--session-id", "s3", "--format", "jsonl").stdout)
    assert docs[3] == single


def test_stdout_csv_has_a_single_header(cli, store) -> None:
    for i in range(3):
        add_conversation(store, f"c{i}", 2, start_s=i * 100)
    out = cli("memory", "export-all", "--format", "csv").stdout
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[0][0] == "sessionId"
    assert sum(1 for r in rows if r[0] == "sessionId") == 1
    assert len(rows) == 1 + 6


def test_time_window_leaves_out_sessions_with_no_turn_in_range(cli, store) -> None:
    add_conversation(store, "early", 2, start_s=0)
    add_conversation(store, "late", 2, start_s=10_000)
    out = cli("memory", "export-all", "--since", ts(5_000)).stdout
    assert [orjson.loads(x)["sessionId"] for x in out.splitlines()] == ["late"]


def test_user_filter(cli, store) -> None:
    add_conversation(store, "a", 2, user_id="ann")
    add_conversation(store, "b", 2, user_id="ben")
    out = cli("memory", "export-all", "--user-id", "ben").stdout
    assert [orjson.loads(x)["sessionId"] for x in out.splitlines()] == ["b"]


def test_directory_files_names_and_manifest_checksums(cli, store) -> None:
    ids = ["plain", "team/a:1", "../escape", "ünï", ".."]
    for n, sid in enumerate(ids):
        add_conversation(store, sid, 2, start_s=n * 100)
    add_conversation(store, "old", 2, start_s=-50_000)
    out_dir = cli.cwd / "exports"
    result = cli("memory", "export-all", "--output", str(out_dir), "--since", ts(-100))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    names = sorted(p.name for p in out_dir.iterdir())
    expected = sorted(
        [
            "plain.json",
            "team%2Fa%3A1.json",
            "%2E.%2Fescape.json",  # a leading "." is encoded (README: file names)
            "%C3%BCn%C3%AF.json",
            "%2E..json",
            "manifest.json",
            ".neurolink-export.lock",  # one run per DIR
        ]
    )
    assert names == expected
    assert stat.S_IMODE(os.stat(out_dir).st_mode) == 0o700
    manifest = orjson.loads((out_dir / "manifest.json").read_bytes())
    for key in ("exportedAt", "version", "format", "filters", "sessions", "failed", "skipped"):
        assert key in manifest
    assert manifest["format"] == "json" and manifest["failed"] == []
    assert manifest["skipped"] == [{"sessionId": "old", "reason": "no turn in the time range"}]
    assert sorted(e["sessionId"] for e in manifest["sessions"]) == sorted(ids)
    for entry in manifest["sessions"]:
        data = (out_dir / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
        assert entry["turns"] == 2
        assert orjson.loads(data)["sessionId"] == entry["sessionId"]
        assert stat.S_IMODE(os.stat(out_dir / entry["file"]).st_mode) == 0o600
    leftovers = [p.name for p in out_dir.iterdir() if p.name.endswith((".tmp", ".partial.jsonl"))]
    assert leftovers == []


def test_directory_csv_and_jsonl(cli, store) -> None:
    add_conversation(store, "x", 3)
    for fmt in ("csv", "jsonl"):
        out_dir = cli.cwd / fmt
        assert cli("memory", "export-all", "--format", fmt, "-o", str(out_dir)).exit_code == 0
        assert (out_dir / f"x.{fmt}").exists()


def test_resume_skips_sessions_already_complete(cli, store) -> None:
    for i in range(4):
        add_conversation(store, f"r{i}", 2, start_s=i * 100)
    out_dir = cli.cwd / "exp"
    assert cli("memory", "export-all", "-o", str(out_dir)).exit_code == 0
    (out_dir / "r2.json").unlink()  # as if the earlier run stopped before it
    before = (out_dir / "r1.json").stat().st_mtime_ns
    result = cli("memory", "export-all", "-o", str(out_dir), "--resume")
    assert result.exit_code == 0, result.stderr
    assert "3 already done" in result.stderr
    assert (out_dir / "r2.json").exists()
    assert (out_dir / "r1.json").stat().st_mtime_ns == before
    manifest = orjson.loads((out_dir / "manifest.json").read_bytes())
    assert sorted(e["sessionId"] for e in manifest["sessions"]) == ["r0", "r1", "r2", "r3"]


def test_unreadable_session_is_reported_and_the_rest_goes_on(cli, store, client) -> None:
    add_conversation(store, "good", 2)
    add_conversation(store, "bad", 2, start_s=100)
    client.rpush(store.turns_key("bad"), b"{not json")
    client.delete(store.meta_key("wrongtype"))
    client.set(store.turns_key("wrongtype"), "a string, not a list")
    client.hset(store.meta_key("wrongtype"), "sessionId", "wrongtype")
    client.zadd(store.index_key, {"wrongtype": 1})
    out_dir = cli.cwd / "exp"
    result = cli("memory", "export-all", "-o", str(out_dir))
    assert result.exit_code == 1
    assert "bad" in result.stderr and "wrongtype" in result.stderr
    manifest = orjson.loads((out_dir / "manifest.json").read_bytes())
    assert [e["sessionId"] for e in manifest["sessions"]] == ["good"]
    assert sorted(f["sessionId"] for f in manifest["failed"]) == ["bad", "wrongtype"]
    stream = cli("memory", "export-all")
    assert stream.exit_code == 1
    assert [orjson.loads(x)["sessionId"] for x in stream.stdout.splitlines()] == ["good"]


def test_unwritable_output_is_a_clear_error(cli, store, tmp_path) -> None:
    add_conversation(store, "x", 2)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = cli("memory", "export-all", "-o", str(locked / "sub"))
    if os.geteuid() == 0:  # root ignores permissions; a file in the way works for everyone
        (tmp_path / "file").write_text("x")
        result = cli("memory", "export-all", "-o", str(tmp_path / "file"))
    assert result.exit_code == 1
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


MEASURE = r"""
import resource, sys
from neurolink_cli.cli import main
sys.argv = ["neurolink", "memory", "export-all"]
try:
    main(standalone_mode=False)
finally:
    sys.stderr.write(f"\nRSS_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\n")
"""


def _peak_rss_kb(env: dict[str, str]) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE], env=env, capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return int(proc.stderr.decode().rsplit("RSS_KB=", 1)[1].split()[0])


def test_export_all_memory_does_not_grow_with_sessions(client, env, redis_server) -> None:
    """10,000 sessions take no more memory to export than 1,000 (streaming, batch by batch)."""
    small, large = "mem-small", "mem-large"
    seed_sessions(client, small, 1_000, turns=4, size=200)
    seed_sessions(client, large, 10_000, turns=4, size=200)
    rss_small = _peak_rss_kb({**env, "NEUROLINK_KEY_PREFIX": small})
    rss_large = _peak_rss_kb({**env, "NEUROLINK_KEY_PREFIX": large})
    for p in (small, large):
        from neurolink_cli.store.native import NativeStore

        NativeStore(client, p).delete_all()
    # 10x the sessions (8 MB more output) within 10% + 2 MB of the small run's peak.
    assert rss_large <= rss_small * 1.10 + 2048, (rss_small, rss_large)


def test_sessions_of_other_prefixes_are_not_exported(cli, client, store) -> None:
    from neurolink_cli.store.native import NativeStore

    NativeStore(client, store.prefix + "-other").append_turn("o", make_turn("user", "x", ts(0)))
    add_conversation(store, "mine", 2)
    out = cli("memory", "export-all").stdout
    assert [orjson.loads(x)["sessionId"] for x in out.splitlines()] == ["mine"]
    NativeStore(client, store.prefix + "-other").delete_all()


def test_umask_sets_the_modes(cli, store) -> None:
    add_conversation(store, "m", 2)
    out_dir = cli.cwd / "shared"
    assert cli("memory", "export-all", "-o", str(out_dir), "--umask", "022").exit_code == 0
    assert stat.S_IMODE(os.stat(out_dir).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(out_dir / "m.json").st_mode) == 0o644
    single = cli.cwd / "one.json"
    assert (
        cli("memory", "export", "--session-id", "m", "-o", str(single), "--umask", "027").exit_code
        == 0
    )
    assert stat.S_IMODE(os.stat(single).st_mode) == 0o640
    assert cli("memory", "export-all", "--umask", "999").exit_code == 2


def test_bad_metadata_fields_are_exported_with_a_warning(cli, store, client) -> None:
    add_conversation(store, "odd", 2)
    client.hset(store.meta_key("odd"), mapping={"totalTurns": "many", "toolsUsed": "{nope"})
    out_dir = cli.cwd / "exp"
    result = cli("memory", "export-all", "-o", str(out_dir))
    assert result.exit_code == 1
    assert "totalTurns" in result.stderr and "toolsUsed" in result.stderr
    manifest = orjson.loads((out_dir / "manifest.json").read_bytes())
    assert [e["sessionId"] for e in manifest["sessions"]] == ["odd"]
    assert {w["sessionId"] for w in manifest["warnings"]} == {"odd"}
    doc = orjson.loads((out_dir / "odd.json").read_bytes())
    assert doc["metadata"]["totalTurns"] == 2 and doc["metadata"]["toolsUsed"] == []


@pytest.mark.parametrize(
    "field",
    [b"shared", b"b", b"A", b"", b"\xff\xfe", b"a", "ünï".encode()],
    ids=["shared", "another-session", "other-case", "empty", "not-utf8", "its-own", "non-ascii"],
)
def test_a_sessionid_field_that_is_not_the_keys_id_never_renames_a_session(
    cli, store, client, field: bytes
) -> None:
    """The keys name a session; its metadata's ``sessionId`` field only repeats that id. A
    field naming something else (another session, one shared by two sessions, not UTF-8)
    must not make one session's file replace another's, nor change a row's or a
    document's id: every command reads the session under its keys' id, and export-all
    names the field (exit 1) where it disagrees."""
    for n, sid in enumerate(["a", "b", "c"]):
        add_conversation(store, sid, 2, start_s=n * 100)
    for sid in ("a", "c"):
        client.hset(store.meta_key(sid), "sessionId", field)
    out_dir = cli.cwd / "exp"
    result = cli("memory", "export-all", "-o", str(out_dir))
    names = sorted(p.name for p in out_dir.glob("*.json") if p.name != "manifest.json")
    assert names == ["a.json", "b.json", "c.json"], result.stderr
    for sid in ("a", "b", "c"):
        assert orjson.loads((out_dir / f"{sid}.json").read_bytes())["sessionId"] == sid
    # c's field disagrees with its keys whenever it is set (a's, when it is not "a")
    assert ("field sessionId" in result.stderr) == bool(field)
    assert result.exit_code == (1 if field else 0)
    stream = cli("memory", "export-all", "--format", "jsonl")
    assert sorted(orjson.loads(line)["sessionId"] for line in stream.stdout.splitlines()) == [
        "a",
        "b",
        "c",
    ]
    listed = cli("memory", "list", "--limit", "0", "--format", "json")
    assert sorted(r["sessionId"] for r in orjson.loads(listed.stdout)) == ["a", "b", "c"]
    first = cli("memory", "list", "--limit", "2", "--format", "json")
    assert [r["sessionId"] for r in orjson.loads(first.stdout)] == ["c", "b"]
    one = cli("memory", "export", "--session-id", "c")
    assert orjson.loads(one.stdout)["turns"][0]["content"] == "message 0"
    assert orjson.loads(one.stdout)["sessionId"] == "c"


@pytest.mark.parametrize(
    "fields",
    [
        {"provider": "openai"},
        {"toolsUsed": "[]"},
        {"nextIndex": "0"},
        {"meta.team": "x"},
        {"w:writer": "1:1"},
    ],  # fmt: skip
    ids=["provider", "toolsUsed", "nextIndex", "meta-field", "writer-mark"],
)
def test_list_never_drops_a_session_whose_keys_exist(cli, store, client, fields) -> None:
    """``memory list`` prunes the index entry of a session neither of whose keys exists, as
    ``export-all`` does, and no other: a metadata hash holding none of the fields a row
    shows (and no turns) is a session all the same. Before, ``list`` dropped its entry, and
    ``export-all`` and ``archive`` then never saw it."""
    client.hset(store.meta_key("lonely"), mapping=fields)
    client.zadd(store.index_key, {"lonely": 1000, "ghost": 2000})  # ghost: no key at all
    add_conversation(store, "full", 2)
    for limit in ("50", "0"):  # the first page newest first, and the keyset walk
        listed = cli("memory", "list", "--limit", limit, "--format", "json")
        assert listed.exit_code == 0, listed.stderr
        assert sorted(r["sessionId"] for r in orjson.loads(listed.stdout)) == ["full", "lonely"]
        assert sorted(client.zrange(store.index_key, 0, -1)) == [b"full", b"lonely"]
    stream = cli("memory", "export-all", "--format", "jsonl")
    assert sorted(orjson.loads(line)["sessionId"] for line in stream.stdout.splitlines()) == [
        "full",
        "lonely",
    ]
