# ruff: noqa: F811 - fixtures imported from support.sdk_fixtures are test parameters
"""``AsyncNeuroLink`` on redis.asyncio and litellm's acompletion, through the local
OpenAI-compatible server: concurrent generate calls on one session, a stream closed after
two chunks, the worker-thread methods giving the sync SDK's results, and a Redis Cluster."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support.llm_server import LLMServer
from support.redis_server import RedisClusterServers, RedisServer
from support.sdk_fixtures import clean_env, llm_server, make_nl  # noqa: F401 (fixtures)

from neurolink_cli import AsyncNeuroLink, NeuroLinkError
from neurolink_cli.config import load_settings
from neurolink_cli.errors import BadInput, ProviderError
from neurolink_cli.store.connection import make_client
from neurolink_cli.store.native import NativeStore

pytestmark = pytest.mark.timeout(120)


def _anl(url: str, prefix: str, llm: LLMServer, **memory: Any) -> AsyncNeuroLink:
    config = {"redis": {"url": url, "keyPrefix": prefix}, "maxTurnsPerSession": 0, **memory}
    return AsyncNeuroLink(
        conversation_memory=config, model="openai/test", api_base=llm.base_url, api_key="k"
    )


@pytest.fixture
def anl(redis_server: RedisServer, prefix: str, llm_server: LLMServer) -> AsyncNeuroLink:
    return _anl(redis_server.url, prefix, llm_server)


def _turns(store: NativeStore, session_id: str) -> list[dict[str, Any]]:
    doc = store.get(session_id)
    return [] if doc is None else list(doc.turns)  # type: ignore[union-attr]


async def _twenty_on_one_session(nl: AsyncNeuroLink) -> list[Any]:
    async with nl:
        return await asyncio.gather(
            *(
                nl.generate(prompt=f"q{i}", context={"sessionId": "busy", "userId": "u"})
                for i in range(20)
            )
        )


def test_twenty_concurrent_generates_keep_indexes_unique_and_contiguous(
    anl: AsyncNeuroLink, store: NativeStore
) -> None:
    results = asyncio.run(_twenty_on_one_session(anl))
    assert all(r.content.startswith("echo: q") and r.session_id == "busy" for r in results)
    assert all(r.usage.total_tokens for r in results)  # counts vary: a call may see others' turns
    turns = _turns(store, "busy")
    assert [t["index"] for t in turns] == list(range(40))
    assert sorted(t["content"] for t in turns if t["role"] == "user") == sorted(
        f"q{i}" for i in range(20)
    )
    assert store.get("busy").metadata["totalTurns"] == 40  # type: ignore[union-attr]


def test_generate_uses_the_stored_history_and_writes_what_the_sync_sdk_writes(
    anl: AsyncNeuroLink, make_nl: Any, store: NativeStore
) -> None:
    async def run() -> tuple[Any, Any, list[dict[str, Any]]]:
        async with anl:
            first = await anl.generate(prompt="hi", context={"sessionId": "h", "userId": "u1"})
            second = await anl.generate(prompt="again", context={"sessionId": "h"})
            return first, second, await anl.get_conversation_history("h")

    first, second, history = asyncio.run(run())
    assert first.content == "echo: hi (1 messages)" and second.content.endswith("(3 messages)")
    assert history == make_nl().get_conversation_history("h") and len(history) == 4
    sync = make_nl()
    sync.generate(prompt="hi", context={"sessionId": "h-sync", "userId": "u1"})
    a, b = _turns(store, "h")[:2], _turns(store, "h-sync")
    strip = {"timestamp", "latencyMs"}
    assert [{k: v for k, v in t.items() if k not in strip} for t in a] == [
        {k: v for k, v in t.items() if k not in strip} for t in b
    ]
    assert store.get("h").user_id == "u1"  # type: ignore[union-attr]


def test_a_stream_closed_after_two_chunks_stores_them_as_interrupted(
    anl: AsyncNeuroLink, store: NativeStore
) -> None:
    async def run() -> tuple[list[str], list[str]]:
        async with anl:
            got: list[str] = []
            async with contextlib.aclosing(
                anl.stream(prompt="slow one", context={"sessionId": "as"})
            ) as chunks:
                async for chunk in chunks:
                    got.append(chunk)
                    if len(got) == 2:
                        break
            whole = [c async for c in anl.stream(prompt="after", context={"sessionId": "as"})]
            return got, whole

    got, whole = asyncio.run(run())
    turns = _turns(store, "as")
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[1]["content"] == "".join(got) and turns[1]["interrupted"] is True
    assert "".join(whole) == turns[3]["content"] == "echo: after (3 messages)"
    assert "interrupted" not in turns[3] and turns[3]["tokens"]


def test_errors(anl: AsyncNeuroLink, store: NativeStore) -> None:
    async def run() -> None:
        async with anl:
            with pytest.raises(BadInput):
                await anl.generate(prompt="")
            with pytest.raises(ProviderError, match="authentication"):
                await anl.generate(prompt="x", context={"sessionId": "e"}, model="openai/fail-401")
            with pytest.raises(NeuroLinkError):
                await anl.export_conversation_history("missing")

    asyncio.run(run())
    assert _turns(store, "e") == []


def test_worker_thread_methods_give_the_sync_results(
    anl: AsyncNeuroLink, make_nl: Any, tmp_path: Any
) -> None:
    sync = make_nl()
    for sid in ("w1", "w2"):
        sync.generate(prompt=f"hello {sid}", context={"sessionId": sid, "userId": "u"})

    async def run() -> dict[str, Any]:
        async with anl:
            return {
                "export": await anl.export_conversation_history("w1", format="csv"),
                "session": await anl.get_session("w1"),
                "list": await anl.list_sessions(),
                "iter": [d async for d in anl.iter_sessions()],
                "stats": await anl.stats(),
                "report": await anl.export_all(tmp_path / "out", format="json"),
                "cleared": await anl.clear_conversation_session("w2"),
            }

    got = asyncio.run(run())
    assert got["export"] == sync.export_conversation_history("w1", format="csv")
    assert got["session"] == sync.get_session("w1")
    assert [r["sessionId"] for r in got["list"]] == ["w2", "w1"]
    assert sorted(d["sessionId"] for d in got["iter"]) == ["w1", "w2"]
    assert got["stats"]["sessions"] == 2 and got["report"].exported == 2
    assert got["cleared"] is True and sync.get_conversation_history("w2") == []


def test_memory_store_and_memory_off(
    redis_server: RedisServer, prefix: str, llm_server: LLMServer
) -> None:
    async def run() -> tuple[str, str, list[dict[str, Any]]]:
        async with _anl(redis_server.url, prefix, llm_server, store="memory") as nl:
            await nl.generate(prompt="one", context={"sessionId": "m"})
            kept = (await nl.generate(prompt="two", context={"sessionId": "m"})).content
        async with _anl(redis_server.url, prefix, llm_server, enabled=False) as off:
            await off.generate(prompt="one", context={"sessionId": "m"})
            forgot = (await off.generate(prompt="two", context={"sessionId": "m"})).content
            return kept, forgot, await off.get_conversation_history("m")

    kept, forgot, history = asyncio.run(run())
    assert kept.endswith("(3 messages)") and forgot.endswith("(1 messages)") and history == []


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(primaries=3).start()
    yield servers
    servers.cleanup()


@pytest.mark.cluster
def test_async_sdk_on_a_redis_cluster(cluster: RedisClusterServers, llm_server: LLMServer) -> None:
    prefix = f"a{uuid.uuid4().hex[:8]}"
    nl = _anl(cluster.url, prefix, llm_server)

    async def run() -> list[dict[str, Any]]:
        async with nl:
            sessions = [f"c{i}" for i in range(6)]
            await asyncio.gather(
                *(
                    nl.generate(prompt=f"{s}-{n}", context={"sessionId": s})
                    for s in sessions
                    for n in range(3)
                )
            )
            chunks = nl.stream(prompt="slow", context={"sessionId": "c0"})
            await chunks.__anext__()
            await chunks.aclose()  # type: ignore[attr-defined]
            return await nl.list_sessions(limit=0)

    listed = asyncio.run(run())
    assert sorted(r["sessionId"] for r in listed) == [f"c{i}" for i in range(6)]
    client = make_client(load_settings({"redis_url": cluster.url}, env={}, file_values={}))
    try:
        store = NativeStore(client, prefix)
        for i in range(6):
            turns = _turns(store, f"c{i}")
            assert [t["index"] for t in turns] == list(range(len(turns)))
        assert len(_turns(store, "c1")) == 6
        last = _turns(store, "c0")[-1]
        assert last["role"] == "assistant" and last["interrupted"] is True
    finally:
        client.close()
