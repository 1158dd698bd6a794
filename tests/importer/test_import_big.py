"""Big documents (issue 13 item 3): turns kept as text, checked and written page by page.

A document of ``LAZY_BYTES`` or more is read with its turns left as text
(:mod:`neurolink_cli.importer.lazy`) and written to a staging list that one script moves
into place (:mod:`neurolink_cli.store.staged`). The fast tests run that path on small
documents (``LAZY_BYTES = 0``, pages of 3 turns) and compare it with the whole-document
path: the same stored bytes, the same messages and exit codes. The slow one imports a
20,000-turn session (over ``LAZY_BYTES``) from every form export writes and checks that
exporting it again gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.helpers import ts

from neurolink_cli.importer import documents, sources
from neurolink_cli.importer.lazy import LAZY_BYTES
from neurolink_cli.models import SessionDoc
from neurolink_cli.store import native
from neurolink_cli.store.native import NativeStore


@pytest.fixture
def lazy(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every document takes the big-document path, in pages of 3 turns."""

    def on() -> None:
        monkeypatch.setattr(sources, "LAZY_BYTES", 0)
        monkeypatch.setattr(documents, "PAGE_TURNS", 3)

    return on


def stored(client: Any, prefix: str) -> dict[bytes, Any]:
    """Every key under ``prefix`` with its exact value (lists, hashes, the index)."""
    out: dict[bytes, Any] = {}
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        kind = client.type(key)
        if kind == b"list":
            out[key] = client.lrange(key, 0, -1)
        elif kind == b"hash":
            out[key] = sorted(client.hgetall(key).items())
        elif kind == b"zset":
            out[key] = client.zrange(key, 0, -1, withscores=True)
        else:
            out[key] = (kind, client.dump(key))
        out[key + b" ttl"] = client.ttl(key) > 0
    return out


def renamed(data: dict[bytes, Any], old: str, new: str) -> dict[bytes, Any]:
    return {k.replace(old.encode(), new.encode(), 1): v for k, v in data.items()}


def odd_document(sid: str, turns: int = 8, *, with_index: bool = True) -> dict[str, Any]:
    """A document with what the parsers treat differently: big integers, floats, epoch
    ms times, non-ASCII, nested turn fields, extra metadata and top-level fields."""
    doc_turns = []
    for i in range(turns):
        turn: dict[str, Any] = {
            "role": ["user", "assistant", "tool", "system"][i % 4],
            "content": f"héllo 東京 {i} " + "x" * (i * 7),
            "timestamp": ts(i) if i % 3 else 1_767_225_600_000 + i * 1000,  # epoch ms too
        }
        if with_index:
            turn = {"index": i * 2 + 1, **turn}  # sparse
        if i % 2:
            turn["tokens"] = {"prompt": 2**70 + i, "completion": 7}
            turn["cost"] = 0.1 + i
            turn["toolCalls"] = [{"name": "f", "args": {"deep": [[{"a": None}]], "n": -0.0}}]
        doc_turns.append(turn)
    return {
        "sessionId": sid,
        "userId": "ann",
        "createdAt": ts(0),
        "updatedAt": ts(1),  # a later turn moves the index entry up
        "turns": doc_turns,
        "metadata": {
            "provider": "p",
            "model": None,
            "totalTurns": turns,
            "toolsUsed": ["f"],
            "title": None,
            "custom": {"n": 12345678901234567890123},
        },  # fmt: skip
        "labels": ["a", {"b": 1.5e300}],
    }


def import_both_ways(cli: Any, lazy: Any, client: Any, prefix: str, source: Path) -> None:
    """Import ``source`` whole into ``prefix``-w and lazily into ``prefix``-l; equal stores."""
    whole = cli("--key-prefix", f"{prefix}-w", "memory", "import", str(source))
    assert whole.exit_code == 0, whole.stderr
    lazy()
    paged = cli("--key-prefix", f"{prefix}-l", "memory", "import", str(source))
    assert paged.exit_code == 0, paged.stderr
    assert paged.stderr == whole.stderr
    a = stored(client, f"{prefix}-w")
    assert a and renamed(stored(client, f"{prefix}-l"), f"{prefix}-l", f"{prefix}-w") == a
    assert not [k for k in a if b":importing:" in k]


@pytest.mark.parametrize("form", ["json", "pretty", "array", "jsonl", "dir", "no-index"])
def test_the_big_document_path_stores_the_same_bytes(
    cli: Any, lazy: Any, client: Any, prefix: str, tmp_path: Path, form: str
) -> None:
    docs = [odd_document("s-1", 8, with_index=form != "no-index"), odd_document("s-2", 1)]
    docs.append({**odd_document("s-3", 0), "turns": []})
    docs.append(odd_document("lone", 2) | {"title": "\ud800 cut emoji"})  # msgspec refuses it
    source = tmp_path / "in"
    if form in ("json", "no-index"):
        source.write_bytes(b"\n".join(json.dumps(d).encode() for d in docs))
    elif form == "pretty":
        source.write_bytes(json.dumps(docs[0], indent=2).encode())
    elif form == "array":
        source.write_bytes(json.dumps(docs).encode())
    elif form == "jsonl":
        source.write_bytes(b"".join(json.dumps(d).encode() + b"\n" for d in docs))
    else:
        cli("--key-prefix", f"{prefix}-src", "memory", "import", "-",
            input=b"\n".join(json.dumps(d).encode() for d in docs))  # fmt: skip
        out = cli("--key-prefix", f"{prefix}-src", "memory", "export-all", "--output", "exp")
        assert out.exit_code == 0, out.stderr
        source = cli.cwd / "exp"
    import_both_ways(cli, lazy, client, prefix, source)


BAD_TURNS: list[tuple[str, Any]] = [
    ("a bad role", {"role": "robot"}),
    ("no index among indexed turns", {"index": None}),
    ("an index going back", {"index": 0}),
    ("a turn that is a number", 5),
    ("a bad timestamp", {"timestamp": -5}),
    ("nested too deep", {"x": json.loads("[" * 300 + "]" * 300)}),
]


@pytest.mark.parametrize("what, change", BAD_TURNS, ids=[w for w, _ in BAD_TURNS])
def test_a_bad_turn_deep_in_a_big_document_gives_the_same_message(
    cli: Any, lazy: Any, client: Any, prefix: str, tmp_path: Path, what: str, change: Any
) -> None:
    doc = odd_document("s-1", 9)
    turn = doc["turns"][6]
    if isinstance(change, dict):
        turn.update(change)
        if turn.get("index", 1) is None:
            del turn["index"]
    else:
        doc["turns"][6] = change
    source = tmp_path / "bad.jsonl"
    source.write_bytes(
        json.dumps(odd_document("ok", 3)).encode() + b"\n" + json.dumps(doc).encode()
    )
    whole = cli("memory", "import", str(source))
    lazy()
    paged = cli("memory", "import", str(source))
    assert whole.exit_code == paged.exit_code == 2, whole.stderr
    assert paged.stderr == whole.stderr
    assert "line 2" in whole.stderr
    assert list(client.scan_iter(match=f"{prefix}:*")) == []


@pytest.mark.parametrize(
    "text",
    [
        b'{"sessionId": "s", "turns": [{"role": "user", "content": "\xff"}]}',  # not UTF-8
        b'{"sessionId": "s", "turns": [{"role": "user"}]} trailing',
        b'{"sessionId": "has space", "turns": [{"role": "user"}]}',
        b'{"sessionId": "s", "metadata": [], "turns": [{"role": "user"}]}',
        b'{"sessionId": "s", "turns": [{"role": "user", "n": 1e400}]}',
        b'[{"sessionId": "s", "turns": [{"role": "user"}]}, {"sessionId": "s", "turns": []}]',
    ],
)
def test_bad_input_gives_the_same_message_on_both_paths(
    cli: Any, lazy: Any, client: Any, prefix: str, tmp_path: Path, text: bytes
) -> None:
    source = tmp_path / "bad.json"
    source.write_bytes(text)
    whole = cli("memory", "import", str(source))
    lazy()
    paged = cli("memory", "import", str(source))
    assert (paged.exit_code, paged.stderr) == (whole.exit_code, whole.stderr)
    assert whole.exit_code == 2, whole.stderr
    assert list(client.scan_iter(match=f"{prefix}:*")) == []


# -- the staged write ------------------------------------------------------------------------


class Pages:
    """TurnPages for the store: ``turns`` in pages of 2, raising ``fail`` after page ``at``."""

    def __init__(self, turns: list[dict[str, Any]], fail: BaseException | None = None, at: int = 1):
        self.turns, self.fail, self.at = turns, fail, at
        self.count, self.next_index = len(turns), len(turns)
        self.hook: Any = None

    def pages(self) -> Any:
        for n, i in enumerate(range(0, len(self.turns), 2)):
            if n == self.at and self.hook:
                self.hook()
            if n == self.at and self.fail:
                raise self.fail
            yield self.turns[i : i + 2]


def session(sid: str, n: int) -> tuple[SessionDoc, list[dict[str, Any]]]:
    turns = [{"index": i, "role": "user", "content": f"t{i}", "timestamp": ts(i)} for i in range(n)]
    doc = SessionDoc(sid, "u", ts(0), ts(n), {"totalTurns": n}, _turns=[])
    return doc, turns


def test_a_staged_write_that_fails_midway_leaves_nothing(store: NativeStore, client: Any) -> None:
    doc, turns = session("s-1", 7)
    with pytest.raises(KeyboardInterrupt):
        store.write_session(doc, pages=Pages(turns, KeyboardInterrupt(), at=2))
    assert list(client.scan_iter(match=f"{store.prefix}:*")) == []
    # replacing: the old session stays as it was
    old, old_turns = session("s-1", 3)
    assert store.write_session(old, pages=Pages(old_turns))
    before = stored(client, store.prefix)
    with pytest.raises(RuntimeError):
        store.write_session(doc, replace=True, pages=Pages(turns, RuntimeError("boom"), at=2))
    assert stored(client, store.prefix) == before


def test_a_session_created_while_staging_is_never_overwritten(
    store: NativeStore, client: Any
) -> None:
    doc, turns = session("s-1", 7)
    pages = Pages(turns, at=2)
    pages.hook = lambda: store.append_turn(
        "s-1", {"role": "user", "content": "mine", "timestamp": ts(1)}
    )
    assert store.write_session(doc, pages=pages) is False
    assert [orjson.loads(t)["content"] for t in client.lrange(store.turns_key("s-1"), 0, -1)] == [
        "mine"
    ]
    assert not [k for k in client.scan_iter(match=f"{store.prefix}:*") if b":importing:" in k]


def test_staging_steps_are_safe_to_retry(store: NativeStore, client: Any) -> None:
    """A page or the finish sent again after a lost reply changes nothing."""
    stage, tkey, mkey = store.staging_key("s-1"), store.turns_key("s-1"), store.meta_key("s-1")
    rows = [b'{"index":0}', b'{"index":1}']
    assert store._stage(keys=[stage], args=[0, 60, *rows]) == 2
    assert store._stage(keys=[stage], args=[0, 60, *rows]) == 2  # the retry
    assert store._stage(keys=[stage], args=[2, 60, b'{"index":2}']) == 3
    args = ["0", 0, 3, "sessionId", "s-1", "totalTurns", 3]
    assert store._finish(keys=[stage, tkey, mkey], args=args) == 1
    assert store._finish(keys=[stage, tkey, mkey], args=args) == 1  # the retry
    assert client.lrange(tkey, 0, -1) == [*rows, b'{"index":2}']
    assert client.ttl(tkey) == -1 and client.hget(mkey, "totalTurns") == b"3"
    assert store._finish(keys=["other:{s-1}", tkey, mkey], args=args) == -1  # nothing staged


# -- a real big session --------------------------------------------------------------------


@pytest.mark.slow
def test_a_20000_turn_session_round_trips_byte_for_byte(
    cli: Any, client: Any, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 20_000
    turns = [
        {
            "index": i,
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"turn {i} café 東京 " + "lorem ipsum " * 40,
            "timestamp": ts(i),
            **({"tokens": {"prompt": i, "completion": 2**65}, "cost": 0.001} if i % 2 else {}),
        }
        for i in range(n)
    ]
    doc = SessionDoc("big", "u", ts(0), ts(n), {"provider": "p", "totalTurns": n}, _turns=turns)
    assert NativeStore(client, prefix).write_session(doc)  # the reference writer
    staged: list[str] = []
    real = native.write_staged

    def spy(store: NativeStore, doc: SessionDoc, *args: Any, **kwargs: Any) -> bool:
        staged.append(doc.session_id)
        return real(store, doc, *args, **kwargs)

    monkeypatch.setattr(native, "write_staged", spy)
    first = cli("memory", "export", "--session-id", "big", "--format", "jsonl").stdout_bytes
    exports = {"json": cli.cwd / "big.json", "jsonl": cli.cwd / "big.jsonl", "dir": cli.cwd / "d"}
    assert cli("memory", "export", "--session-id", "big", "--output", "big.json").exit_code == 0
    exports["jsonl"].write_bytes(cli("memory", "export-all", "--format", "jsonl").stdout_bytes)
    assert cli("memory", "export-all", "--output", "d").exit_code == 0
    for form, path in exports.items():
        size = path.stat().st_size if path.is_file() else (path / "big.json").stat().st_size
        assert size >= LAZY_BYTES, form
        other = f"{prefix}-{form}"
        result = cli("--key-prefix", other, "memory", "import", str(path))
        assert result.exit_code == 0, result.stderr
        again = cli("--key-prefix", other, "memory", "export", "--session-id", "big",
                    "--format", "jsonl")  # fmt: skip
        assert again.stdout_bytes == first, form
        assert client.llen(f"{other}:session:{{big}}:turns") == n
    assert staged == ["big"] * 3
