"""Fixtures of the archive tests: a repository over both layouts on one Redis or a Cluster."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.archive_helpers import Both
from support.redis_server import RedisClusterServers

from neurolink_cli.config import load_settings
from neurolink_cli.store.connection import make_client


@pytest.fixture(scope="session")
def cluster() -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(primaries=3).start()
    yield servers
    servers.cleanup()


@pytest.fixture(params=["single", pytest.param("cluster", marks=pytest.mark.cluster)])
def rclient(request: Any, redis_server: Any) -> Iterator[Any]:
    url = redis_server.url if request.param == "single" else request.getfixturevalue("cluster").url
    client = make_client(load_settings({"redis_url": url}, env={}, file_values={}))
    yield client
    client.close()


@pytest.fixture
def both(rclient: Any) -> Both:
    return Both(rclient)
