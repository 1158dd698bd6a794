"""Bad input to ``memory import``, to every ``memory`` option and setting, fuzzed (issue 13
item 6).

Import input: arbitrary bytes, arbitrary JSON values, a wrong value in every document
field and every manifest field, nesting depth, integers of any size, BOMs, mixed
JSON/JSONL, a pipe given by name. Options: every ``memory`` command with random
durations, times, integers, formats and text, including argv that is not UTF-8.
Settings: numeric and text environment settings. Whatever the input, the answer is a
documented exit code, ONE line on stderr when it fails, never "unexpected error" and never
a traceback. Numbers import exactly, integers of any size included.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DOC = {
    "sessionId": "fz-1",
    "userId": "u1",
    "createdAt": "2026-01-01T00:00:00.000Z",
    "updatedAt": "2026-01-01T00:01:00.000Z",
    "turns": [
        {"index": 0, "role": "user", "content": "hi", "timestamp": "2026-01-01T00:00:00.000Z"},
        {"index": 1, "role": "assistant", "content": "yo", "timestamp": "2026-01-01T00:01:00.000Z"},
    ],
    "metadata": {"provider": "openai", "model": "m", "totalTurns": 2, "toolsUsed": []},
}

# Text with what orjson refuses and JavaScript writes: lone surrogates.
TEXT = st.text(max_size=20) | st.sampled_from(["\ud800", "a\udfffb", "", " ", "{x}", "\x00"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**80), max_value=10**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
VALUES = st.recursive(
    SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(TEXT, c, max_size=4), max_leaves=12
)


def check_answer(result: Any, codes: tuple[int, ...] = (0, 2)) -> None:
    """A documented exit code; one line on stderr when it fails; no crash text."""
    err = result.stderr
    assert result.exit_code in codes, (result.exit_code, err)
    assert "unexpected error" not in err and "Traceback" not in err, err
    if result.exit_code != 0:
        assert err.count("\n") == 1 and err.startswith("neurolink: error: "), err


def import_bytes(cli: Any, data: bytes, *more: str) -> Any:
    return cli("memory", "import", "-", "--on-conflict", "replace", *more, input=data)


@FUZZ
@given(data=st.binary(max_size=3000))
@example(data=b"[" * 100_000)
@example(data=b"{" * 5000)
@example(data=codecs.BOM_UTF8 + orjson.dumps(DOC))
@example(data=b'{"sessionId":"x","turns":[{"role":"user","content":NaN}]}')
@example(data=b'{"sessionId":"x","turns":[{"role":"user","content":1e999}]}')
@example(data=b"\xff\xfe{}")
def test_arbitrary_bytes(cli: Any, data: bytes) -> None:
    check_answer(import_bytes(cli, data))


@FUZZ
@given(value=VALUES)
def test_arbitrary_json_value_as_the_input(cli: Any, value: Any) -> None:
    check_answer(import_bytes(cli, json.dumps(value).encode()))


FIELDS = [
    ("top", "sessionId"),
    ("top", "userId"),
    ("top", "createdAt"),
    ("top", "updatedAt"),
    ("top", "turns"),
    ("top", "metadata"),
    ("top", "extra"),
    ("turn", "index"),
    ("turn", "role"),
    ("turn", "content"),
    ("turn", "timestamp"),
    ("turn", "tokens"),
    ("turn", None),
    ("meta", "provider"),
    ("meta", "model"),
    ("meta", "title"),
    ("meta", "totalTurns"),
    ("meta", "toolsUsed"),
    ("meta", "summarizedMessage"),
]


@FUZZ
@given(where=st.sampled_from(FIELDS), value=VALUES)
@example(where=("meta", "totalTurns"), value=10**400)
@example(where=("top", "userId"), value="\ud800")
@example(where=("meta", "provider"), value={"a": 1})
@example(where=("turn", "timestamp"), value=10**30)
@example(where=("top", "createdAt"), value=-1)
@example(where=("meta", "\ud800"), value=1)
def test_a_wrong_value_in_any_field(cli: Any, where: tuple[str, str | None], value: Any) -> None:
    doc = json.loads(json.dumps(DOC))
    kind, key = where
    if kind == "top":
        doc[key] = value
    elif kind == "meta":
        doc["metadata"][key] = value
    elif key is None:
        doc["turns"][1] = value
    else:
        doc["turns"][0][key] = value
    check_answer(import_bytes(cli, json.dumps(doc).encode()))


@FUZZ
@given(depth=st.integers(1, 3000), kind=st.sampled_from(["[", "{"]), framing=st.booleans())
@example(depth=254, kind="[", framing=False)
@example(depth=2000, kind="[", framing=True)
def test_nested_depth(cli: Any, depth: int, kind: str, framing: bool) -> None:
    opener, closer = (b"[", b"]") if kind == "[" else (b'{"a":', b"}")
    nested = opener * depth + b"1" + closer * depth
    doc = b'{"sessionId":"deep","turns":[{"role":"user","content":' + nested + b"}]}"
    data = doc if framing else doc.replace(b'{"sessionId"', b'\n\n{"sessionId"')
    result = import_bytes(cli, data)
    check_answer(result)
    if depth <= 200:
        assert result.exit_code == 0, result.stderr
    if depth > 1100:
        assert result.exit_code == 2 and "nested" in result.stderr, result.stderr


@FUZZ
@given(
    n=st.integers(min_value=-(10**300), max_value=10**300) | st.integers(),
    m=st.integers(min_value=2**63, max_value=2**200),
)
@example(n=340282366920938463463374607431768211455, m=10**30)
@example(n=-(2**63) - 1, m=2**64)
def test_integers_of_any_size_import_exactly(cli: Any, client: Any, prefix: str, n: int, m: int):
    doc = json.loads(json.dumps(DOC))
    doc["turns"][0]["n"] = n
    doc["metadata"]["big"] = m
    doc["big"] = [n, m]
    result = import_bytes(cli, json.dumps(doc).encode())
    assert result.exit_code == 0, result.stderr
    turn = client.lindex(f"{prefix}:session:{{fz-1}}:turns", 0)
    assert json.loads(turn)["n"] == n
    assert f'"n":{n}'.encode() in turn
    meta = client.hgetall(f"{prefix}:session:{{fz-1}}:metadata")
    assert meta[b"meta.big"] == str(m).encode()
    assert json.loads(meta[b"doc.big"]) == [n, m]


FRAMINGS = ["jsonl", "array", "concatenated", "pretty", "bom-jsonl", "blank-lines"]


@FUZZ
@given(
    framing=st.sampled_from(FRAMINGS),
    count=st.integers(1, 4),
    bad=st.sampled_from([None, b"{", b"[1,", b"nope", b'{"sessionId": 1}', b"\xff"]),
)
def test_mixed_json_and_jsonl(cli: Any, framing: str, count: int, bad: bytes | None) -> None:
    docs = [{**DOC, "sessionId": f"mix-{i}"} for i in range(count)]
    lines = [orjson.dumps(d) for d in docs]
    if framing == "array":
        data = orjson.dumps(docs)
    elif framing == "concatenated":
        data = b"".join(lines)
    elif framing == "pretty":
        data = b"\n".join(orjson.dumps(d, option=orjson.OPT_INDENT_2) for d in docs)
    elif framing == "bom-jsonl":
        data = codecs.BOM_UTF8 + b"\n".join(lines)
    elif framing == "blank-lines":
        data = b"\n\n".join(lines) + b"\n\n"
    else:
        data = b"\n".join(lines)
    if bad is not None:
        data += b"\n" + bad
    result = import_bytes(cli, data)
    check_answer(result)
    if bad is None:
        assert result.exit_code == 0, result.stderr
        assert f"imported {count} session" in result.stderr
    else:
        assert result.exit_code == 2


# -- every memory command's options ----------------------------------------------------

DURATIONS = st.sampled_from(
    ["99999999999d", "999999999w", "0s", "-1d", "1.5h", "7d", "", " ", "d", "1y", "0", "1e3s"]
) | st.text(max_size=12)
TIMES = DURATIONS | st.sampled_from(
    [
        "0001-01-01",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "2026-02-30",
        "2026-01-01T25:00",
        "+002026-01-01",
        "1795733160041",
    ]  # fmt: skip
)
INTS = st.integers() | st.sampled_from([-1, 0, 10**30]).map(str) | st.text(max_size=6)
FORMATS = st.sampled_from(["json", "jsonl", "csv", "markdown", "table", "xml", "", "JSON"])


def _opt(name: str, values: Any) -> Any:
    return st.tuples(st.just(name), values.map(str))


OPTIONS = {
    "list": [_opt("--since", TIMES), _opt("--until", TIMES), _opt("--limit", INTS),
             _opt("--format", FORMATS), _opt("--user-id", TEXT)],
    "export": [_opt("--start-time", TIMES), _opt("--end-time", TIMES), _opt("--format", FORMATS),
               _opt("--redact-pattern", TEXT | st.sampled_from(["(", "a{99999999999}", "(?P<"]))],
    "export-all": [_opt("--jobs", INTS), _opt("--format", FORMATS), _opt("--start-time", TIMES),
                   _opt("--user-id", TEXT), _opt("--umask", INTS)],
    "delete": [_opt("--older-than", DURATIONS), _opt("--user-id", TEXT)],
    "stats": [_opt("--format", FORMATS)],
    "import": [_opt("--on-conflict", st.sampled_from(["skip", "fail", "x", ""]))],
}  # fmt: skip


@st.composite
def command_lines(draw: Any) -> list[str]:
    command = draw(st.sampled_from(sorted(OPTIONS)))
    chosen = draw(st.lists(st.sampled_from(OPTIONS[command]), min_size=1, max_size=3))
    args = ["memory", command]
    for option in chosen:
        args += list(draw(option))
    if command == "export":
        args += ["--session-id", draw(st.sampled_from(["fz-1", "nope", "a b", ""]))]
    if command == "delete":
        args += draw(st.sampled_from([["--dry-run"], ["--yes"], []]))
    if command == "import":
        args.append("-")
    return args


@FUZZ
@given(args=command_lines())
@example(args=["memory", "list", "--limit", str(10**30)])
@example(args=["memory", "list", "--limit", "-1"])
@example(args=["memory", "export-all", "--jobs", "0"])
@example(args=["memory", "delete", "--older-than", "99999999999d", "--yes"])
@example(args=["memory", "export", "--session-id", "fz-1", "--redact-pattern", "a{99999999999}"])
@example(args=["memory", "bogus"])
@example(args=["memory", "list", "--user-id", "\udcff"])  # argv bytes that are not UTF-8
@example(args=["memory", "export-all", "--format", "json", "--user-id", "\ud800"])
@example(args=["--bogus", "memory", "list"])
def test_every_option_fuzzed(cli: Any, args: list[str]) -> None:
    assume("\x00" not in "".join(args))  # no argv can carry NUL
    setup = import_bytes(cli, orjson.dumps(DOC))
    assert setup.exit_code == 0, setup.stderr
    result = cli(*args, input=orjson.dumps(DOC))
    check_answer(result, (0, 1, 2, 3))


def test_an_empty_source_name_is_bad_input(cli: Any) -> None:
    result = cli("memory", "import", "")
    assert result.exit_code == 2 and "no input named" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["memory", "list", "--limit", "-1"],
        ["memory", "bogus"],
        ["--bogus", "memory", "list"],
        ["memory", "export"],
        ["memory", "export-all", "--jobs", "0"],
    ],
)
def test_usage_errors_are_one_line_exit_2(cli: Any, args: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--help" in result.stderr, result.stderr


MANIFEST_FIELDS = ["format", "sessions", "complete", "failed", "version", "entry", "file",
                   "sha256", "sessionId", "bytes", "turns"]  # fmt: skip


@FUZZ
@given(field=st.sampled_from(MANIFEST_FIELDS), value=VALUES)
@example(field="failed", value=5)
@example(field="file", value="a\x00b")
@example(field="file", value="../x.json")
@example(field="sha256", value="\ud800")
def test_a_wrong_value_in_the_manifest(cli: Any, field: str, value: Any) -> None:
    directory = cli.cwd / "exp"
    if not directory.exists():
        exported = cli("memory", "import", "-", "--on-conflict", "replace", input=orjson.dumps(DOC))
        assert exported.exit_code == 0
        assert cli("memory", "export-all", "--output", "exp").exit_code == 0
        (cli.cwd / "manifest.orig").write_bytes((directory / "manifest.json").read_bytes())
    manifest = orjson.loads((cli.cwd / "manifest.orig").read_bytes())
    if field in ("entry", "file", "sha256", "sessionId", "bytes", "turns"):
        if field == "entry":
            manifest["sessions"][0] = value
        else:
            manifest["sessions"][0][field] = value
    else:
        manifest[field] = value
    (directory / "manifest.json").write_text(json.dumps(manifest), "utf-8", "surrogatepass")
    check_answer(cli("memory", "import", "exp", "--on-conflict", "replace"))


def test_a_pipe_by_name_is_read_once_and_imported(cli: Any, tmp_path: Any) -> None:
    """``import <(cmd)``, a FIFO, /dev/stdin: not seekable (was UnsupportedOperation, exit 1)."""
    import os
    import threading

    fifo = tmp_path / "docs.fifo"
    os.mkfifo(fifo)
    data = b"\n".join(orjson.dumps({**DOC, "sessionId": f"pipe-{i}"}) for i in range(3))

    def feed() -> None:
        with open(fifo, "wb") as fh:
            fh.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    result = cli("memory", "import", str(fifo))
    writer.join(10)
    assert result.exit_code == 0, result.stderr
    assert "imported 3 sessions" in result.stderr


SETTINGS_ENV = ["NEUROLINK_REDIS_TIMEOUT", "NEUROLINK_MEMORY_TTL", "REDIS_DB",
                "NEUROLINK_MEMORY_MAX_TURNS_PER_SESSION", "NEUROLINK_MEMORY_ENABLED",
                "NEUROLINK_MEMORY_STORE", "NEUROLINK_KEY_PREFIX", "REDIS_KEY_PREFIX"]  # fmt: skip
SETTING_VALUES = (
    st.sampled_from(
        ["nan", "inf", "-inf", "1e400", "-1", "0", "99999999999999999999", "1e15", "", " ", "x"]
    )
    | st.text(max_size=10).filter(lambda s: "\x00" not in s)
    | st.integers().map(str)
)


@FUZZ
@given(
    name=st.sampled_from(SETTINGS_ENV),
    value=SETTING_VALUES,
    command=st.sampled_from(["list", "import"]),
)
@example(name="NEUROLINK_REDIS_TIMEOUT", value="nan", command="list")
@example(name="NEUROLINK_MEMORY_TTL", value="99999999999999999999", command="import")
def test_every_setting_fuzzed(cli: Any, name: str, value: str, command: str) -> None:
    """Settings from the environment (the config file takes the same conversions)."""
    args = ["memory", "list"]
    if command == "import":
        args = ["memory", "import", "-", "--on-conflict", "replace"]
    result = cli(*args, input=orjson.dumps(DOC), env={name: value})
    check_answer(result, (0, 2, 4))
