"""The SDK never prints (CONTRACT §7): the embedded-store notice goes to the ``neurolink`` logger."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import pytest

from neurolink_cli import NeuroLink
from neurolink_cli.config import load_settings
from neurolink_cli.store import embedded
from neurolink_cli.store.connection import Connection


def test_sdk_on_the_embedded_store_prints_nothing(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    base = Path(tempfile.mkdtemp(prefix="nlq-", dir="/tmp"))
    env = {"HOME": str(base), "XDG_DATA_HOME": str(base / "d"), "XDG_CONFIG_HOME": str(base / "c")}
    settings = load_settings({}, env=env, cwd=base, file_values={})
    assert not settings.redis_configured
    try:
        with caplog.at_level(logging.INFO, logger="neurolink"):
            nl = NeuroLink(settings=settings)
            assert nl.get_conversation_history("nobody") == []
            nl.close()
        out, err = capfd.readouterr()
        assert out == "" and err == ""
        assert any("embedded" in r.getMessage() for r in caplog.records)
    finally:
        embedded.stop_embedded(settings, timeout=20)
        shutil.rmtree(base, ignore_errors=True)


def test_connection_reports_notices_to_its_callback_only(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    conn = Connection(
        load_settings({}, env={}, cwd=tmp_path, file_values={}),
        notice=lambda k, m: seen.append((k, m)),
    )
    conn.notify("store", "hello")
    assert seen == [("store", "hello")]
