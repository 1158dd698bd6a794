"""Clients made by :func:`make_client` name redis-py and its version to the server (what
redis-py sends by default, CLIENT SETINFO) without looking the version up in the installed
packages' metadata for each new connection (issue 14: ~4 ms a connection)."""

from __future__ import annotations

from typing import Any

import pytest
import redis
import redis.utils
from support.redis_server import RedisServer

from neurolink_cli.config import load_settings
from neurolink_cli.store.connection import make_client


def test_connections_name_redis_py_without_a_metadata_lookup(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[int] = []

    def lookup() -> str:
        looked_up.append(1)
        return redis.__version__

    monkeypatch.setattr(redis.utils, "get_lib_version", lookup)
    client: Any = make_client(load_settings({"redis_url": redis_server.url}))
    try:
        conns = [client.connection_pool.get_connection() for _ in range(3)]  # new ones
        for conn in conns:
            conn.connect()
            info = getattr(conn, "driver_info", None)
            if info is not None:  # redis-py >= 7.1
                assert (info.formatted_name, info.lib_version) == ("redis-py", redis.__version__)
            else:
                assert (conn.lib_name, conn.lib_version) == ("redis-py", redis.__version__)
            client.connection_pool.release(conn)
        assert client.ping()
    finally:
        client.close()
    assert looked_up == []
