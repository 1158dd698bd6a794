"""Property tests: export -> delete -> import -> export gives identical documents.

Two properties, on the real Redis of the suite, each example under its own key prefix:

- sessions written by the store's own writer (any text, optional turn fields, tools, users)
  export to the very same bytes after a delete and an import;
- any well-formed document (extra metadata fields, extra top-level fields, arbitrary turn
  fields, sparse indexes) is stored by import so that export gives back an equal document.
"""

from __future__ import annotations

import io
import os
import uuid
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurolink_cli.export.run import export_all
from neurolink_cli.export.transform import ExportOptions
from neurolink_cli.importer.run import import_sessions
from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.repository import Repository
from neurolink_cli.util.timeutil import ms_to_rfc3339
from neurolink_cli.util.validate import session_id_problem

BASE_MS = 1_767_225_600_000
SETTINGS = settings(
    max_examples=int(os.environ.get("NEUROLINK_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

session_ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp", "Cf", "Co", "Cn")),
    min_size=1,
    max_size=24,
).filter(lambda s: session_id_problem(s) is None)
times = st.integers(min_value=0, max_value=10**10).map(lambda s: ms_to_rfc3339(BASE_MS + s))
texts = st.text(max_size=60)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def written_turns(draw: Any) -> tuple[dict[str, Any], list[str]]:
    role = draw(st.sampled_from(["user", "assistant", "system", "tool"]))
    extra: dict[str, Any] = {}
    if role == "assistant" and draw(st.booleans()):
        extra = {
            "model": draw(st.sampled_from(["gpt-4o-mini", "claude-3-5-sonnet"])),
            "provider": draw(st.sampled_from(["openai", "anthropic"])),
            "tokens": {
                "prompt": draw(st.integers(0, 9999)),
                "completion": draw(st.integers(0, 99)),
            },
            "latency_ms": draw(st.integers(0, 10**6)),
            "cost": draw(st.floats(0, 1, allow_nan=False)),
            "interrupted": draw(st.booleans()),
        }
    tools = draw(st.lists(names, max_size=2))
    turn = make_turn(role, draw(texts), draw(times), **extra)
    return turn, tools


def _fresh(client: Any) -> Repository:
    return Repository(NativeStore(client, f"p{uuid.uuid4().hex[:10]}"))


def _export(repo: Repository) -> bytes:
    out = io.BytesIO()
    report = export_all(repo, ExportOptions(format="json"), out)
    assert not report.failed
    return out.getvalue()


def _import(repo: Repository, data: bytes, on_conflict: str = "fail") -> None:
    report = import_sessions(repo, "-", on_conflict, stdin=io.BytesIO(data))
    assert not report.failed


@SETTINGS
@given(
    sessions=st.dictionaries(
        session_ids,
        st.tuples(st.none() | names, st.lists(written_turns(), min_size=1, max_size=5)),
        min_size=1,
        max_size=4,
    )
)
def test_written_sessions_survive_export_delete_import(client: Any, sessions: Any) -> None:
    repo = _fresh(client)
    for sid, (user, turns) in sessions.items():
        for turn, tools in turns:
            repo.native.append_turn(sid, turn, user_id=user, tools_used=tools)
    before = _export(repo)
    assert repo.delete_all() == len(sessions)
    assert _export(repo) == b""
    _import(repo, before)
    assert _export(repo) == before
    repo.delete_all()


@st.composite
def documents(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(0, 4))
    indexes = sorted(draw(st.sets(st.integers(0, 1000), min_size=n, max_size=n)))
    turns = []
    for i in indexes:
        turn = {
            "index": i,
            "role": draw(st.sampled_from(["user", "assistant", "system", "tool", "tool_call"])),
            "content": draw(texts | st.none()),
            "timestamp": draw(times),
        }
        turn.update(draw(st.dictionaries(names.map(lambda s: "x_" + s), json_value, max_size=2)))
        turns.append(turn)
    metadata = {
        "provider": draw(st.none() | names),
        "model": draw(st.none() | names),
        "totalTurns": draw(st.integers(0, 5000)),
        "toolsUsed": draw(st.lists(names, max_size=3, unique=True)),
    }
    if draw(st.booleans()):
        metadata["title"] = draw(texts)
    metadata.update(draw(st.dictionaries(names.map(lambda s: "m_" + s), json_value, max_size=3)))
    doc = {
        "sessionId": draw(session_ids),
        "userId": draw(st.none() | names),
        "createdAt": draw(st.none() | times),
        "updatedAt": draw(st.none() | times),
        "turns": turns,
        "metadata": metadata,
    }
    doc.update(draw(st.dictionaries(names.map(lambda s: "d_" + s), json_value, max_size=2)))
    return doc


@SETTINGS
@given(doc=documents())
def test_any_document_is_kept_whole(client: Any, doc: dict[str, Any]) -> None:
    repo = _fresh(client)
    _import(repo, orjson.dumps(doc))
    first = _export(repo)
    assert orjson.loads(first) == doc
    repo.delete_all()
    _import(repo, first)
    assert orjson.loads(_export(repo)) == doc
    _import(repo, first, on_conflict="replace")
    assert orjson.loads(_export(repo)) == doc
    repo.delete_all()
