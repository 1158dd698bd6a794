"""The fast paths of export keep the output exact, and export-all streams.

- the CSV writer builds lines itself: it must write exactly what the csv module writes
  (QUOTE_MINIMAL, CRLF) for the contract's rows (:func:`csv_rows` here), for any content;
- the lean batch reader must return what redis-py's pipeline returns, and fall back to it
  for keys of the wrong type;
- the JSONL fast path (stored bytes spliced) must equal the parsed-and-serialized document;
- export-all's peak memory must not grow with the number of sessions;
- no progress bar on a pipe.

No timings are asserted here; ``make bench`` measures speed.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurolink_cli.export.formats import (
    CSV_HEADER,
    CSV_HEADER_BARE,
    CsvWriter,
    JsonlWriter,
    doc_compact,
    turn_content_text,
)
from neurolink_cli.models import SessionDoc, make_turn
from neurolink_cli.store.batchread import BatchReader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from dataset import load

TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc")),
    max_size=40,
) | st.sampled_from(["", "=1+1", "-x", "@a", "\tx", "\rx", 'a "q", b', "l1\nl2", "a,b", "+"])
SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
TURN = st.fixed_dictionaries(
    {"index": st.integers(0, 10**6), "role": TEXT, "content": TEXT | st.lists(SCALAR, max_size=3)},
    optional={
        "timestamp": TEXT,
        "provider": SCALAR,
        "model": SCALAR,
        "tokens": st.fixed_dictionaries({}, optional={"prompt": SCALAR, "completion": SCALAR})
        | SCALAR,
        "result": SCALAR | st.dictionaries(st.text(max_size=3), SCALAR, max_size=2),
    },
)


def _cell(value: Any, guard: bool) -> Any:
    """A cell as CONTRACT §5 describes it, for the csv module to write."""
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        value = orjson.dumps(value).decode()
    if guard and isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        value = "'" + value
    return value


def csv_rows(doc: SessionDoc, include_metadata: bool, guard: bool) -> list[list[Any]]:
    """The reference: the rows of one session, straight from the contract."""
    rows = []
    for t in doc.turns:
        tokens = t.get("tokens") if isinstance(t.get("tokens"), dict) else {}
        cells = [doc.session_id, doc.user_id, t.get("index"), t.get("role"), t.get("timestamp")]
        if include_metadata:
            cells += [t.get("provider"), t.get("model"), tokens.get("prompt"),
                      tokens.get("completion")]  # fmt: skip
        cells.append(turn_content_text(t))
        rows.append([_cell(c, guard) for c in cells])
    return rows


def _csv_module(doc: SessionDoc, include_metadata: bool, guard: bool) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEADER if include_metadata else CSV_HEADER_BARE)
    w.writerows(csv_rows(doc, include_metadata, guard))
    return buf.getvalue().encode("utf-8", "surrogatepass")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    sid=TEXT,
    uid=st.none() | TEXT,
    turns=st.lists(TURN, max_size=4),
    include_metadata=st.booleans(),
    guard=st.booleans(),
)
def test_csv_writer_writes_what_the_csv_module_writes(
    sid: str, uid: str | None, turns: list[dict[str, Any]], include_metadata: bool, guard: bool
) -> None:
    def doc() -> SessionDoc:
        d = SessionDoc(sid, uid, None, None, {})
        d.turns = [dict(t) for t in turns]
        return d

    out = io.BytesIO()
    writer = CsvWriter(out, include_metadata, guard)
    writer.write(doc())
    writer.close()
    assert out.getvalue() == _csv_module(doc(), include_metadata, guard)


def test_spliced_jsonl_equals_the_serialized_document() -> None:
    turns = [
        {"index": i, **make_turn("user", f'héllo "{i}"\n', "2026-01-01T00:00:00.000Z")}
        for i in range(3)
    ]
    raw = [orjson.dumps(t) for t in turns]
    meta = {"provider": "p", "model": "m", "totalTurns": 3, "toolsUsed": []}
    fast = SessionDoc("s", "u", "c", "u2", dict(meta), raw_turns=list(raw), extra={"x": 1})
    slow = SessionDoc("s", "u", "c", "u2", dict(meta), extra={"x": 1})
    slow.turns = turns
    assert doc_compact(fast) == doc_compact(slow)
    assert fast.raw_turns is not None  # the fast path did not parse


def test_unsound_raw_turns_are_not_spliced() -> None:
    for bad in ([b'{"a":1}', b""], [b'{"a":1}', b"[1]"], ['{"a":1}']):
        doc = SessionDoc("s", None, None, None, {}, raw_turns=bad)  # type: ignore[arg-type]
        assert not doc.raw_turns_look_sound()
    assert SessionDoc("s", None, None, None, {}, raw_turns=[]).raw_turns_look_sound()


def test_jsonl_writer_gathers_writes_and_flushes_on_close() -> None:
    class Counting(io.BytesIO):
        writes = 0

        def write(self, b: Any) -> int:  # type: ignore[override]
            Counting.writes += 1
            return super().write(b)

    out = Counting()
    writer = JsonlWriter(out)
    for i in range(100):
        writer.write(SessionDoc(f"s{i}", None, None, None, {}, raw_turns=[b'{"index":0}']))
    writer.close()
    assert out.getvalue().count(b"\n") == 100
    assert Counting.writes < 5


def test_batch_reader_matches_the_pipeline_and_reports_wrong_types(client: Any, store: Any) -> None:
    store.append_turn("a", make_turn("user", "hi", "2026-01-01T00:00:00.000Z"), user_id="u")
    client.set(store.meta_key("b"), "not a hash")
    client.rpush(store.turns_key("b"), b"{}")
    pairs = [(store.meta_key(s), store.turns_key(s)) for s in ("a", "b", "gone")]
    pipe = client.pipeline(transaction=False)
    for m, t in pairs:
        pipe.hgetall(m)
        pipe.lrange(t, 0, -1)
    expected = pipe.execute(raise_on_error=False)
    reader = BatchReader(client)
    got = reader.read(pairs)
    assert got[:2] == expected[:2] and got[3:] == expected[3:]
    assert "WRONGTYPE" in str(got[2])
    assert reader._lean  # a wrong type is per command, not a reason to leave the fast path
    ok = reader.read(pairs[:1])
    assert ok == expected[:2]


def test_bench_loader_writes_what_append_turn_writes(client: Any, store: Any, prefix: str) -> None:
    """The bench's raw loader stores the very bytes NativeStore stores (minus the writer id)."""
    url = client.connection_pool.connection_kwargs
    host, port = url.get("host", "127.0.0.1"), url.get("port", 6379)
    other = prefix + "x"
    load(host, port, other, 1, 4, 300, first=0)
    sid = "s-0000000"
    theirs = client.lrange(f"{other}:session:{{{sid}}}:turns", 0, -1)
    for raw in theirs:
        turn = orjson.loads(raw)
        turn.pop("index")
        store.append_turn(sid, turn, user_id=None)
    assert client.lrange(store.turns_key(sid), 0, -1) == theirs
    mine_meta = client.hgetall(store.meta_key(sid))
    their_meta = client.hgetall(f"{other}:session:{{{sid}}}:metadata")
    strip = {b"userId"}
    assert {k for k in mine_meta if not k.startswith(b"w:")} | strip == {
        k for k in their_meta if not k.startswith(b"w:")
    } | strip
    for key in (b"sessionId", b"createdAt", b"updatedAt", b"totalTurns", b"nextIndex"):
        assert mine_meta[key] == their_meta[key]
    assert client.zscore(store.index_key, sid) == client.zscore(f"{other}:sessions", sid)


TIME = "/usr/bin/time"


def _peak_rss_kb(argv: list[str], env: dict[str, str], tmp: Path) -> int:
    """The child's peak RSS as /usr/bin/time (a small process that forks it) reports it.

    wait4 on a child spawned straight from pytest would count pytest's own pages: the
    child shares them until exec, and Linux keeps that high-water mark across exec.
    """
    report = tmp / "rss"
    done = subprocess.run(
        [TIME, "-f", "%M", "-o", str(report), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return int(report.read_text().split()[-1])


@pytest.mark.skipif(not os.access(TIME, os.X_OK), reason="needs /usr/bin/time")
@pytest.mark.timeout(300)
def test_export_all_memory_does_not_grow_with_sessions(
    redis_server: Any, env: dict[str, str], prefix: str, tmp_path: Path
) -> None:
    """Peak RSS at 4,000 sessions is within a few MB of that at 1,000 (streaming)."""
    neurolink = str(Path(sys.executable).parent / "neurolink")
    argv = [neurolink, "memory", "export-all", "--format", "jsonl"]
    load("127.0.0.1", redis_server.port, prefix, 1000, 10, 300)
    small = min(_peak_rss_kb(argv, env, tmp_path) for _ in range(2))
    load("127.0.0.1", redis_server.port, prefix, 3000, 10, 300, first=1000)
    large = min(_peak_rss_kb(argv, env, tmp_path) for _ in range(2))
    # 3,000 more sessions are ~9 MB of JSON; a non-streaming export would grow by more.
    assert large - small < 3 * 1024, (small, large)


def test_no_progress_output_on_a_pipe(redis_server: Any, env: dict[str, str], prefix: str) -> None:
    neurolink = str(Path(sys.executable).parent / "neurolink")
    load("127.0.0.1", redis_server.port, prefix, 50, 3, 200)
    done = subprocess.run(
        [neurolink, "memory", "export-all", "--format", "jsonl"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.count(b"\n") == 50
    assert done.stderr == b""


def test_progress_bar_line_and_clear() -> None:
    from neurolink_cli.cli.progress import ExportBar

    out = io.StringIO()
    bar = ExportBar(200, out)
    bar.start -= 2.0
    bar.advance(50, 1000)
    text = out.getvalue()
    assert "50/200 sessions" in text and "turns/s" in text and "ETA 0:06" in text
    bar.clear()
    assert out.getvalue().endswith("\r\x1b[2K")


def test_progress_bar_on_a_terminal(redis_server: Any, env: dict[str, str], prefix: str) -> None:
    import pty

    neurolink = str(Path(sys.executable).parent / "neurolink")
    load("127.0.0.1", redis_server.port, prefix, 30, 2, 200)
    master, slave = pty.openpty()
    try:
        done = subprocess.run(
            [neurolink, "memory", "export-all", "--format", "jsonl"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=slave,
            timeout=60,
        )
        os.close(slave)
        err = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(master)
    assert done.returncode == 0
    assert done.stdout.count(b"\n") == 30  # data untouched by the bar
    assert b"sessions" in err and b"\r\x1b[2K" in err


def test_parallel_readers_export_the_same_bytes_in_the_same_order(
    client: Any, redis_server: Any, prefix: str
) -> None:
    from neurolink_cli.export.run import export_all
    from neurolink_cli.export.transform import ExportOptions
    from neurolink_cli.store.native import NativeStore
    from neurolink_cli.store.repository import Repository

    load("127.0.0.1", redis_server.port, prefix, 700, 3, 200)
    client.zadd(f"{prefix}:sessions", {"gone-1": 5, "gone-2": 6})  # members whose keys are gone
    outputs = []
    for jobs in (1, 3):
        repo = Repository(NativeStore(client, prefix, batch_size=50))
        out = io.BytesIO()
        report = export_all(repo, ExportOptions(format="jsonl"), out, jobs=jobs)
        assert report.exported == 700 and not report.failed
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]


def test_pretty_json_of_spliced_turns_equals_the_parsed_path() -> None:
    from neurolink_cli.export.formats import doc_pretty

    turns = [
        {"index": i, **make_turn("assistant", f"é {i} \\u2028", "t", model="m", cost=0.1 * i)}
        for i in range(3)
    ]
    meta = {"provider": "p", "model": "m", "totalTurns": 3, "toolsUsed": ["x"], "title": None}
    fast = SessionDoc(
        "s", None, "c", "u", dict(meta), [orjson.dumps(t) for t in turns], extra={"k": [1]}
    )
    slow = SessionDoc("s", None, "c", "u", dict(meta), extra={"k": [1]})
    slow.turns = turns
    assert doc_pretty(fast) == doc_pretty(slow)
    bad = SessionDoc("s", None, None, None, {}, raw_turns=[b'{"a":1}', b"{oops}"])
    with pytest.raises(Exception, match="not a JSON object"):
        doc_pretty(bad)
