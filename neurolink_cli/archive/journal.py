"""What a run folder records about itself, so that an interrupted run can be finished.

Inside ``DEST/<run>/``::

    journal/run.json                    the run's options (what makes a rerun "the same")
    journal/NNNNNN.archived.jsonl       per batch: one entry per session file put in it,
                                        with the version of the bytes archived
    journal/NNNNNN.done.jsonl           per batch: what the compare-and-delete did
    manifest.json                       written last: the run is complete

The ``archived`` journal of a batch is put together with the batch's files, *before* they are
made durable and verified, and before anything is deleted; a rerun trusts none of it without
verifying the file again. A run folder without ``manifest.json`` is incomplete: the next run
with the same options continues it (:func:`earlier_state`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from neurolink_cli.archive.destination import Destination

JOURNAL = "journal"
RUN_FILE = f"{JOURNAL}/run.json"
MANIFEST = "manifest.json"


def batch_name(seq: int, kind: str) -> str:
    """``journal/000007.archived.jsonl``."""
    return f"{JOURNAL}/{seq:06d}.{kind}.jsonl"


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def _rows(data: bytes | None) -> list[dict[str, Any]]:
    rows = []
    for line in (data or b"").splitlines():
        with contextlib.suppress(orjson.JSONDecodeError):
            value = orjson.loads(line)
            if isinstance(value, dict):
                rows.append(value)
    return rows


@dataclass
class EarlierState:
    """What the interrupted run had done: files archived (by name) and their outcome."""

    archived: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_seq: int = 1


def earlier_state(dest: Destination, run: str) -> EarlierState:
    """Read every journal of ``run`` (later batches win for the same file)."""
    state = EarlierState()
    for name in dest.names(run, JOURNAL):
        stem = name.rsplit("/", 1)[-1]
        seq, _, kind = stem.partition(".")
        if not seq.isdigit():
            continue
        state.next_seq = max(state.next_seq, int(seq) + 1)
        rows = _rows(dest.read(run, name))
        if kind == "archived.jsonl":
            for row in rows:
                if isinstance(row.get("file"), str):
                    state.archived[row["file"]] = row
                    state.done.pop(row["file"], None)  # archived again after: outcome unknown
        elif kind == "done.jsonl":
            for row in rows:
                if isinstance(row.get("file"), str):
                    state.done[row["file"]] = row
    return state


def find_resumable(dest: Destination, options: dict[str, Any]) -> tuple[str | None, str | None]:
    """(the newest incomplete run with these options, the newest incomplete run with other
    options): looking back no further than the newest complete run with these options (an
    older incomplete run was finished by it)."""
    other = None
    for run in reversed(dest.runs()):
        data = dest.read(run, RUN_FILE)
        if data is None:
            continue  # not an archive run folder
        with contextlib.suppress(orjson.JSONDecodeError):
            complete = dest.read(run, MANIFEST) is not None
            if orjson.loads(data) != options:
                if not complete and other is None:
                    other = run
                continue
            return (None if complete else run), other
    return None, other
