"""``memory archive`` (and the SDK's ``archive``): export, make durable, verify, then delete.

:func:`archive` is the one implementation; it imports no Click and returns an
:class:`ArchiveReport`. Per batch of sessions (one pipelined read):

1. read each session whole *with its version* (:meth:`~neurolink_cli.store.repository.Repository.select_docs`:
   the version is computed from the very bytes read);
2. render it (the export's formatter, optionally gzip), put the files and the batch's
   ``archived`` journal (:mod:`.journal`) into the run folder;
3. make the batch durable (local: one ``syncfs``; S3: the upload completed);
4. verify every file (local: read back, sha256; S3: the SHA-256 checksum S3 verified);
5. compare-and-delete exactly the version archived (:mod:`~neurolink_cli.store.deletion`);
   a session changed since it was read is kept: "changed since archived: kept; the next
   run takes it". A file that failed verification is never followed by a delete.

So at no moment is a turn in neither Redis nor the archive. A run killed at any point leaves
its folder without ``manifest.json``; the next run with the same options continues that
folder: a session whose journaled file still verifies and whose version is unchanged is
not written again, only deleted; one that changed since is kept (it is taken by the next
fresh run, never overwriting a file a delete may have relied on).
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from neurolink_cli import __version__
from neurolink_cli.archive import journal
from neurolink_cli.archive.destination import (
    THREADS,
    Destination,
    Item,
    open_destination,
    parallel_map,
)
from neurolink_cli.errors import BadInput
from neurolink_cli.export import registry
from neurolink_cli.export.naming import session_file_name
from neurolink_cli.export.transform import ExportOptions, apply
from neurolink_cli.models import SOURCE_NATIVE, SessionDoc, Unreadable
from neurolink_cli.store.deletion import DeleteTarget
from neurolink_cli.store.repository import Repository
from neurolink_cli.store.versioned import Versioned
from neurolink_cli.util.timeutil import now_ms, now_rfc3339, parse_duration

KEPT_CHANGED = "changed since archived: kept; the next run takes it"
KEPT_KEEP = "--keep: archived, not deleted"
FORMATS = ("json", "jsonl")
COMPRESSIONS = ("gzip", "none")


@dataclass
class ArchiveRequest:
    """What to archive, where, and how (the command's options)."""

    to: str
    export: ExportOptions = field(default_factory=ExportOptions)
    session_ids: tuple[str, ...] | None = None
    older_than: str | None = None  # a duration as typed: 30d
    everything: bool = False
    compress: str = "gzip"
    keep: bool = False
    dry_run: bool = False
    jobs: int = 8
    s3_endpoint_url: str | None = None
    batch: int = 1000

    def check(self) -> None:
        """BadInput for a request that cannot be archived safely."""
        chosen = sum([bool(self.session_ids), self.everything, self.older_than is not None])
        if chosen != 1:
            raise BadInput("choose exactly one of --session-id ID, --all or --older-than DURATION")
        if self.export.format not in FORMATS:
            raise BadInput(f"--format {self.export.format}: an archive is json or jsonl")
        if self.compress not in COMPRESSIONS:
            raise BadInput(f"--compress {self.compress}: use gzip or none")
        if self.export.has_time_window and not self.keep:
            raise BadInput(
                "--since/--until archive only part of each session, and the whole session "
                "would then be deleted; add --keep, or archive without a time window"
            )
        if self.older_than is not None:
            parse_duration(self.older_than)

    def selection(self) -> dict[str, Any]:
        """The selection as recorded in run.json and the manifest."""
        return {
            "olderThan": self.older_than,
            "sessionIds": sorted(set(self.session_ids)) if self.session_ids else None,
            "all": self.everything,
            "userId": self.export.user_id,
        }

    def run_options(self) -> dict[str, Any]:
        """What makes a rerun continue an interrupted run folder."""
        return {
            "selection": self.selection(),
            "export": self.export.run_options(),
            "compress": self.compress,
            "keep": self.keep,
        }


@dataclass
class ArchiveReport:
    """What a run did (also what ``--dry-run`` would do, in ``selected``)."""

    destination: str
    run: str | None = None
    resumed: bool = False
    archived: int = 0  # files written and verified by this run
    reused: int = 0  # files of the interrupted run verified again and used
    turns: int = 0
    deleted: int = 0
    kept: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)  # --dry-run: the ids
    manifest: str | None = None

    @property
    def problems(self) -> int:
        """Sessions that make the exit status 1 (failed, not deleted)."""
        return len(self.failed)

    def summary(self) -> str:
        """One line for stderr."""
        if self.run is None:
            return f"dry run: {_n(len(self.selected))} would be archived to {self.destination}"
        text = f"archived {_n(self.archived + self.reused)} ({self.turns} turns) to {self.manifest}"
        text += f"; deleted {self.deleted} from Redis"
        changed = sum(1 for k in self.kept if k["reason"] == KEPT_CHANGED)
        if changed:
            text += f"; {changed} changed since archived: kept; the next run takes them"
        if self.resumed:
            text += f" (continued the interrupted run, {self.reused} files reused)"
        if self.failed:
            text += f"; {len(self.failed)} could not be archived (see above)"
        return text


def _n(count: int) -> str:
    return f"{count:,} session" if count == 1 else f"{count:,} sessions"


def _entry(doc: SessionDoc | DeleteTarget, name: str, reason: str) -> dict[str, str]:
    return {"sessionId": doc.session_id, "file": name, "reason": reason}


class _Run:
    """One run into one folder: the batches, then the manifest."""

    def __init__(
        self,
        repo: Repository,
        req: ArchiveRequest,
        dest: Destination,
        report: ArchiveReport,
        warn: Callable[[str], None],
    ) -> None:
        self.repo, self.req, self.dest, self.report, self.warn = repo, req, dest, report, warn
        self.fmt = registry.get(req.export.format)
        self.ext = self.fmt.extension + (".gz" if req.compress == "gzip" else "")
        self.run = ""
        self.earlier = journal.EarlierState()
        self.sessions: dict[str, dict[str, Any]] = {}  # file -> manifest entry (this run)
        self.done: dict[str, dict[str, Any]] = {}  # file -> outcome (this run)
        self.names: set[str] = set()
        self.pool = ThreadPoolExecutor(THREADS, thread_name_prefix="neurolink-gzip")
        self.progress: Callable[[int, int], None] | None = None

    def start(self) -> None:
        options = self.req.run_options()
        found, other = journal.find_resumable(self.dest, options)
        if other is not None and found is None:
            self.warn(
                f"{self.dest.shown.rstrip('/')}/{other} is an interrupted run with other options; "
                "it is left as it is (rerun with its options to finish it)"
            )
        if found is not None:
            self.run = found
            self.report.resumed = True
        else:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
            taken = set(self.dest.runs())
            self.run, n = stamp, 1
            while self.run in taken:
                n += 1
                self.run = f"{stamp}-{n}"
        self.report.run = self.run
        self.dest.lock(self.run)
        if found is not None:
            self.earlier = journal.earlier_state(self.dest, self.run)
        else:
            self.dest.put(self.run, [(journal.RUN_FILE, orjson.dumps(options))])

    # -- one batch ------------------------------------------------------------------------
    def batch(self, rows: list[Versioned]) -> None:
        items: list[Item] = []
        entries: list[dict[str, Any]] = []
        check: list[tuple[str, str]] = []
        targets: dict[str, DeleteTarget] = {}
        fresh: list[tuple[SessionDoc, DeleteTarget, str]] = []
        reuse: dict[str, tuple[SessionDoc, DeleteTarget, dict[str, Any]]] = {}
        for doc, target in rows:
            if isinstance(doc, Unreadable) or target is None:
                reason = doc.reason if isinstance(doc, Unreadable) else "no version"
                self.report.failed.append({"sessionId": doc.session_id, "reason": reason})
                self.warn(f"{doc.session_id}: {reason}; not archived, not deleted")
                continue
            name = session_file_name(doc.session_id, self.ext, doc.source, doc.user_id)
            if name in self.names:
                self._fail(doc, name, "another session with the same id and user was archived "
                           "to this file in this run; not deleted")  # fmt: skip
                continue
            self.names.add(name)
            earlier = self.earlier.archived.pop(name, None)
            if earlier is None:
                fresh.append((doc, target, name))
            elif earlier.get("version") != target.version.hex():  # changed since: not
                # rewritten (a delete may have relied on that file); the next run takes it
                self.done[name] = _entry(doc, name, KEPT_CHANGED) | {"kept": True}
                self.warn(f"{doc.session_id}: {KEPT_CHANGED}")
                self.sessions[name] = earlier
            else:
                reuse[name] = (doc, target, earlier)
        if reuse:  # the interrupted run's files of unchanged sessions: used if intact
            shas = [(name, str(e.get("sha256"))) for name, (_, _, e) in reuse.items()]
            bad = set(self.dest.verify(self.run, shas))
            for name, (doc, target, earlier) in reuse.items():
                if name in bad:
                    fresh.append((doc, target, name))
                else:
                    self.sessions[name] = earlier
                    targets[name] = target
        for doc, target, name in fresh:
            for problem in doc.problems:
                self.report.warnings.append({"sessionId": doc.session_id, "reason": problem})
                self.warn(f"{doc.session_id}: {problem}")
            data = self._render(doc)
            if data is None:
                continue
            entry: dict[str, Any] = {
                "sessionId": doc.session_id,
                "file": name,
                "turns": doc.turn_count(),
                "bytes": 0,
                "sha256": "",
                "userId": doc.user_id,
                "source": doc.source,
                "updatedAt": doc.updated_at,
                "version": target.version.hex(),
            }
            items.append((name, data))
            entries.append(entry)
            targets[name] = target
        if not targets:
            return
        # compressed and hashed on threads (zlib and hashlib release the GIL)
        sealed = parallel_map(self.pool, self._seal, [data for _, data in items])
        for i, (data, sha) in enumerate(sealed):
            items[i] = (items[i][0], data)
            entries[i].update(bytes=len(data), sha256=sha)
            check.append((items[i][0], sha))
        seq = self.earlier.next_seq
        self.earlier.next_seq += 1
        if entries:
            items.append((journal.batch_name(seq, "archived"), journal.jsonl(entries)))
        self.dest.put(self.run, items)
        self.dest.make_durable(self.run)
        for name in self.dest.verify(self.run, check):
            target = targets.pop(name)
            self._fail(target, name, "the archived file did not verify; not deleted")
            self.sessions.pop(name, None)
        written = {e["file"] for e in entries}
        for entry in entries:
            if entry["file"] in targets:
                self.sessions[entry["file"]] = entry
                self.report.archived += 1
                self.report.turns += int(entry["turns"])
        for name in targets:
            if name not in written:
                self.report.reused += 1
                self.report.turns += int(self.sessions[name].get("turns") or 0)
        self._delete(seq, targets)
        if self.progress:
            self.progress(len(rows), sum(int(self.sessions[n].get("turns") or 0) for n in targets))

    def _render(self, doc: SessionDoc) -> bytes | None:
        opts = self.req.export
        try:
            out = apply(doc, opts)
            data = registry.render(out, self.fmt.name, opts.include_metadata, opts.csv_guard)
        except Exception as exc:  # noqa: BLE001 - a bad stored turn fails one session
            name = session_file_name(doc.session_id, self.ext, doc.source, doc.user_id)
            self._fail(doc, name, f"cannot be formatted: {exc}; not deleted")
            return None
        return data

    def _seal(self, data: bytes) -> tuple[bytes, str]:
        """The bytes to store (gzip'd if asked) and their sha256."""
        if self.req.compress == "gzip":
            data = gzip.compress(data, compresslevel=1, mtime=0)  # 4.0x vs 4.26x at 6, 2/3 the CPU
        return data, hashlib.sha256(data).hexdigest()

    def _fail(self, who: SessionDoc | DeleteTarget, name: str, reason: str) -> None:
        self.report.failed.append(_entry(who, name, reason))
        self.warn(f"{who.session_id}: {reason}")

    def _delete(self, seq: int, targets: dict[str, DeleteTarget]) -> None:
        if self.req.keep:
            for name, t in targets.items():
                self.done[name] = _entry(t, name, KEPT_KEEP) | {"kept": True}
            return
        result = self.repo.delete_selected(list(targets.values()))
        kept = {id(t) for t in result.kept}
        rows = []
        for name, t in targets.items():
            if id(t) in kept:
                row = _entry(t, name, KEPT_CHANGED) | {"kept": True}
                self.warn(f"{t.session_id}: {KEPT_CHANGED}")
            else:
                row = {"sessionId": t.session_id, "file": name, "deleted": True}
            self.done[name] = row
            rows.append(row)
        self.report.deleted += result.deleted + result.gone
        # Not made durable on purpose: if lost, the outcome is looked up again at the end.
        self.dest.put(self.run, [(journal.batch_name(seq, "done"), journal.jsonl(rows))])

    # -- the end --------------------------------------------------------------------------
    def finish(self) -> None:
        """Settle the interrupted run's files not met again, then write the manifest."""
        unsettled = {n: e for n, e in self.earlier.archived.items() if n not in self.earlier.done}
        for name, entry in self.earlier.archived.items():
            self.sessions[name] = entry
            if name in self.earlier.done:
                self.done[name] = self.earlier.done[name]
        if unsettled:
            self._settle(unsettled)
        deleted, kept = [], []
        for name, row in sorted(self.done.items()):
            if row.get("deleted"):
                deleted.append({"sessionId": row["sessionId"], "file": name})
            else:
                kept.append({"sessionId": row["sessionId"], "file": name, "reason": row["reason"]})
        self.report.kept = kept
        opts = self.req.export
        head = {
            "exportedAt": now_rfc3339(),
            "version": __version__,
            "format": opts.format,
            "filters": {**opts.filters(), **self.req.selection()},
            "options": self.req.run_options(),
            "complete": True,
            "compress": self.req.compress,
            "run": self.run,
            "sessions": [
                {k: v for k, v in e.items() if k != "version"}
                for _, e in sorted(self.sessions.items())
            ],
            "failed": self.report.failed,
            "skipped": [],
            "warnings": self.report.warnings,
            "deleted": deleted,
            "kept": kept,
        }
        data = orjson.dumps(head, option=orjson.OPT_INDENT_2) + b"\n"
        self.dest.put(self.run, [(journal.MANIFEST, data)])
        self.dest.make_durable(self.run)
        self.report.manifest = f"{self.dest.shown.rstrip('/')}/{self.run}/{journal.MANIFEST}"

    def _settle(self, unsettled: dict[str, dict[str, Any]]) -> None:
        """Files journaled by the interrupted run whose outcome it did not record, and that
        this run did not meet: deleted if the session is gone, else kept (changed)."""
        ids = {e.get("sessionId") for e in unsettled.values()}
        present = {
            (t.session_id, t.source, t.user_id)
            for t in self.repo.select(session_ids=[i for i in ids if isinstance(i, str)])
        }
        for name, e in unsettled.items():
            key = (e.get("sessionId"), e.get("source") or SOURCE_NATIVE, e.get("userId"))
            if self.req.keep:
                self.done[name] = {"sessionId": e["sessionId"], "reason": KEPT_KEEP, "kept": True}
            elif key in present:
                self.done[name] = {"sessionId": e["sessionId"], "reason": KEPT_CHANGED}
            else:
                self.done[name] = {"sessionId": e["sessionId"], "deleted": True}


def archive(
    repo: Repository,
    request: ArchiveRequest,
    *,
    warn: Callable[[str], None] | None = None,
    destination: Destination | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ArchiveReport:
    """Archive the selected sessions into a new (or the interrupted) run folder of
    ``request.to`` and delete each one archived unless ``keep``; the report says what
    happened. Raises BadInput, DestinationUnavailable, StoreUnavailable, NeurolinkError."""
    request.check()
    say = warn or (lambda _text: None)
    cutoff = now_ms() - parse_duration(request.older_than) if request.older_than else None
    selection: dict[str, Any] = {
        "session_ids": request.session_ids or None,
        "older_than_ms": cutoff,
        "user_id": request.export.user_id,
        "batch": request.batch,
    }
    dest = destination or open_destination(
        request.to,
        jobs=request.jobs,
        endpoint_url=request.s3_endpoint_url,
        umask=request.export.umask,
    )
    report = ArchiveReport(destination=dest.shown)
    if request.dry_run:
        for rows in repo.select_docs(**selection):
            report.selected += [doc.session_id for doc, t in rows if t is not None]
        return report
    dest.open()
    run = _Run(repo, request, dest, report, say)
    run.progress = progress
    try:
        run.start()
        for rows in repo.select_docs(**selection):
            run.batch(rows)
        run.finish()
    finally:
        run.pool.shutdown(wait=True)
        dest.close()
    return report
