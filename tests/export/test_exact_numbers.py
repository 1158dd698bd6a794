"""Numbers are exported exactly as stored, any size, every format, both layouts (issue 13,
item 2): orjson alone turned 340282366920938463463374607431768211455 into
3.402823669209385e+38 and cut 3.141592653589793238462643383279 to a double.

The check compares decimal values of the number text stored and the number text written
(read back out of the output bytes, not through neurolink's own parser).
"""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurolink_cli.export.run import export_all, export_one
from neurolink_cli.export.transform import ExportOptions
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.repository import Repository
from neurolink_cli.store.upstream import UpstreamStore
from neurolink_cli.util import jsonutil

BIG = "340282366920938463463374607431768211455"
TS = "2026-01-01T00:00:00.000Z"


def number_texts() -> st.SearchStrategy[str]:
    """JSON number tokens of any size: long integers, long fractions, huge exponents."""
    digits = st.text("0123456789", min_size=1, max_size=60)
    integer = st.one_of(st.just("0"), st.builds(lambda a, b: a + b, st.sampled_from("123456789"), digits.map(lambda d: d[:59]) | st.just("")))  # fmt: skip
    frac = st.one_of(st.just(""), digits.map(lambda d: "." + d))
    exp = st.one_of(st.just(""), st.builds(lambda e, s, n: f"{e}{s}{n}", st.sampled_from("eE"), st.sampled_from(["", "+", "-"]), st.integers(0, 500)))  # fmt: skip
    sign = st.sampled_from(["", "-"])
    return st.builds(lambda s, i, f, e: s + i + f + e, sign, integer, frac, exp)


def _turn(n: str) -> bytes:
    return (
        f'{{"index":0,"role":"user","content":{n},"timestamp":"{TS}",'
        f'"tokens":{{"prompt":{n},"completion":1}},"n":{n}}}'
    ).encode()


def _same(written: str, stored: str) -> bool:
    return Decimal(written) == Decimal(stored)


_NUM = r"(-?[0-9][0-9.eE+-]*)"


def _json_tokens(out: bytes) -> list[str]:
    return re.findall(rb'"(?:n|prompt|content)": ?' + _NUM.encode(), out)


def _repo(client: Any, prefix: str) -> tuple[Repository, NativeStore, UpstreamStore]:
    native = NativeStore(client, prefix)
    upstream = UpstreamStore(client, f"{prefix}:conversation:", f"{prefix}:user:sessions:")
    return Repository(native, upstream), native, upstream


def _store_both(client: Any, native: NativeStore, upstream: UpstreamStore, n: str) -> None:
    native.delete("nat")
    client.rpush(native.turns_key("nat"), _turn(n))
    client.hset(native.meta_key("nat"), mapping={"sessionId": "nat", "meta.n": n})
    client.zadd(native.index_key, {"nat": 1})
    msg = f'{{"id":"m1","role":"user","content":{n},"timestamp":"{TS}","n":{n}}}'
    doc = (
        f'{{"id":"d","sessionId":"up","userId":"u","createdAt":"{TS}","updatedAt":"{TS}",'
        f'"title":"t","messages":[{msg}]}}'
    )
    client.set(f"{upstream.prefix}u:up", doc)
    client.sadd(f"{prefix_of(upstream)}:user:sessions:u", "up")


def prefix_of(upstream: UpstreamStore) -> str:
    return upstream.prefix.removesuffix(":conversation:")


def test_loads_and_dumps_are_exact() -> None:
    for text in [BIG, "-" + BIG, "1" + "0" * 5000, "3.141592653589793238462643383279", "1e400",
                 "4.9e-325", "0.1", "1E5", "-0.0", "12345678901234567890123.5"]:  # fmt: skip
        out = jsonutil.dumps(jsonutil.loads(f"[{text}]")).decode()
        assert _same(out[1:-1], text), (text, out)
    assert jsonutil.loads(BIG) == int(BIG) and isinstance(jsonutil.loads(BIG), int)
    assert jsonutil.dumps({"a": 2**200}) == b'{"a":%d}' % 2**200
    with pytest.raises(ValueError):
        jsonutil.loads("NaN")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=number_texts())
def test_numbers_of_any_size_export_exactly(client: Any, prefix: str, n: str) -> None:
    repo, native, upstream = _repo(client, prefix)
    _store_both(client, native, upstream, n)
    for sid in ("nat", "up"):
        for fmt in ("json", "jsonl"):
            out = io.BytesIO()
            export_one(repo, sid, ExportOptions(format=fmt), out)
            tokens = [t.decode() for t in _json_tokens(out.getvalue())]
            assert tokens and all(_same(t, n) for t in tokens), (sid, fmt, n, out.getvalue())
        out = io.BytesIO()
        export_one(repo, sid, ExportOptions(format="markdown"), out)
        shown = re.findall(_NUM + r"\n", out.getvalue().decode())
        assert any(_same(t, n) for t in shown), (sid, n, out.getvalue())
        out = io.BytesIO()
        export_one(repo, sid, ExportOptions(format="csv"), out)
        row = out.getvalue().decode().splitlines()[1].split(",")
        assert _same(row[-1].lstrip("'"), n)  # content (a leading - gets the formula guard)
        if sid == "nat":
            assert _same(row[7].lstrip("'"), n)  # promptTokens
    # export-all (spliced stream and the parsed time-window path) too
    for opts in (ExportOptions(format="jsonl"), ExportOptions(format="jsonl", start_ms=0)):
        out = io.BytesIO()
        export_all(repo, opts, out)
        tokens = [t.decode() for t in _json_tokens(out.getvalue())]
        assert len(tokens) >= 5 and all(_same(t, n) for t in tokens), (n, out.getvalue())


def test_csv_keeps_zero_apart_from_false() -> None:
    """CSV renders each row's provider/model once per distinct value: False == 0 == 0.0 in
    Python, so the memo is keyed by type too (hypothesis found ``false`` written for 0)."""
    from neurolink_cli.export.formats import csv_lines
    from neurolink_cli.models import SessionDoc

    doc = SessionDoc("s", None, None, None, {})
    doc.turns = [
        {"index": i, "role": "user", "content": "x", "timestamp": TS, "provider": p, "model": m}
        for i, (p, m) in enumerate([(False, False), (False, 0), (0.0, 0)])
    ]
    rows = [line.split(",")[5:7] for line in csv_lines(doc, True, False)]
    assert rows == [["false", "false"], ["false", "0"], ["0.0", "0"]]
