"""Fixtures of the SDK tests (import them into a test module): the local LLM server, a clean
environment, ``make_nl`` (a NeuroLink on the private Redis and a fresh prefix)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neurolink_cli import NeuroLink
from support.llm_server import LLMServer
from support.redis_server import RedisServer


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMServer]:
    server = LLMServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith(("REDIS_", "NEUROLINK_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def make_nl(redis_server: RedisServer, prefix: str, llm_server: LLMServer) -> Iterator[Any]:
    made: list[NeuroLink] = []

    def make(**memory: Any) -> NeuroLink:
        config = {
            "enabled": True,
            "store": "redis",
            "redis": {"url": redis_server.url, "keyPrefix": prefix},
            "maxTurnsPerSession": 100,
            **memory,
        }
        nl = NeuroLink(
            conversation_memory=config,
            model="openai/test",
            api_base=llm_server.base_url,
            api_key="test-key",
        )
        made.append(nl)
        return nl

    yield make
    for nl in made:
        nl.close()
