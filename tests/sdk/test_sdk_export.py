# ruff: noqa: F811 - fixtures imported from support.sdk_fixtures are test parameters
"""The SDK's export, list, iter, export-all and stats methods give what the CLI gives.

Every comparison runs the CLI (in-process, CliRunner) on the same private Redis and prefix
and compares its stdout byte for byte (export) or as parsed JSON (list, stats).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.sdk_fixtures import clean_env, llm_server, make_nl  # noqa: F401 (fixtures)

from neurolink_cli import NeuroLinkError
from neurolink_cli.errors import BadInput, SessionNotFound
from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore
from neurolink_cli.util.timeutil import ms_to_rfc3339, now_ms

pytestmark = pytest.mark.timeout(120)

HOUR = 3_600_000


def _seed(store: NativeStore) -> None:
    """Three sessions: unicode, a CSV formula, secrets to redact, turns spread over days."""
    base = now_ms() - 72 * HOUR
    contents = [
        ("user", "Hello — ünïcode ✓, mail me at ann@example.com"),
        ("assistant", '=SUM(A1:A2) and\na second line, "quoted"'),
        ("user", "call +1 415 555 0100 from 10.0.0.1"),
        ("assistant", "ok"),
    ]
    for n, sid in enumerate(["s-1", "team/a:1", "s-3"]):
        for i, (role, text) in enumerate(contents):
            ts = ms_to_rfc3339(base + (n * 4 + i) * 6 * HOUR)
            extra: dict[str, Any] = {}
            if role == "assistant":
                extra = {
                    "model": "gpt-x",
                    "provider": "openai",
                    "tokens": {"prompt": 3, "completion": 4},
                }
            store.append_turn(sid, make_turn(role, text, ts, **extra), user_id=f"u{n % 2}")


@pytest.mark.parametrize("fmt", ["json", "csv", "jsonl", "markdown"])
@pytest.mark.parametrize(
    ("flags", "kwargs"),
    [
        ([], {}),
        (["--no-include-metadata"], {"include_metadata": False}),
        (
            ["--since", "60h", "--until", "2030-01-01"],
            {"start_time": "60h", "end_time": datetime(2030, 1, 1)},
        ),
        (["--redact"], {"redact": True}),
    ],
)
def test_export_is_the_cli_text(
    make_nl: Any, store: NativeStore, cli: Any, fmt: str, flags: list[str], kwargs: dict[str, Any]
) -> None:
    _seed(store)
    nl = make_nl()
    for sid in ("s-1", "team/a:1"):
        result = cli("memory", "export", "--session-id", sid, "--format", fmt, *flags)
        assert result.exit_code == 0, result.stderr
        text = nl.export_conversation_history(sid, format=fmt, **kwargs)
        assert text.encode() == result.stdout_bytes


def test_times_as_datetime_naive_is_utc(make_nl: Any, store: NativeStore) -> None:
    _seed(store)
    nl = make_nl()
    cut = datetime.now(UTC) - timedelta(hours=60)
    aware = nl.get_session("s-1", start_time=cut)
    naive = nl.get_session("s-1", start_time=cut.replace(tzinfo=None))
    iso = nl.get_session("s-1", start_time=cut.isoformat())
    assert aware == naive == iso and 0 < len(aware["turns"]) < 4


def test_get_session_is_the_json_export(make_nl: Any, store: NativeStore, cli: Any) -> None:
    _seed(store)
    doc = make_nl().get_session("s-1")
    assert doc == json.loads(cli("memory", "export", "--session-id", "s-1").stdout)
    assert list(doc)[:6] == ["sessionId", "userId", "createdAt", "updatedAt", "turns", "metadata"]


def test_list_sessions_is_memory_list_json(make_nl: Any, store: NativeStore, cli: Any) -> None:
    _seed(store)
    nl = make_nl()
    for flags, kwargs in [
        ([], {}),
        (["--user-id", "u0"], {"user_id": "u0"}),
        (["--limit", "1"], {"limit": 1}),
        (["--since", "2000-01-01", "--limit", "0"], {"since": datetime(2000, 1, 1), "limit": 0}),
    ]:
        expected = json.loads(cli("memory", "list", "--format", "json", *flags).stdout)
        assert nl.list_sessions(**kwargs) == expected
    assert [r["sessionId"] for r in nl.list_sessions()] == ["s-3", "team/a:1", "s-1"]


def test_iter_sessions_streams_the_export_all_documents(
    make_nl: Any, store: NativeStore, cli: Any
) -> None:
    _seed(store)
    nl = make_nl()
    it = nl.iter_sessions()
    assert next(it)["sessionId"]  # a generator: documents come one at a time
    lines = cli("memory", "export-all").stdout_bytes.splitlines()
    assert [orjson.loads(x) for x in lines] == list(nl.iter_sessions())
    windowed = list(nl.iter_sessions(start_time="20h"))  # only s-3 has turns that recent
    expected = [
        orjson.loads(x)
        for x in cli("memory", "export-all", "--since", "20h").stdout_bytes.splitlines()
    ]
    assert windowed == expected and [d["sessionId"] for d in windowed] == ["s-3"]
    assert [d["userId"] for d in nl.iter_sessions(user_id="u1")] == ["u1"]


def test_export_all_to_a_file_and_to_a_directory(
    make_nl: Any, store: NativeStore, cli: Any, tmp_path: Path
) -> None:
    _seed(store)
    nl = make_nl()
    for fmt in ("json", "csv"):
        binary = io.BytesIO()
        report = nl.export_all(binary, format=fmt)
        assert report.ok and report.exported == 3 and report.turns == 12
        assert binary.getvalue() == cli("memory", "export-all", "--format", fmt).stdout_bytes
        text = io.StringIO()
        nl.export_all(text, format=fmt)
        assert text.getvalue().encode() == binary.getvalue()

    report = nl.export_all(tmp_path / "sdk", format="jsonl", start_time="60h")
    cli(
        "memory",
        "export-all",
        "--output",
        str(tmp_path / "cli"),
        "--format",
        "jsonl",
        "--since",
        "60h",
    )
    assert report.manifest == tmp_path / "sdk" / "manifest.json"
    names = sorted(p.name for p in (tmp_path / "sdk").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert "team%2Fa%3A1.jsonl" in names
    for name in names:
        if name != "manifest.json":
            assert (tmp_path / "sdk" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    sdk_manifest = json.loads((tmp_path / "sdk" / "manifest.json").read_text())
    cli_manifest = json.loads((tmp_path / "cli" / "manifest.json").read_text())
    assert sdk_manifest["sessions"] == cli_manifest["sessions"]
    assert sdk_manifest["skipped"] == cli_manifest["skipped"] == report.skipped


def test_stats_is_memory_stats_json(make_nl: Any, store: NativeStore, cli: Any) -> None:
    _seed(store)
    stats = make_nl().stats()
    assert stats == json.loads(cli("memory", "stats", "--format", "json").stdout)
    assert stats["sessions"] == 3 and stats["turns"] == 12


def test_errors_are_neurolink_errors_in_python_words(make_nl: Any, store: NativeStore) -> None:
    nl = make_nl()
    with pytest.raises(SessionNotFound, match=r"NeuroLink.list_sessions\(\) lists them"):
        nl.export_conversation_history("nope")
    with pytest.raises(BadInput, match="start_time") as caught:
        nl.export_conversation_history("s-1", start_time="yesterday")
    assert "--" not in str(caught.value)
    with pytest.raises(BadInput, match="start_time='30d', end_time='7d'"):
        nl.get_session("s-1", start_time="1d", end_time="2d")
    with pytest.raises(NeuroLinkError):
        nl.export_conversation_history("s-1", format="xml")
    with pytest.raises(NeuroLinkError):
        nl.list_sessions(limit=-1)
    with pytest.raises(BadInput, match="store='memory'"):
        make_nl(store="memory").list_sessions()


def test_nothing_is_printed_warnings_go_to_the_logger(
    make_nl: Any, store: NativeStore, client: Any, prefix: str, capfd: Any, caplog: Any
) -> None:
    import logging

    _seed(store)
    client.set(f"{prefix}:session:{{broken}}:turns", "not a list")  # an unreadable session
    client.zadd(f"{prefix}:sessions", {"broken": now_ms()})
    nl = make_nl()
    capfd.readouterr()
    with caplog.at_level(logging.WARNING, logger="neurolink"):
        assert sorted(d["sessionId"] for d in nl.iter_sessions()) == ["s-1", "s-3", "team/a:1"]
        report = nl.export_all(io.BytesIO())
        nl.stats()
    assert not report.ok and [f["sessionId"] for f in report.failed] == ["broken"]
    assert capfd.readouterr() == ("", "")
    assert any("broken" in r.getMessage() for r in caplog.records)
