"""The TypeScript SDK's layout against the keys the real SDK wrote (shared/samples).

The sample keys are loaded into the private Redis with their type and TTL, ``neurolink:``
at the start of each key rewritten to the test's own prefix. The CLI is pointed at them
with ``REDIS_KEY_PREFIX`` (the SDK's variable) and, for the user sets, a ``.neurolink.toml``
in its working directory.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.helpers import CSV_HEADER

from neurolink_cli.models import make_turn
from neurolink_cli.store.upstream import UpstreamStore

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared/samples/neurolink-ts-keys.jsonl"
if not SAMPLES.is_file():  # the tree checked out elsewhere: the shared dir of the workspace
    SAMPLES = Path("/work/shared/samples/neurolink-ts-keys.jsonl")


class Upstream:
    """The test's upstream prefixes, a client on the private Redis, and loaders."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.root = f"{prefix}:"
        self.c = f"{prefix}:conversation:"
        self.u = f"{prefix}:user:sessions:"
        self.store = UpstreamStore(client, self.c, self.u, batch_size=3)

    def rekey(self, key: str) -> str:
        return self.root + key.removeprefix("neurolink:")

    def load_samples(self) -> list[dict[str, Any]]:
        """Write every sample key (type and TTL kept); return the sample records."""
        records = [orjson.loads(line) for line in SAMPLES.read_bytes().splitlines() if line]
        for rec in records:
            key = self.rekey(rec["key"])
            if rec["type"] == "string":
                self.client.set(key, rec["value"])
            elif rec["type"] == "set":
                self.client.sadd(key, *rec["value"])
            else:
                raise AssertionError(f"sample of unexpected type {rec['type']}")
            if rec["ttl"] and rec["ttl"] > 0:
                self.client.expire(key, rec["ttl"])
        return records

    def put(self, rest: str, value: Any, user: str | None = None) -> str:
        """Store ``value`` (JSON-encoded unless bytes/str) at ``C<rest>``; add to U<user>."""
        key = self.c + rest
        data = value if isinstance(value, bytes | str) else orjson.dumps(value)
        self.client.set(key, data)
        if user is not None:
            self.client.sadd(self.u + user, orjson.loads(data)["sessionId"])
        return key

    def snapshot(self) -> dict[bytes, Any]:
        """Every key under the test prefix with its type and value."""
        out: dict[bytes, Any] = {}
        for key in self.client.scan_iter(match=self.root + "*"):
            kind = self.client.type(key)
            if kind == b"string":
                out[key] = self.client.get(key)
            elif kind == b"set":
                out[key] = self.client.smembers(key)
            else:
                out[key] = kind
        return out


def session(sid: str, user: str, messages: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    """An upstream session object as the SDK writes it."""
    return {
        "id": f"doc-{sid}",
        "title": f"About {sid}",
        "sessionId": sid,
        "userId": user,
        "createdAt": "2026-11-20T10:00:00.000Z",
        "updatedAt": "2026-11-20T10:05:00.000Z",
        "messages": messages,
        **more,
    }


@pytest.fixture
def up(client: Any, prefix: str, cli: Any) -> Upstream:
    """Upstream keys under the test prefix, and the CLI configured to read them."""
    u = Upstream(client, prefix)
    cli.env["REDIS_KEY_PREFIX"] = u.c
    (cli.cwd / ".neurolink.toml").write_text(
        f'[conversationMemory.redis]\nupstreamUserSessionsPrefix = "{u.u}"\n'
    )
    return u


def jsonl(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in text.splitlines() if line]


def sample_value(records: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    for rec in records:
        if rec["type"] == "string":
            value = orjson.loads(rec["value"])
            if value["sessionId"] == sid:
                return value
    raise KeyError(sid)


# -- list -------------------------------------------------------------------------------
def test_constructor_does_no_io() -> None:
    store = UpstreamStore(object())
    assert store.prefix == "neurolink:conversation:"
    assert store.user_prefix == "neurolink:user:sessions:"


def test_list_shows_both_layouts_with_source_and_ttl(cli, up, store) -> None:
    up.load_samples()
    store.append_turn("native-1", make_turn("user", "hi", "2026-11-25T00:00:00.000Z"), user_id="n")
    result = cli("memory", "list", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    rows = {r["sessionId"]: r for r in orjson.loads(result.stdout)}
    assert set(rows) == {"sess-A", "sess-B", "native-1"}
    assert [r["sessionId"] for r in orjson.loads(result.stdout)] == ["sess-B", "sess-A", "native-1"]
    assert rows["native-1"]["source"] == "native" and rows["native-1"]["ttl"] is None
    a, b = rows["sess-A"], rows["sess-B"]
    assert a["source"] == b["source"] == "neurolink-ts"
    assert (a["userId"], a["turns"], a["title"]) == ("alice", 4, "Fake Title About Colors")
    assert (b["userId"], b["turns"]) == (None, 2)  # "randomUser" is no user
    assert a["updatedAt"] == "2026-11-26T22:45:59.991Z"
    assert 86000 < a["ttl"] <= 86400 and 86000 < b["ttl"] <= 86400


def test_list_table_names_the_layout(cli, up) -> None:
    up.load_samples()
    result = cli("memory", "list", "--format", "table", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "neurolink-ts" in result.stdout and "sess-A" in result.stdout
    assert "1d" in result.stdout  # the TTL column


def test_list_user_id_reads_the_users_set(cli, up) -> None:
    up.load_samples()
    # A key of alice's that her set does not name: the set is what --user-id follows.
    up.put("alice:stray", session("stray", "alice", []))
    # bob has no set at all: found by SCAN over his keys.
    up.put("bob:b1", session("b1", "bob", []))
    result = cli("memory", "list", "--user-id", "alice", "--format", "json")
    assert [r["sessionId"] for r in orjson.loads(result.stdout)] == ["sess-A"]
    result = cli("memory", "list", "--user-id", "bob", "--format", "json")
    assert [r["sessionId"] for r in orjson.loads(result.stdout)] == ["b1"]
    result = cli("memory", "list", "--user-id", "nobody", "--format", "json")
    assert orjson.loads(result.stdout) == []


def test_list_since_until_by_updated_at(cli, up) -> None:
    up.load_samples()
    result = cli("memory", "list", "--since", "2026-11-26T22:46:00Z", "--format", "json")
    assert [r["sessionId"] for r in orjson.loads(result.stdout)] == ["sess-B"]
    result = cli("memory", "list", "--until", "2026-11-26T22:46:00Z", "--format", "json")
    assert [r["sessionId"] for r in orjson.loads(result.stdout)] == ["sess-A"]


# -- export -----------------------------------------------------------------------------
def test_export_json_keeps_every_message_field(cli, up) -> None:
    records = up.load_samples()
    before = up.snapshot()
    for sid in ("sess-A", "sess-B"):
        stored = sample_value(records, sid)
        result = cli("memory", "export", "--session-id", sid)
        assert result.exit_code == 0, result.stderr
        doc = orjson.loads(result.stdout)
        assert list(doc) == [
            "sessionId",
            "userId",
            "createdAt",
            "updatedAt",
            "turns",
            "metadata",
            "id",
        ]
        assert doc["sessionId"] == sid and doc["id"] == stored["id"]
        assert doc["userId"] == (None if stored["userId"] == "randomUser" else stored["userId"])
        assert (doc["createdAt"], doc["updatedAt"]) == (stored["createdAt"], stored["updatedAt"])
        assert len(doc["turns"]) == len(stored["messages"])
        for i, (turn, message) in enumerate(zip(doc["turns"], stored["messages"], strict=True)):
            assert list(turn)[:4] == ["index", "role", "content", "timestamp"]
            assert turn == {"index": i, **message}
        md = doc["metadata"]
        assert list(md)[:7] == [
            "provider",
            "model",
            "totalTurns",
            "toolsUsed",
            "title",
            "summarizedMessage",
            "source",
        ]
        assert md["source"] == "neurolink-ts" and md["totalTurns"] == len(stored["messages"])
        assert md["title"] == stored["title"] and md["summarizedMessage"] is None
    assert doc["turns"][1]["events"][0]["type"] == "response:chunk"  # sess-B keeps events
    out = cli("memory", "export", "--session-id", "sess-A")
    md = orjson.loads(out.stdout)["metadata"]
    assert md["lastApiTokenCount"] == {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18}
    assert up.snapshot() == before  # reading never writes


def test_export_csv_of_samples(cli, up) -> None:
    up.load_samples()
    result = cli("memory", "export", "--session-id", "sess-A", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == CSV_HEADER
    assert [(r[2], r[3]) for r in rows[1:]] == [
        ("0", "user"),
        ("1", "assistant"),
        ("2", "user"),
        ("3", "assistant"),
    ]
    assert rows[1][0:2] == ["sess-A", "alice"]
    assert rows[1][9] == "My favourite colour is blue."
    result = cli("memory", "export", "--session-id", "sess-B", "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[1][1] == "" and rows[2][9] == "FAKE-ANSWER to: Tell me about colours."


def test_export_without_metadata_and_time_window(cli, up) -> None:
    up.load_samples()
    result = cli("memory", "export", "--session-id", "sess-B", "--no-include-metadata")
    doc = orjson.loads(result.stdout)
    assert "metadata" not in doc
    assert all(list(t) == ["index", "role", "content", "timestamp"] for t in doc["turns"])
    result = cli(
        "memory", "export", "--session-id", "sess-A", "--since", "2026-11-26T22:45:59.900Z"
    )
    assert [t["index"] for t in orjson.loads(result.stdout)["turns"]] == [2, 3]


def test_export_unknown_id_is_not_found(cli, up) -> None:
    up.load_samples()
    result = cli("memory", "export", "--session-id", "sess-Z")
    assert result.exit_code == 3
    assert "sess-Z" in result.stderr and result.stdout == ""


# -- export-all -------------------------------------------------------------------------
def test_export_all_stdout_has_both_layouts(cli, up, store) -> None:
    up.load_samples()
    store.append_turn("native-1", make_turn("user", "hi", "2026-11-25T00:00:00.000Z"))
    result = cli("memory", "export-all")
    assert result.exit_code == 0, result.stderr
    docs = {d["sessionId"]: d for d in jsonl(result.stdout)}
    assert set(docs) == {"sess-A", "sess-B", "native-1"}
    assert docs["sess-A"]["metadata"]["source"] == "neurolink-ts"
    assert docs["sess-A"]["turns"][3]["id"] == "748fd5fe-6b3b-4a62-a64d-38849719a6b7"
    result = cli("memory", "export-all", "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][0] == "sessionId" and sum(r[0] == "sessionId" for r in rows) == 1
    assert len(rows) == 1 + 4 + 2 + 1


def test_export_all_user_id(cli, up) -> None:
    up.load_samples()
    result = cli("memory", "export-all", "--user-id", "alice")
    assert [d["sessionId"] for d in jsonl(result.stdout)] == ["sess-A"]


def test_export_all_directory_and_manifest(cli, up, tmp_path: Path) -> None:
    up.load_samples()
    up.client.hset(up.c + "a-hash", "k", "v")
    out = tmp_path / "exports"
    result = cli("memory", "export-all", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert sorted(e["sessionId"] for e in manifest["sessions"]) == ["sess-A", "sess-B"]
    assert manifest["failed"] == []
    assert manifest["skipped"] == [
        {"sessionId": up.c + "a-hash", "reason": "a hash, not a session (a JSON string)"}
    ]
    assert f"skipped {up.c}a-hash" in result.stderr
    doc = orjson.loads((out / "sess-A~alice.json").read_bytes())  # TS layout: <id>~<user>
    assert doc["metadata"]["source"] == "neurolink-ts" and len(doc["turns"]) == 4


# -- delete -----------------------------------------------------------------------------
def test_delete_removes_key_and_set_member_only(cli, up) -> None:
    up.load_samples()
    up.client.sadd(up.u + "alice", "another")
    before = up.snapshot()
    result = cli("memory", "delete", "--session-id", "sess-A", "--yes")
    assert result.exit_code == 0, result.stderr
    after = up.snapshot()
    assert set(before) - set(after) == {(up.c + "alice:sess-A").encode()}
    assert after[(up.u + "alice").encode()] == {b"another"}
    assert {k: v for k, v in before.items() if k in after and b"user:sessions" not in k} == {
        k: v for k, v in after.items() if b"user:sessions" not in k
    }
    assert up.client.ttl(up.u + "alice") > 0  # the set keeps its TTL
    result = cli("memory", "export", "--session-id", "sess-A")
    assert result.exit_code == 3


def test_delete_session_only_and_dry_run(cli, up) -> None:
    up.load_samples()
    result = cli("memory", "delete", "--session-id", "sess-B", "--dry-run")
    assert result.stdout == "sess-B\n" and up.client.exists(up.c + "session-only:sess-B")
    result = cli("memory", "delete", "--session-id", "sess-B", "--yes")
    assert result.exit_code == 0, result.stderr
    assert not up.client.exists(up.c + "session-only:sess-B")
    assert up.client.exists(up.c + "alice:sess-A")


def test_delete_all_removes_sessions_and_user_sets(cli, up, client) -> None:
    up.load_samples()
    up.client.set(up.c + "not-json", "hello")
    client.set(up.root + "unrelated", "keep me")
    result = cli("memory", "delete", "--all", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "deleted 2 sessions" in result.stderr
    assert set(up.snapshot()) == {(up.c + "not-json").encode(), (up.root + "unrelated").encode()}


def test_delete_older_than(cli, up) -> None:
    up.load_samples()
    up.put("carol:old", session("old", "carol", []), user="carol")
    result = cli("memory", "delete", "--older-than", "1d", "--dry-run")
    assert "old" in result.stdout.split()
    result = cli("memory", "delete", "--older-than", "1d", "--user-id", "carol", "--yes")
    assert result.exit_code == 0, result.stderr
    assert not up.client.exists(up.c + "carol:old")
    assert not up.client.sismember(up.u + "carol", "old")


# -- the installed binary ---------------------------------------------------------------
@pytest.mark.e2e
def test_binary_lists_and_exports_samples(neurolink_bin, up, tmp_path: Path) -> None:
    up.load_samples()
    env = {"REDIS_KEY_PREFIX": up.c}
    proc = neurolink_bin("memory", "list", env_extra=env)
    assert proc.returncode == 0, proc.stderr
    rows = jsonl(proc.stdout.decode())  # piped: JSONL
    assert {r["sessionId"]: r["source"] for r in rows} == {
        "sess-A": "neurolink-ts",
        "sess-B": "neurolink-ts",
    }
    proc = neurolink_bin("memory", "export", "--session-id", "sess-A", env_extra=env)
    assert proc.returncode == 0, proc.stderr
    assert orjson.loads(proc.stdout)["metadata"]["totalTurns"] == 4
    proc = neurolink_bin("memory", "export-all", "--format", "csv", env_extra=env)
    assert proc.returncode == 0 and proc.stdout.count(b"\r\n") == 1 + 6
