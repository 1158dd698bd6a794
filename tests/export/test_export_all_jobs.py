"""``export-all --jobs N`` (parallel readers) writes the same bytes in the same order as
one reader, skipping index members whose keys are gone."""

from __future__ import annotations

import io
from typing import Any

from support.helpers import seed_sessions

from neurolink_cli.export.run import export_all
from neurolink_cli.export.transform import ExportOptions
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.repository import Repository


def test_parallel_readers_export_the_same_bytes_in_the_same_order(client: Any, prefix: str) -> None:
    seed_sessions(client, prefix, 700, 3, 200)
    client.zadd(f"{prefix}:sessions", {"gone-1": 5, "gone-2": 6})  # members whose keys are gone
    outputs = []
    for jobs in (1, 3):
        repo = Repository(NativeStore(client, prefix, batch_size=50))
        out = io.BytesIO()
        report = export_all(repo, ExportOptions(format="jsonl"), out, jobs=jobs)
        assert report.exported == 700 and not report.failed
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
