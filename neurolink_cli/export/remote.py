"""``export-all --output s3://bucket/prefix/``: one object per session and a manifest, through
the archive's destination layer (:mod:`neurolink_cli.archive.destination`).

The objects are named as the files of a directory export (:mod:`.naming`) and the manifest
has the same fields. Uploads go ``jobs`` at a time in batches, each with an SHA-256 checksum
S3 verifies; ``manifest.json`` is uploaded last, so a bucket prefix with a manifest holds a
complete export (an interrupted one has none). There is no ``--resume`` for a bucket: run the
export again (objects are replaced whole).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from neurolink_cli import __version__
from neurolink_cli.archive.destination import Destination, Item, open_destination
from neurolink_cli.errors import BadData
from neurolink_cli.export import registry
from neurolink_cli.export.ledger import ExportLedger
from neurolink_cli.export.naming import session_file_name
from neurolink_cli.export.transform import ExportOptions, apply
from neurolink_cli.models import SOURCE_NATIVE, Unreadable
from neurolink_cli.store.repository import Repository
from neurolink_cli.util.timeutil import now_rfc3339

BATCH = 200
MANIFEST = "manifest.json"


def export_all_remote(
    repo: Repository,
    opts: ExportOptions,
    out: object = None,
    *,
    directory: str,
    resume: bool = False,
    full_scan: bool = False,
    progress: Callable[[int, int], None] | None = None,
    warn: Callable[[str], None] | None = None,
    jobs: int = 1,
    endpoint_url: str | None = None,
    destination: Destination | None = None,
) -> ExportLedger:
    """Export every session to ``directory``, an ``s3://bucket/prefix/`` URL; called as
    :func:`~neurolink_cli.export.run.export_all` is (``out`` and ``resume`` unused), the
    ledger as its. Uploads run ``max(jobs, 8)`` at a time."""
    say = warn or (lambda _text: None)
    fmt = registry.get(opts.format)
    dest = destination or open_destination(directory, jobs=max(jobs, 8), endpoint_url=endpoint_url)
    dest.open()
    ledger = ExportLedger()
    entries: list[dict[str, Any]] = []
    batch: list[Item] = []
    upstream_names: set[str] = set()
    try:
        for item in repo.iter_docs(full_scan=full_scan, user_id=opts.user_id):
            if isinstance(item, Unreadable):
                if item.skip:
                    ledger.not_session(item.key or item.session_id, item.reason)
                else:
                    ledger.fail(item.session_id, item.reason)
                say(f"{item.key or item.session_id}: {item.reason}")
                continue
            sid = item.session_id
            name = session_file_name(sid, fmt.extension, item.source, item.user_id)
            if item.source != SOURCE_NATIVE:
                if name in upstream_names:
                    ledger.fail(sid, f"another session with the same id and user went to {name}")
                    continue
                upstream_names.add(name)
            for problem in item.problems:
                ledger.warn(sid, problem)
                say(f"{sid}: {problem}")
            try:
                doc = apply(item, opts)
                if opts.has_time_window and doc.turn_count() == 0:
                    ledger.skip(sid, "no turn in the time range")
                    continue
                data = registry.render(doc, fmt.name, opts.include_metadata, opts.csv_guard)
            except BadData as exc:
                ledger.fail(sid, str(exc))
                say(f"{sid}: {exc}")
                continue
            batch.append((name, data))
            entries.append(
                {
                    "sessionId": sid,
                    "file": name,
                    "turns": doc.turn_count(),
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "userId": doc.user_id,
                    "source": doc.source,
                    "updatedAt": doc.updated_at,
                }  # fmt: skip
            )
            ledger.export(doc.turn_count())
            if progress:
                progress(1, doc.turn_count())
            if len(batch) >= BATCH:
                dest.put("", batch)
                batch = []
        dest.put("", batch)
        manifest = {
            "exportedAt": now_rfc3339(),
            "version": __version__,
            "format": fmt.name,
            "filters": opts.filters(),
            "options": {"format": fmt.name, **opts.run_options()},
            "complete": True,
            "sessions": entries,
            **ledger.manifest_lists(),
        }
        dest.put("", [(MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")])
    finally:
        dest.close()
    return ledger
