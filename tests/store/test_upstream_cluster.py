"""The TypeScript SDK's layout on a real Redis Cluster: SCAN on every primary, no cross-slot
multi-key commands (the keys of one user or one session land in different slots)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from support import redis_server
from test_upstream import Upstream, jsonl, session

from neurolink_cli.models import SessionDoc

pytestmark = pytest.mark.skipif(
    not hasattr(redis_server, "RedisClusterServers"), reason="no cluster helper in tests"
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    servers = redis_server.RedisClusterServers(primaries=3).start()
    yield servers
    servers.cleanup()


@pytest.fixture
def cluster_up(cluster: Any, prefix: str) -> Iterator[Upstream]:
    from redis.cluster import RedisCluster

    client = RedisCluster.from_url(cluster.url)
    yield Upstream(client, prefix)
    client.close()


@pytest.mark.cluster
def test_cluster_list_export_delete(cluster_up: Upstream, cluster: Any, cli: Any) -> None:
    up = cluster_up
    up.load_samples()
    for i in range(30):
        up.put(f"lee:s{i}", session(f"s{i}", "lee", []), user="lee")
    up.client.set(up.c + "junk", "not json")
    slots = {up.client.keyslot(up.c + f"lee:s{i}") for i in range(30)}
    nodes = {up.client.get_node_from_key(up.c + f"lee:s{i}").name for i in range(30)}
    assert len(slots) > 1 and len(nodes) == 3  # spread over every primary

    docs = list(up.store.iter_docs())
    ids = sorted(d.session_id for d in docs if isinstance(d, SessionDoc))
    assert ids == sorted(["sess-A", "sess-B", *(f"s{i}" for i in range(30))])
    assert [d.key for d in docs if not isinstance(d, SessionDoc)] == [up.c + "junk"]
    assert len(list(up.store.summaries(user_id="lee"))) == 30

    cli.env["REDIS_URL"] = cluster.url
    cli.env["REDIS_KEY_PREFIX"] = up.c
    (cli.cwd / ".neurolink.toml").write_text(
        f'[conversationMemory.redis]\nupstreamUserSessionsPrefix = "{up.u}"\n'
    )
    result = cli("memory", "export-all", "--user-id", "alice")
    assert result.exit_code == 0, result.stderr
    assert [d["sessionId"] for d in jsonl(result.stdout)] == ["sess-A"]
    result = cli("memory", "export", "--session-id", "s7")
    assert orjson.loads(result.stdout)["userId"] == "lee"

    assert cli("memory", "delete", "--session-id", "s7", "--yes").exit_code == 0
    assert not up.client.sismember(up.u + "lee", "s7")
    assert up.client.scard(up.u + "lee") == 29
    result = cli("memory", "delete", "--all", "--yes")
    assert result.exit_code == 0, result.stderr
    assert set(up.snapshot()) == {(up.c + "junk").encode()}
