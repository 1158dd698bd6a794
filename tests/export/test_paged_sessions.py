"""Huge sessions stream (issue 13, item 3): turns are read in pages and written as they
come, byte for byte what the whole-session writers write; a bad turn on a late page fails
the session without leaving any of it in the output.

Here a "huge" session is one of more turns than the store's first page (made small).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from neurolink_cli.export.run import export_all, export_one
from neurolink_cli.export.transform import ExportOptions
from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.pages import stored_index, turn_pages
from neurolink_cli.store.repository import Repository
from neurolink_cli.util import jsonutil

TURNS = 230


def _turn(i: int) -> bytes:
    turn = make_turn(
        "assistant" if i % 2 else "user",
        f'turn {i}: h\u00e9llo, "quoted"\n=1+{i}',
        f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
        model="m",
        tokens={"prompt": i, "completion": 2**70 + i},
        cost=0.1 * i,
    )
    return jsonutil.dumps({"index": i, **turn})


def _seed(client: Any, prefix: str, sid: str, turns: list[bytes]) -> None:
    store = NativeStore(client, prefix)
    client.rpush(store.turns_key(sid), *turns)
    client.hset(
        store.meta_key(sid),
        mapping={"sessionId": sid, "userId": "u", "totalTurns": len(turns), "model": "m"},
    )
    client.zadd(store.index_key, {sid: 1})


def _repo(client: Any, prefix: str, first_page: int) -> Repository:
    return Repository(NativeStore(client, prefix, first_page=first_page))


OPTIONS = [
    {},
    {"include_metadata": False},
    {"start_ms": 1767225600000 + 30_000, "end_ms": 1767225600000 + 90_000},
    {"redact": lambda s: s.replace("h\u00e9llo", "[X]")},
]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "markdown"])
@pytest.mark.parametrize("extra", range(len(OPTIONS)))
def test_paged_export_equals_the_whole_session_export(
    client: Any, prefix: str, fmt: str, extra: int
) -> None:
    _seed(client, prefix, "big", [_turn(i) for i in range(TURNS)])
    opts = ExportOptions(format=fmt, **OPTIONS[extra])  # type: ignore[arg-type]
    outs = []
    for first_page in (10_000, 16, 100):
        repo = _repo(client, prefix, first_page)
        doc = repo.get("big")
        assert doc.paged == (first_page <= TURNS)  # type: ignore[union-attr]
        out = io.BytesIO()
        export_one(repo, "big", opts, out)
        outs.append(out.getvalue())
    assert outs[0] == outs[1] == outs[2]
    assert len(outs[0]) > 1000


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_all_stream_of_paged_sessions(client: Any, prefix: str, fmt: str) -> None:
    for n in range(3):
        _seed(client, prefix, f"s{n}", [_turn(i) for i in range(TURNS - n * 50)])
    whole, paged = io.BytesIO(), io.BytesIO()
    export_all(_repo(client, prefix, 10_000), ExportOptions(format=fmt), whole)
    ledger = export_all(_repo(client, prefix, 32), ExportOptions(format=fmt), paged)
    assert whole.getvalue() == paged.getvalue()
    assert ledger.turns == 3 * TURNS - 150 and not ledger.failed


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "markdown"])
def test_a_bad_turn_on_a_late_page_fails_the_session_and_writes_none_of_it(
    client: Any, prefix: str, fmt: str
) -> None:
    turns = [_turn(i) for i in range(TURNS)]
    turns[TURNS - 3] = b'{"index":1}{"index":2}'
    _seed(client, prefix, "bad", turns)
    _seed(client, prefix, "good", [_turn(i) for i in range(TURNS)])
    repo = _repo(client, prefix, 16)
    out = io.BytesIO()
    with pytest.raises(Exception, match=f"turn #{TURNS - 3}"):
        export_one(repo, "bad", ExportOptions(format=fmt), out)
    assert out.getvalue() == b""
    if fmt in ("jsonl", "csv"):
        out = io.BytesIO()
        ledger = export_all(repo, ExportOptions(format=fmt), out)
        assert [f["sessionId"] for f in ledger.failed] == ["bad"]
        assert b"bad" not in out.getvalue() and ledger.turns == TURNS
        if fmt == "jsonl":
            assert [orjson.loads(x)["sessionId"] for x in out.getvalue().splitlines()] == ["good"]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_directory_export_of_paged_sessions(
    client: Any, prefix: str, tmp_path: Path, fmt: str
) -> None:
    turns = [_turn(i) for i in range(TURNS)]
    _seed(client, prefix, "good", turns)
    bad = list(turns)
    bad[200] = b"{not json}"
    _seed(client, prefix, "bad", bad)
    ledgers = {}
    for name, first_page in (("whole", 10_000), ("paged", 16)):
        ledgers[name] = export_all(
            _repo(client, prefix, first_page), ExportOptions(format=fmt), directory=tmp_path / name
        )
    a = (tmp_path / "whole" / f"good.{fmt}").read_bytes()
    assert a == (tmp_path / "paged" / f"good.{fmt}").read_bytes()
    manifest = orjson.loads((tmp_path / "paged" / "manifest.json").read_bytes())
    assert [f["sessionId"] for f in manifest["failed"]] == ["bad"]
    [entry] = manifest["sessions"]
    assert entry["turns"] == TURNS and entry["bytes"] == len(a)
    assert not (tmp_path / "paged" / f"bad.{fmt}").exists()
    names = sorted(p.name for p in (tmp_path / "paged").iterdir() if not p.name.startswith("."))
    assert names == sorted(["manifest.json", f"good.{fmt}"])


@pytest.mark.e2e
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_binary_streams_paged_sessions_with_the_pages_shared(
    neurolink_bin: Any, client: Any, prefix: str, fmt: str
) -> None:
    """The installed binary: default first page (256), stdout a pipe (two processes)."""
    n = 700
    turns = [_turn(i) for i in range(n)]
    _seed(client, prefix, "big", turns)
    bad = list(turns)
    bad[600] = b'{"a":"\xff"}'
    _seed(client, prefix, "bad", bad)
    for extra in ([], ["--since", "2026-01-01T00:00:30Z"]):
        done = neurolink_bin("memory", "export-all", "--format", fmt, *extra)
        assert done.returncode == 1, done.stderr
        assert b"bad" in done.stderr and b"1 failed" in done.stderr
        out = done.stdout.decode("utf-8")
        assert "bad" not in out
        if fmt == "jsonl" and not extra:
            [doc] = [orjson.loads(x) for x in done.stdout.splitlines()]
            assert [t["index"] for t in doc["turns"]] == list(range(n))
        if fmt == "csv" and not extra:
            assert out.count("\r\n") >= n + 1


def test_pages_continue_after_turns_were_trimmed_and_appended(client: Any, prefix: str) -> None:
    """A writer trims the oldest turns and appends between two page reads: no turn is
    written twice or skipped (the stored index tells where the next page starts)."""
    key = f"{prefix}:l"
    client.rpush(key, *[_turn(i) for i in range(100)])
    first = client.lrange(key, 0, 19)
    pages = turn_pages(client, key, 20, first[-1], page=16)
    got = [stored_index(t) for t in first]
    got += [stored_index(t) for t in next(pages)]  # 20..35
    client.ltrim(key, 7, -1)  # 7 oldest gone: positions shift left
    client.rpush(key, *[_turn(i) for i in range(100, 110)])
    for page in pages:
        got += [stored_index(t) for t in page]
    assert got == list(range(110))
