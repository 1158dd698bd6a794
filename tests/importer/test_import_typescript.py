"""TypeScript SDK sessions export and import back (issue 13 item 5).

Starts from the keys the real SDK wrote (shared/samples/neurolink-ts-keys.jsonl) and
variants of them with what the SDK accepts and the native layout refuses: ids with a
space, with braces, longer than 256 bytes, and numeric (epoch ms) times. Every such id is
named in one line before anything is written; ``--skip-invalid-ids`` imports the others;
numeric times come back in the contract's format.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from neurolink_cli.util.timeutil import ms_to_rfc3339

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared/samples/neurolink-ts-keys.jsonl"
if not SAMPLES.is_file():  # the tree checked out elsewhere: the shared dir of the workspace
    SAMPLES = Path("/work/shared/samples/neurolink-ts-keys.jsonl")

RFC3339_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LONG_ID = "long-" + "x" * 300
BAD_IDS = ["sess 1", "a{b}", LONG_ID]
CREATED_MS, UPDATED_MS, TURN_MS = 1795733160041, 1795733160999, 1795733160500


class Upstream:
    """The test's upstream prefixes on the private Redis, and the CLI set to read them."""

    def __init__(self, client: Any, prefix: str, cli: Any) -> None:
        self.client = client
        self.root = f"{prefix}:"
        self.c = f"{prefix}:conversation:"
        self.u = f"{prefix}:user:sessions:"
        cli.env["REDIS_KEY_PREFIX"] = self.c
        (cli.cwd / ".neurolink.toml").write_text(
            f'[conversationMemory.redis]\nupstreamUserSessionsPrefix = "{self.u}"\n'
        )

    def load_samples(self) -> list[dict[str, Any]]:
        """Write every sample key as the SDK did (rekeyed under the test prefix)."""
        records = [orjson.loads(line) for line in SAMPLES.read_bytes().splitlines() if line]
        for rec in records:
            key = self.root + rec["key"].removeprefix("neurolink:")
            if rec["type"] == "string":
                self.client.set(key, rec["value"])
            elif rec["type"] == "set":
                self.client.sadd(key, *rec["value"])
        return records

    def put(self, obj: dict[str, Any]) -> None:
        """One more session object under its user, as the SDK would write it."""
        self.client.set(f"{self.c}{obj['userId']}:{obj['sessionId']}", orjson.dumps(obj))
        self.client.sadd(f"{self.u}{obj['userId']}", obj["sessionId"])


@pytest.fixture
def ts_sessions(client: Any, prefix: str, cli: Any) -> dict[str, Any]:
    """The real samples plus variants of the real sess-A object; returns the variants."""
    up = Upstream(client, prefix, cli)
    records = up.load_samples()
    base = next(orjson.loads(r["value"]) for r in records if r["key"].endswith("alice:sess-A"))
    variants = {}
    for sid in BAD_IDS:
        variants[sid] = {**base, "sessionId": sid}
    numeric = {**base, "sessionId": "num-1", "createdAt": CREATED_MS, "updatedAt": UPDATED_MS}
    numeric["messages"] = [dict(m) for m in base["messages"]]
    numeric["messages"][0]["timestamp"] = TURN_MS
    variants["num-1"] = numeric
    for obj in variants.values():
        up.put(obj)
    return variants


def docs_of(text: bytes) -> dict[str, dict[str, Any]]:
    return {d["sessionId"]: d for d in map(orjson.loads, text.splitlines())}


def native_keys(client: Any, prefix: str) -> list[bytes]:
    return list(client.scan_iter(match=f"{prefix}:session:*"))


@pytest.mark.parametrize("via", ["dir", "jsonl"])
def test_typescript_export_all_imports_back(
    cli: Any, client: Any, prefix: str, ts_sessions: dict[str, Any], via: str
) -> None:
    if via == "dir":
        exported = cli("memory", "export-all", "--output", "out")
        source, stdin = "out", None
    else:
        exported = cli("memory", "export-all")
        source, stdin = "-", exported.stdout_bytes
    assert exported.exit_code == 0, exported.stderr
    before = docs_of(cli("memory", "export-all").stdout_bytes)
    assert set(BAD_IDS) <= set(before) and {"sess-A", "sess-B", "num-1"} <= set(before)
    assert cli("memory", "delete", "--all", "--yes").exit_code == 0

    refused = cli("memory", "import", source, input=stdin)
    assert refused.exit_code == 2, refused.stderr
    err = refused.stderr
    assert err.count("\n") == 1, err
    assert "bad session id in 3 sessions" in err and "--skip-invalid-ids" in err, err
    for shown in ("'sess 1'", "'a{b}'", f"{len(LONG_ID)} bytes"):
        assert shown in err, err
    assert native_keys(client, prefix) == []  # nothing written

    result = cli("memory", "import", source, "--skip-invalid-ids", input=stdin)
    assert result.exit_code == 0, result.stderr
    warning, summary = result.stderr.splitlines()
    assert "left out 3" in warning and "'sess 1'" in warning and "'a{b}'" in warning
    n = len(before) - 3
    assert summary.startswith(f"neurolink: imported {n} sessions"), summary
    assert "left out 3 whose id cannot be a native key" in summary

    after = docs_of(cli("memory", "export-all").stdout_bytes)
    assert set(after) == set(before) - set(BAD_IDS)
    for sid in ("sess-A", "sess-B"):  # the real SDK's sessions: the same documents
        assert after[sid] == before[sid]
    num = after["num-1"]
    assert num["createdAt"] == ms_to_rfc3339(CREATED_MS) == "2026-11-26T22:46:00.041Z"
    assert num["updatedAt"] == ms_to_rfc3339(UPDATED_MS)
    assert num["turns"][0]["timestamp"] == ms_to_rfc3339(TURN_MS)
    for turn in num["turns"]:
        assert RFC3339_MS_Z.match(turn["timestamp"]), turn
    assert [t["content"] for t in num["turns"]] == [t["content"] for t in before["num-1"]["turns"]]


def test_numeric_times_as_numbers_and_digit_strings(cli: Any) -> None:
    doc = {
        "sessionId": "n-2",
        "createdAt": CREATED_MS,
        "updatedAt": str(UPDATED_MS),
        "turns": [{"role": "user", "content": "hi", "timestamp": TURN_MS}],
    }
    result = cli("memory", "import", "-", input=orjson.dumps(doc))
    assert result.exit_code == 0, result.stderr
    got = orjson.loads(cli("memory", "export", "--session-id", "n-2").stdout)
    assert got["createdAt"] == "2026-11-26T22:46:00.041Z"
    assert got["updatedAt"] == ms_to_rfc3339(UPDATED_MS)
    assert got["turns"][0]["timestamp"] == ms_to_rfc3339(TURN_MS)


@pytest.mark.parametrize("bad", [-1, 10**20, 1.5, "12345678901234567890", True, {"ms": 1}])
def test_numeric_times_out_of_range_are_bad_input(cli: Any, bad: Any) -> None:
    doc = {"sessionId": "n-3", "createdAt": bad, "turns": []}
    result = cli("memory", "import", "-", input=json.dumps(doc))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "createdAt" in result.stderr
