"""Walking and removing keys, the same way on one Redis and on a Cluster.

SCAN (never KEYS) runs on every primary of a cluster with its own cursor; UNLINK of many
keys is grouped per hash slot, since a cluster refuses multi-key commands across slots.
Used by both layouts and by import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeAlias, cast

if TYPE_CHECKING:
    from redis import Redis
    from redis.cluster import RedisCluster

RedisClient: TypeAlias = "Redis | RedisCluster"
"""What every store is given: a redis-py client on one server, or on a Cluster."""


def register_script(client: RedisClient, script: str) -> Any:
    """``client.register_script`` (RedisCluster has it too; the type stubs miss it)."""
    return cast("Redis", client).register_script(script)


def glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def scan_iter(client: RedisClient, pattern: str, count: int = 1000) -> Iterator[bytes]:
    """Keys matching ``pattern``, by SCAN (never KEYS); on a cluster, on every primary in turn.

    Each primary is walked with its own cursor until that cursor returns to 0 (replicas are
    skipped: they hold copies). A key may be yielded more than once if it moves between
    nodes during the walk (a resharding); callers tolerate repeats.
    """
    if not hasattr(client, "get_primaries"):
        yield from client.scan_iter(match=pattern, count=count)
        return
    for node in client.get_primaries():
        cursor = 0
        while True:
            cursors, keys = client.scan(cursor, match=pattern, count=count, target_nodes=node)
            yield from keys
            cursor = cursors[node.name] if isinstance(cursors, dict) else cursors
            if not cursor:
                break


def unlink(client: RedisClient, keys: list[bytes]) -> None:
    """UNLINK ``keys``; on a cluster, one UNLINK per hash slot, pipelined (grouped by node)."""
    if not keys:
        return
    if not hasattr(client, "get_nodes"):
        client.unlink(*keys)
        return
    cluster = cast("RedisCluster", client)
    by_slot: dict[int, list[bytes]] = {}
    for k in keys:
        by_slot.setdefault(cluster.keyslot(k), []).append(k)
    pipe = client.pipeline(transaction=False)
    for slot_keys in by_slot.values():
        pipe.execute_command("UNLINK", *slot_keys)  # pipe.unlink() refuses several keys
    pipe.execute()
