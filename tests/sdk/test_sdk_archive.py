# ruff: noqa: F811 - fixtures imported from support.sdk_fixtures are test parameters
"""``NeuroLink.archive`` / ``AsyncNeuroLink.archive``: the archive command's implementation,
called from Python (CONTRACT §7, §8)."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

from support.sdk_fixtures import clean_env, llm_server, make_nl  # noqa: F401 (fixtures)

from neurolink_cli import NeuroLinkError
from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore
from neurolink_cli.util.timeutil import ms_to_rfc3339, now_ms

DAY = 86_400_000


def _seed(store: NativeStore) -> None:
    for sid, age_days in (("old-1", 40), ("old-2", 35), ("new-1", 1)):
        ts = ms_to_rfc3339(now_ms() - age_days * DAY)
        store.append_turn(sid, make_turn("user", f"hello from {sid}", ts))
        store.append_turn(sid, make_turn("assistant", "hi", ts))


def test_archive_from_python_exports_verifies_then_deletes(
    make_nl: Any, store: NativeStore, tmp_path: Path, clean_env: None
) -> None:
    _seed(store)
    nl = make_nl()
    dry = nl.archive(str(tmp_path / "arch"), older_than="30d", dry_run=True)
    assert sorted(dry.selected) == ["old-1", "old-2"] and store.get("old-1") is not None
    report = nl.archive(str(tmp_path / "arch"), older_than="30d")
    assert report.archived == 2 and report.deleted == 2 and not report.failed
    assert store.get("old-1") is None and store.get("new-1") is not None
    files = sorted(p.name for p in Path(report.manifest).parent.glob("*.json.gz"))
    assert files == ["old-1.json.gz", "old-2.json.gz"]
    doc = json.loads(gzip.decompress((Path(report.manifest).parent / files[0]).read_bytes()))
    assert doc["sessionId"] == "old-1" and doc["turns"][0]["content"] == "hello from old-1"


def test_archive_refuses_a_bad_request_as_a_python_error(
    make_nl: Any, tmp_path: Path, clean_env: None
) -> None:
    nl = make_nl()
    try:
        nl.archive(str(tmp_path / "a"))  # no selection
    except NeuroLinkError as exc:
        assert "exactly one" in str(exc)
    else:
        raise AssertionError("no selection must be refused")


def test_async_archive_keeps_with_keep(
    redis_server: Any, prefix: str, store: NativeStore, tmp_path: Path, clean_env: None
) -> None:
    from neurolink_cli import AsyncNeuroLink

    _seed(store)

    async def run() -> Any:
        config = {
            "enabled": True,
            "store": "redis",
            "redis": {"url": redis_server.url, "keyPrefix": prefix},
        }
        async with AsyncNeuroLink(conversation_memory=config) as anl:
            return await anl.archive(
                str(tmp_path / "k"), everything=True, keep=True, compress="none"
            )

    report = asyncio.run(run())
    assert report.archived == 3 and report.deleted == 0
    assert store.get("old-1") is not None
