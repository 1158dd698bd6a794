"""``memory import``: JSON, JSONL, stdin and export-all directories into the native layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.helpers import add_conversation, ts

from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore


def export_all_lines(cli: Any) -> list[bytes]:
    result = cli("memory", "export-all")
    assert result.exit_code == 0, result.stderr
    return result.stdout_bytes.splitlines()


def rich_session(store: Any, sid: str, user: str | None = "ann") -> None:
    """A session with every optional turn field and a tool."""
    store.append_turn(sid, make_turn("system", "be brief", ts(0)), user_id=user)
    store.append_turn(sid, make_turn("user", 'héllo\n"quoted" 🚀', ts(1)), user_id=user)
    store.append_turn(
        sid,
        make_turn(
            "assistant",
            "=SUM(A1)",
            ts(2),
            model="gpt-4o-mini",
            provider="openai",
            tokens={"prompt": 12, "completion": 7},
            latency_ms=321,
            cost=0.00012,
            tool_calls=[{"name": "search", "args": {"q": "x"}}],
            interrupted=True,
        ),
        user_id=user,
        tools_used=["search"],
    )


def test_export_delete_import_export_gives_the_same_bytes(cli, store) -> None:
    rich_session(store, "team/a:1")
    add_conversation(store, "plain", 4, start_s=100)
    add_conversation(store, "ünï", 3, user_id=None, start_s=200)
    before = export_all_lines(cli)
    (cli.cwd / "all.jsonl").write_bytes(b"\n".join(before) + b"\n")
    assert cli("memory", "delete", "--all", "--yes").exit_code == 0
    assert export_all_lines(cli) == []
    result = cli("memory", "import", "all.jsonl")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "imported 3 sessions (10 turns)" in result.stderr
    assert export_all_lines(cli) == before


def test_directory_round_trip_and_next_turn_continues_the_index(cli, store) -> None:
    rich_session(store, "a")
    add_conversation(store, "b/../c", 2, start_s=50)
    before = export_all_lines(cli)
    assert cli("memory", "export-all", "--output", "dump").exit_code == 0
    cli("memory", "delete", "--all", "--yes")
    result = cli("memory", "import", "dump")
    assert result.exit_code == 0, result.stderr
    assert export_all_lines(cli) == before
    assert store.append_turn("a", make_turn("user", "again", ts(10))) == 3
    assert store.get("a").turns[-1]["index"] == 3


def test_single_json_file_and_stdin(cli, store) -> None:
    rich_session(store, "one")
    doc = cli("memory", "export", "--session-id", "one").stdout
    (cli.cwd / "one.json").write_text(doc)
    cli("memory", "delete", "--session-id", "one", "--yes")
    assert cli("memory", "import", "one.json").exit_code == 0
    assert cli("memory", "export", "--session-id", "one").stdout == doc
    cli("memory", "delete", "--session-id", "one", "--yes")
    result = cli("memory", "import", "-", input=doc)
    assert result.exit_code == 0, result.stderr
    assert cli("memory", "export", "--session-id", "one").stdout == doc


def test_concatenated_pretty_documents_and_arrays(cli) -> None:
    docs = [
        {"sessionId": f"p{i}", "turns": [{"role": "user", "content": "x", "timestamp": ts(i)}]}
        for i in range(3)
    ]
    text = "\n".join(json.dumps(d, indent=2) for d in docs[:2])
    assert cli("memory", "import", "-", input=text).exit_code == 0
    assert cli("memory", "import", "-", input=json.dumps([docs[2]], indent=1)).exit_code == 0
    out = [orjson.loads(x) for x in export_all_lines(cli)]
    assert sorted(d["sessionId"] for d in out) == ["p0", "p1", "p2"]
    assert out[0]["turns"][0]["index"] == 0  # missing indexes are given their position


def test_every_field_is_kept_extra_metadata_and_top_level(cli) -> None:
    doc = {
        "sessionId": "x1",
        "userId": None,
        "createdAt": ts(0),
        "updatedAt": ts(5),
        "turns": [
            {"index": 4, "role": "user", "content": "hi", "timestamp": ts(0), "custom": [1, 2]},
            {"index": 7, "role": "assistant", "content": None, "timestamp": ts(5)},
        ],
        "metadata": {
            "provider": "anthropic",
            "model": "claude",
            "totalTurns": 9,
            "toolsUsed": ["a", "b"],
            "title": "T",
            "labels": {"k": "v"},
            "nothing": None,
        },
        "id": "abc",
        "lastApiTokenCount": {"inputTokens": 3},
    }
    assert cli("memory", "import", "-", input=json.dumps(doc)).exit_code == 0
    out = orjson.loads(cli("memory", "export", "--session-id", "x1").stdout)
    assert out == doc
    assert list(out) == list(doc)


def test_upstream_documents_import_into_the_native_layout(cli, store) -> None:
    doc = {
        "sessionId": "ts-1",
        "userId": None,
        "createdAt": ts(0),
        "updatedAt": ts(3),
        "turns": [
            {"index": 0, "role": "user", "content": "weather?", "timestamp": ts(0), "id": "m1"},
            {
                "index": 1,
                "role": "tool_call",
                "content": "",
                "timestamp": ts(1),
                "id": "m2",
                "tool": "weather",
                "args": {"city": "Pune"},
            },
            {"index": 2, "role": "tool_result", "content": "", "timestamp": ts(2), "result": 31},
        ],
        "metadata": {
            "provider": None,
            "model": None,
            "totalTurns": 3,
            "toolsUsed": ["weather"],
            "title": "Weather",
            "summarizedMessage": None,
            "source": "neurolink-ts",
        },
        "id": "uuid-1",
    }
    result = cli("memory", "import", "-", input=json.dumps(doc))
    assert result.exit_code == 0, result.stderr
    assert store.exists("ts-1")  # written in the native layout
    assert orjson.loads(cli("memory", "export", "--session-id", "ts-1").stdout) == doc


def test_on_conflict_fail_writes_nothing(cli, store) -> None:
    add_conversation(store, "exists", 2)
    before = cli("memory", "export", "--session-id", "exists").stdout
    lines = [
        json.dumps({"sessionId": "new1", "turns": []}),
        json.dumps({"sessionId": "exists", "turns": []}),
        json.dumps({"sessionId": "new2", "turns": []}),
    ]
    result = cli("memory", "import", "-", input="\n".join(lines))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "'exists' already exists" in result.stderr and "nothing imported" in result.stderr
    assert not store.exists("new1") and not store.exists("new2")
    assert cli("memory", "export", "--session-id", "exists").stdout == before


def test_on_conflict_skip_and_replace(cli, store) -> None:
    add_conversation(store, "s", 4)
    new = {"sessionId": "s", "turns": [{"role": "user", "content": "new", "timestamp": ts(9)}]}
    other = {"sessionId": "t", "turns": []}
    text = json.dumps(new) + "\n" + json.dumps(other)
    result = cli("memory", "import", "-", "--on-conflict", "skip", input=text)
    assert result.exit_code == 0
    assert "skipped 1" in result.stderr
    assert len(store.get("s").turns) == 4 and store.exists("t")
    result = cli("memory", "import", "-", "--on-conflict", "replace", input=json.dumps(new))
    assert result.exit_code == 0, result.stderr
    assert "replacing 1" in result.stderr
    doc = store.get("s")
    assert [t["content"] for t in doc.turns] == ["new"]
    assert doc.user_id is None and doc.metadata["totalTurns"] == 1


def test_replace_also_removes_an_upstream_session_of_that_id(cli, client, prefix) -> None:
    conv = f"{prefix}:conversation:"
    client.set(
        conv + "bob:dup",
        orjson.dumps(
            {
                "sessionId": "dup",
                "userId": "bob",
                "createdAt": ts(0),
                "updatedAt": ts(0),
                "messages": [{"role": "user", "content": "old", "timestamp": ts(0)}],
            }
        ),
    )
    env = {"REDIS_KEY_PREFIX": conv}
    doc = json.dumps({"sessionId": "dup", "turns": []})
    assert cli("memory", "import", "-", input=doc, env=env).exit_code == 1  # exists upstream
    assert (
        cli("memory", "import", "-", "--on-conflict", "replace", input=doc, env=env).exit_code == 0
    )
    assert client.get(conv + "bob:dup") is None


def test_bad_input_is_one_line_exit_2_and_nothing_written(cli, store) -> None:
    good = json.dumps({"sessionId": "fine", "turns": []})
    cases = {
        '{"sessionId": "has space"}': "bad session id",
        '{"sessionId": "a{b}"}': "bad session id",
        '{"turns": []}': "sessionId is missing",
        '{"sessionId": "x", "turns": {}}': "turns must be a JSON array",
        '{"sessionId": "x", "turns": [{"role": "robot", "content": ""}]}': "role 'robot'",
        '{"sessionId": "x", "turns": [{"index": 1, "role": "user"}, {"index": 1, "role": "user"}]}': "not greater",
        '{"sessionId": "x", "createdAt": "yesterday"}': "not an ISO 8601 time",
        '{"sessionId": "x", "metadata": []}': "metadata must be a JSON object",
        "[1]": "not a session document",
        "{oops": "not valid JSON",
        good + "\n" + good: "appears more than once",
    }
    for text, message in cases.items():
        result = cli("memory", "import", "-", input=good + "\n" + text)
        assert result.exit_code == 2, (text, result.stderr)
        assert message in result.stderr, (text, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stdout == ""
        assert not store.exists("fine")
    missing = cli("memory", "import", "no-such-file.json")
    assert missing.exit_code == 2 and "cannot read no-such-file.json" in missing.stderr


def test_jsonl_errors_name_the_line(cli) -> None:
    text = json.dumps({"sessionId": "a"}) + "\n\n" + '{"sessionId": 5}\n'
    result = cli("memory", "import", "-", input=text)
    assert result.exit_code == 2
    assert "stdin line 3: sessionId is missing or not a string" in result.stderr


def _dump(cli: Any, store: Any) -> Path:
    add_conversation(store, "d1", 2)
    add_conversation(store, "d2", 2, start_s=10)
    assert cli("memory", "export-all", "--output", "dump").exit_code == 0
    cli("memory", "delete", "--all", "--yes")
    return cli.cwd / "dump"


def test_directory_with_a_changed_file_is_refused_whole(cli, store) -> None:
    dump = _dump(cli, store)
    path = dump / "d2.json"
    path.write_bytes(path.read_bytes().replace(b"message 0", b"message X"))
    result = cli("memory", "import", "dump")
    assert result.exit_code == 2
    assert "d2.json: its sha256 differs from manifest.json" in result.stderr
    assert "nothing imported" in result.stderr
    assert not store.exists("d1") and not store.exists("d2")


def test_directory_missing_file_unlisted_file_and_no_manifest(cli, store) -> None:
    dump = _dump(cli, store)
    (dump / "stray.json").write_text("{}")
    result = cli("memory", "import", "dump")
    assert result.exit_code == 0
    assert "stray.json: not listed in manifest.json, ignored" in result.stderr
    cli("memory", "delete", "--all", "--yes")
    (dump / "d1.json").unlink()
    result = cli("memory", "import", "dump")
    assert result.exit_code == 2 and "d1.json: listed in manifest.json" in result.stderr
    assert not store.exists("d2")
    (dump / "manifest.json").unlink()
    result = cli("memory", "import", "dump")
    assert result.exit_code == 2 and "has no manifest.json" in result.stderr


def test_directory_manifest_cannot_point_outside(cli, store) -> None:
    dump = _dump(cli, store)
    manifest = orjson.loads((dump / "manifest.json").read_bytes())
    manifest["sessions"][0]["file"] = "../outside.json"
    (dump / "manifest.json").write_bytes(orjson.dumps(manifest))
    result = cli("memory", "import", "dump")
    assert result.exit_code == 2 and "outside the directory" in result.stderr


def test_csv_export_directory_is_refused(cli, store) -> None:
    add_conversation(store, "c", 2)
    assert cli("memory", "export-all", "--output", "csvdump", "--format", "csv").exit_code == 0
    result = cli("memory", "import", "csvdump")
    assert result.exit_code == 2 and "'csv' format" in result.stderr


def test_jsonl_directory_round_trip(cli, store) -> None:
    rich_session(store, "j")
    before = export_all_lines(cli)
    assert cli("memory", "export-all", "--output", "jd", "--format", "jsonl").exit_code == 0
    cli("memory", "delete", "--all", "--yes")
    assert cli("memory", "import", "jd").exit_code == 0
    assert export_all_lines(cli) == before


def test_import_moves_sessions_between_two_servers(cli, store, tmp_path) -> None:
    from support.redis_server import RedisServer

    rich_session(store, "moving")
    before = export_all_lines(cli)
    other = RedisServer().start()
    try:
        data = cli("memory", "export-all").stdout
        result = cli("memory", "import", "-", input=data, env={"REDIS_URL": other.url})
        assert result.exit_code == 0, result.stderr
        after = cli("memory", "export-all", env={"REDIS_URL": other.url}).stdout_bytes
        assert after.splitlines() == before
    finally:
        other.cleanup()


def test_imported_sessions_get_the_configured_ttl(cli, client, store) -> None:
    doc = json.dumps({"sessionId": "ttl", "turns": [{"role": "user", "content": "x"}]})
    result = cli("memory", "import", "-", input=doc, env={"NEUROLINK_MEMORY_TTL": "600"})
    assert result.exit_code == 0, result.stderr
    assert 0 < client.ttl(store.meta_key("ttl")) <= 600
    assert 0 < client.ttl(store.turns_key("ttl")) <= 600


def test_help_has_a_description_and_an_example(cli) -> None:
    out = cli("memory", "import", "--help").stdout
    assert "Example:" in out and "--on-conflict [fail|skip|replace]" in out


SAMPLES = Path("/work/shared/samples/neurolink-ts-keys.jsonl")
for _parent in Path(__file__).resolve().parents:
    if (_parent / "shared/samples/neurolink-ts-keys.jsonl").is_file():
        SAMPLES = _parent / "shared/samples/neurolink-ts-keys.jsonl"
        break


def test_sessions_of_the_typescript_sdk_round_trip_through_import(cli, client, prefix) -> None:
    """Real SDK keys: export -> delete -> import (into the native layout) -> export."""
    if not SAMPLES.is_file():
        pytest.skip("shared/samples/neurolink-ts-keys.jsonl not found")
    for line in SAMPLES.read_bytes().splitlines():
        rec = orjson.loads(line)
        key = f"{prefix}:" + rec["key"].removeprefix("neurolink:")
        if rec["type"] == "string":
            client.set(key, rec["value"])
        else:
            client.sadd(key, *rec["value"])
    env = {"REDIS_KEY_PREFIX": f"{prefix}:conversation:"}
    before = cli("memory", "export-all", env=env)
    assert before.exit_code == 0, before.stderr
    docs = {d["sessionId"]: d for d in map(orjson.loads, before.stdout.splitlines())}
    assert docs and all(d["metadata"]["source"] == "neurolink-ts" for d in docs.values())
    assert cli("memory", "delete", "--all", "--yes", env=env).exit_code == 0
    result = cli("memory", "import", "-", input=before.stdout, env=env)
    assert result.exit_code == 0, result.stderr
    after = cli("memory", "export-all", env=env).stdout
    assert {d["sessionId"]: d for d in map(orjson.loads, after.splitlines())} == docs
    store = NativeStore(client, prefix)
    assert all(store.exists(sid) for sid in docs)  # now native sessions


def test_a_null_title_survives_import(cli) -> None:
    doc = {
        "sessionId": "untitled",
        "userId": None,
        "createdAt": None,
        "updatedAt": None,
        "turns": [],
        "metadata": {
            "provider": None,
            "model": None,
            "totalTurns": 0,
            "toolsUsed": [],
            "title": None,
            "summarizedMessage": None,
            "source": "neurolink-ts",
        },
    }
    assert cli("memory", "import", "-", input=json.dumps(doc)).exit_code == 0
    assert orjson.loads(cli("memory", "export", "--session-id", "untitled").stdout) == doc


def test_upstream_conflicts_are_found_for_ids_with_colons(cli, client, prefix) -> None:
    conv = f"{prefix}:conversation:"
    for key, sid, user in (("u:x:a:b", "a:b", "u:x"), ("session-only:c:d", "c:d", "randomUser")):
        client.set(
            conv + key,
            orjson.dumps(
                {
                    "sessionId": sid,
                    "userId": user,
                    "createdAt": ts(0),
                    "updatedAt": ts(0),
                    "messages": [{"role": "user", "content": "old", "timestamp": ts(0)}],
                }
            ),
        )
    env = {"REDIS_KEY_PREFIX": conv}
    docs = "\n".join(json.dumps({"sessionId": s, "turns": []}) for s in ("a:b", "c:d", "b", "x"))
    result = cli("memory", "import", "-", input=docs, env=env)
    assert result.exit_code == 1 and "2 of the 4 sessions already exist" in result.stderr
    result = cli("memory", "import", "-", "--on-conflict", "skip", input=docs, env=env)
    assert result.exit_code == 0 and "imported 2 sessions" in result.stderr


@pytest.mark.parametrize("on_conflict", ["fail", "skip"])
def test_a_session_created_after_the_check_is_never_overwritten(
    cli, store, tmp_path, monkeypatch, on_conflict
) -> None:
    """Between import's existence check and its write another writer creates the session:
    the write is refused on the server and the other writer's turns stay as they are."""
    from neurolink_cli.store.repository import Repository

    add_conversation(store, "raced", 3)
    before = store.get("raced")
    monkeypatch.setattr(Repository, "existing", lambda self, ids: (set(), set()))
    doc = {"sessionId": "raced", "turns": [{"role": "user", "content": "from the file"}]}
    (tmp_path / "one.json").write_text(json.dumps(doc))
    result = cli("memory", "import", str(tmp_path / "one.json"), "--on-conflict", on_conflict)
    after = store.get("raced")
    assert after.turns == before.turns and after.metadata == before.metadata
    if on_conflict == "fail":
        assert result.exit_code == 1 and "created by another writer" in result.stderr
    else:
        assert result.exit_code == 0, result.stderr


def test_write_session_creates_only_what_is_absent(store) -> None:
    from neurolink_cli.models import SessionDoc

    doc = SessionDoc("fresh", None, ts(0), ts(1), {"totalTurns": 2})
    doc.turns = [
        {"index": i, "role": "user", "content": f"t{i}", "timestamp": ts(i)} for i in range(2)
    ]
    assert store.write_session(doc) is True
    assert store.write_session(doc) is False  # it exists now: refused, not doubled
    got = store.get("fresh")
    assert [t["content"] for t in got.turns] == ["t0", "t1"]
    assert store.write_session(doc, replace=True) is True
    assert len(store.get("fresh").turns) == 2
