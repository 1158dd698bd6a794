# ruff: noqa: F811 - fixtures imported from support.sdk_fixtures are test parameters
"""``NeuroLink.stream``: text chunks as they arrive, turns stored when the stream ends or is
closed early (then with ``"interrupted": true``, as the loop stores Ctrl-C), through the
local OpenAI-compatible server (litellm's real streaming HTTP path)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from support.sdk_fixtures import clean_env, llm_server, make_nl  # noqa: F401 (fixtures)

from neurolink_cli.errors import BadInput, ProviderError
from neurolink_cli.store.native import NativeStore

pytestmark = pytest.mark.timeout(120)


def _turns(store: NativeStore, session_id: str) -> list[dict[str, Any]]:
    doc = store.get(session_id)
    return [] if doc is None else list(doc.turns)  # type: ignore[union-attr]


def test_stream_yields_chunks_and_stores_both_turns(make_nl: Any, store: NativeStore) -> None:
    nl = make_nl()
    chunks = list(nl.stream(prompt="hello there", context={"sessionId": "st", "userId": "u"}))
    assert len(chunks) > 1 and "".join(chunks) == "echo: hello there (1 messages)"
    turns = _turns(store, "st")
    assert [(t["index"], t["role"]) for t in turns] == [(0, "user"), (1, "assistant")]
    assert turns[1]["content"] == "".join(chunks) and "interrupted" not in turns[1]
    assert turns[1]["tokens"] == {"prompt": 3, "completion": 5}  # the server's streamed usage
    again = "".join(nl.stream(prompt="more", context={"sessionId": "st"}))
    assert again.endswith("(3 messages)")  # the stored history was sent


def test_a_stream_closed_after_two_chunks_stores_them_as_interrupted(
    make_nl: Any, store: NativeStore
) -> None:
    nl = make_nl()
    stream = nl.stream(prompt="slow please", context={"sessionId": "cut"})
    first_two = list(itertools.islice(stream, 2))
    assert len(first_two) == 2
    stream.close()  # type: ignore[attr-defined]
    turns = _turns(store, "cut")
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert turns[0]["content"] == "slow please"
    assert turns[1]["content"] == "".join(first_two) and turns[1]["interrupted"] is True
    assert "tokens" not in turns[1]
    # breaking out of a for loop closes the stream too
    for n, _chunk in enumerate(nl.stream(prompt="slow again", context={"sessionId": "cut"})):
        if n == 2:
            break
    turns = _turns(store, "cut")
    assert [t["index"] for t in turns] == [0, 1, 2, 3] and turns[3]["interrupted"] is True


def test_stream_errors(make_nl: Any, store: NativeStore) -> None:
    nl = make_nl()
    with pytest.raises(BadInput):
        nl.stream(prompt="", context={"sessionId": "e"})  # raised at the call
    chunks = nl.stream(prompt="x", context={"sessionId": "e"}, model="openai/fail-401")
    with pytest.raises(ProviderError, match="authentication"):
        next(chunks)
    assert _turns(store, "e") == []
