"""Issue 12 item 3: ``delete`` deletes exactly what it was asked to.

``--user-id`` scopes to that user in both layouts; ``--older-than`` judges each session (each
key) on its own; a session that changed after it was selected is kept and reported by a
compare-and-delete on the server; selection is linear (one SCAN of the TypeScript prefix,
not one per id). On one Redis and on a 3-primary Cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from support.redis_server import RedisClusterServers

from neurolink_cli.config import load_settings
from neurolink_cli.models import make_turn
from neurolink_cli.store.connection import make_client
from neurolink_cli.store.deletion import BATCH
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.repository import Repository
from neurolink_cli.store.upstream import UpstreamStore
from neurolink_cli.util.timeutil import ms_to_rfc3339, now_ms

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(primaries=3).start()
    yield servers
    servers.cleanup()


@pytest.fixture(params=["single", pytest.param("cluster", marks=pytest.mark.cluster)])
def rclient(request: Any, redis_server: Any) -> Iterator[Any]:
    url = redis_server.url if request.param == "single" else request.getfixturevalue("cluster").url
    client = make_client(load_settings({"redis_url": url}, env={}, file_values={}))
    yield client
    client.close()


class Both:
    """A repository over both layouts under a fresh prefix, and writers for each."""

    def __init__(self, client: Any) -> None:
        p = f"d{uuid.uuid4().hex[:8]}"
        self.client = client
        self.native = NativeStore(client, p)
        self.c, self.u = f"{p}:conversation:", f"{p}:user:sessions:"
        self.up = UpstreamStore(client, self.c, self.u)
        self.repo = Repository(self.native, self.up)

    def native_session(self, sid: str, user: str, age_ms: int = 0) -> None:
        when = ms_to_rfc3339(now_ms() - age_ms)
        self.native.append_turn(sid, make_turn("user", "hi", when), user_id=user)

    def ts_session(self, sid: str, user: str | None, age_ms: int = 0) -> str:
        when = ms_to_rfc3339(now_ms() - age_ms)
        doc = {
            "id": f"doc-{sid}",
            "sessionId": sid,
            "userId": user or "randomUser",
            "createdAt": when,
            "updatedAt": when,
            "messages": [{"id": "m1", "role": "user", "content": "hi", "timestamp": when}],
        }
        key = f"{self.c}{user or 'session-only'}:{sid}"
        self.client.set(key, orjson.dumps(doc))
        if user:
            self.client.sadd(f"{self.u}{user}", sid)
        return key

    def present(self) -> set[tuple[str, str, str | None]]:
        """(source, id, user) of every session left."""
        return {(r.source, r.session_id, r.user_id) for r in self.repo.list(limit=0)}


def test_user_id_scopes_to_that_user_in_both_layouts(rclient: Any) -> None:
    b = Both(rclient)
    b.native_session("s1", "alice")
    b.native_session("s2", "bob")
    b.ts_session("s1", "bob")
    b.ts_session("s2", "alice")
    b.ts_session("s2", "bob")
    targets = b.repo.select(user_id="alice")
    report = b.repo.delete_selected(targets)
    assert report.deleted == 2 and not report.kept
    assert b.present() == {
        ("native", "s2", "bob"),
        ("neurolink-ts", "s1", "bob"),
        ("neurolink-ts", "s2", "bob"),
    }
    assert rclient.smembers(f"{b.u}bob") == {b"s1", b"s2"}
    assert rclient.smembers(f"{b.u}alice") == set()


def test_older_than_judges_each_session_on_its_own(rclient: Any) -> None:
    b = Both(rclient)
    b.ts_session("x", "alice", age_ms=40 * DAY_MS)
    b.ts_session("x", "bob")  # same id, updated today
    b.native_session("x", "carol")  # same id again, native, today
    b.native_session("old", "carol", age_ms=90 * DAY_MS)
    b.ts_session("y", None, age_ms=31 * DAY_MS)
    report = b.repo.delete_selected(b.repo.select(older_than_ms=now_ms() - 30 * DAY_MS))
    assert report.deleted == 3
    assert b.present() == {("neurolink-ts", "x", "bob"), ("native", "x", "carol")}
    # --older-than with --user-id: both conditions, per session
    b.ts_session("z", "alice", age_ms=40 * DAY_MS)
    b.ts_session("z", "bob", age_ms=40 * DAY_MS)
    selected = b.repo.select(older_than_ms=now_ms() - 30 * DAY_MS, user_id="bob")
    assert [(t.session_id, t.user_id) for t in selected] == [("z", "bob")]


def test_a_session_changed_after_selection_is_kept(rclient: Any) -> None:
    b = Both(rclient)
    for sid in ("n1", "n2"):
        b.native_session(sid, "u", age_ms=60 * DAY_MS)
    k1 = b.ts_session("t1", "u", age_ms=60 * DAY_MS)
    b.ts_session("t2", "u", age_ms=60 * DAY_MS)
    targets = b.repo.select(older_than_ms=now_ms() - DAY_MS)
    assert len(targets) == 4
    # writers act between selection and deletion: a turn appended, the JSON rewritten
    b.native.append_turn("n1", make_turn("user", "late", ms_to_rfc3339(now_ms())))
    doc = orjson.loads(rclient.get(k1))
    doc["messages"].append({"id": "m2", "role": "assistant", "content": "late"})
    rclient.set(k1, orjson.dumps(doc))
    report = b.repo.delete_selected(targets)
    assert report.deleted == 2
    assert sorted(t.session_id for t in report.kept) == ["n1", "t1"]
    assert {sid for _, sid, _ in b.present()} == {"n1", "t1"}
    got = b.repo.get("n1")
    assert got.turn_count() == 2  # type: ignore[union-attr]
    assert rclient.sismember(f"{b.u}u", "t1")


def test_changed_and_gone_ones_in_later_batches(rclient: Any) -> None:
    """More than two compare-and-delete batches per layout (each sent before the results of
    the one before are handled, on one server): a session changed or gone in a later batch
    is kept or counted gone, every other one deleted, in both layouts."""
    b = Both(rclient)
    n = 2 * BATCH + 37
    keys = {}
    for i in range(n):
        b.native_session(f"n{i:04d}", "u", age_ms=60 * DAY_MS)
        keys[i] = b.ts_session(f"t{i:04d}", "u", age_ms=60 * DAY_MS)
    targets = b.repo.select(older_than_ms=now_ms() - DAY_MS)
    assert len(targets) == 2 * n
    b.native.append_turn("n0600", make_turn("user", "late", ms_to_rfc3339(now_ms())))
    rclient.set(keys[1030], rclient.get(keys[1030]) + b" ")
    b.native.delete("n1001")
    rclient.delete(keys[7])
    report = b.repo.delete_selected(targets)
    assert (report.deleted, report.gone) == (2 * n - 4, 2)
    assert sorted(t.session_id for t in report.kept) == ["n0600", "t1030"]
    assert {sid for _, sid, _ in b.present()} == {"n0600", "t1030"}


def test_session_ids_in_both_layouts_and_gone_ones(rclient: Any) -> None:
    b = Both(rclient)
    b.native_session("a", "u")
    b.ts_session("a", "v")
    b.ts_session("a", None)
    b.native_session("keep", "u")
    targets = b.repo.select(session_ids=["a", "nope"])
    assert sorted((t.source, t.user_id or "-") for t in targets) == [
        ("native", "u"),
        ("neurolink-ts", "-"),
        ("neurolink-ts", "v"),
    ]
    b.repo.delete("a")  # someone else deletes them first
    report = b.repo.delete_selected(targets)
    assert report.deleted == 0 and report.gone == 3 and not report.kept
    assert {sid for _, sid, _ in b.present()} == {"keep"}


def test_selecting_many_ids_scans_the_prefix_once(client: Any) -> None:
    """Linear: 300 ids of the TypeScript layout cost a handful of SCAN calls, not 300+."""
    b = Both(client)
    for i in range(300):
        b.ts_session(f"s{i}", f"u{i % 3}")

    def scans() -> int:
        stats = client.info("commandstats").get("cmdstat_scan", {})
        return int(stats.get("calls", 0))

    # SCAN calls grow with the server's keyspace (shared by the suite), never with the ids
    before = scans()
    assert len(b.repo.select(session_ids=["s0"])) == 1
    one = scans() - before
    before = scans()
    targets = b.repo.select(session_ids=[f"s{i}" for i in range(300)])
    assert len(targets) == 300
    assert scans() - before <= one + 2
    assert b.repo.delete_selected(targets).deleted == 300
    assert b.present() == set()


def test_cli_reports_changed_sessions_kept_with_exit_1(
    cli: Any, client: Any, prefix: str, monkeypatch: Any
) -> None:
    store = NativeStore(client, prefix)
    old = ms_to_rfc3339(now_ms() - 60 * DAY_MS)
    for sid in ("a", "b"):
        store.append_turn(sid, make_turn("user", "hi", old), user_id="u")
    real = Repository.select

    def select_then_write(self: Repository, **kw: Any) -> Any:
        targets = real(self, **kw)
        store.append_turn("a", make_turn("user", "late", ms_to_rfc3339(now_ms())))
        return targets

    monkeypatch.setattr(Repository, "select", select_then_write)
    result = cli("memory", "delete", "--older-than", "30d", "--yes")
    assert result.exit_code == 1, result.stderr
    assert "a (" in result.stderr and "changed since selected, kept" in result.stderr
    assert "deleted 1 session" in result.stderr
    out = cli("memory", "list", "--format", "jsonl", "--limit", "0").stdout
    assert [orjson.loads(line)["sessionId"] for line in out.splitlines()] == ["a"]


def test_cli_user_id_does_not_touch_other_users(cli: Any, client: Any, prefix: str) -> None:
    c, u = f"{prefix}:conversation:", f"{prefix}:user:sessions:"
    for user in ("alice", "bob"):
        doc = {"sessionId": "same", "userId": user, "updatedAt": ms_to_rfc3339(now_ms())}
        client.set(f"{c}{user}:same", orjson.dumps({**doc, "messages": []}))
        client.sadd(f"{u}{user}", "same")
    cli.env["REDIS_KEY_PREFIX"] = c  # the TypeScript SDK's variable
    (cli.cwd / ".neurolink.toml").write_text(
        f'[conversationMemory.redis]\nupstreamUserSessionsPrefix = "{u}"\n'
    )
    result = cli("memory", "delete", "--all", "--user-id", "alice", "--yes")
    assert result.exit_code == 0, result.stderr
    assert client.exists(f"{c}alice:same") == 0
    assert client.exists(f"{c}bob:same") == 1
    assert client.smembers(f"{u}bob") == {b"same"} and not client.exists(f"{u}alice")


def test_a_session_with_keys_of_the_wrong_type_can_be_deleted(rclient: Any) -> None:
    b = Both(rclient)
    b.native_session("bad", "u")
    rclient.delete(b.native.turns_key("bad"))
    rclient.set(b.native.turns_key("bad"), "not a list")
    targets = b.repo.select(session_ids=["bad"])
    assert [t.version for t in targets] == [b"!"]
    assert b.repo.delete_selected(targets).deleted == 1
    assert not rclient.exists(b.native.turns_key("bad"), b.native.meta_key("bad"))


def test_cli_session_id_with_user_id_deletes_only_that_users_copy(
    cli: Any, client: Any, prefix: str
) -> None:
    c, u = f"{prefix}:conversation:", f"{prefix}:user:sessions:"
    for user in ("alice", "bob"):
        doc = {"sessionId": "same", "userId": user, "updatedAt": ms_to_rfc3339(now_ms())}
        client.set(f"{c}{user}:same", orjson.dumps({**doc, "messages": []}))
        client.sadd(f"{u}{user}", "same")
    cli.env["REDIS_KEY_PREFIX"] = c
    (cli.cwd / ".neurolink.toml").write_text(
        f'[conversationMemory.redis]\nupstreamUserSessionsPrefix = "{u}"\n'
    )
    result = cli("memory", "delete", "--session-id", "same", "--user-id", "bob", "--yes")
    assert result.exit_code == 0, result.stderr
    assert client.exists(f"{c}bob:same") == 0
    assert client.exists(f"{c}alice:same") == 1
    # the id exists, but not for carol: nothing deleted, named as not found (exit 3)
    result = cli("memory", "delete", "--session-id", "same", "--user-id", "carol", "--yes")
    assert result.exit_code == 3, result.stderr
    assert client.exists(f"{c}alice:same") == 1
