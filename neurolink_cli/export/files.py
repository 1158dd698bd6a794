"""``export-all --output DIR``: one file per session, a manifest, and nothing outside DIR.

- One run per directory: :func:`~neurolink_cli.util.atomic.lock_directory` (exit 1 naming
  the running export's pid).
- Every file is written by :func:`~neurolink_cli.util.atomic.write_atomic` (a temporary,
  unnamed where the file system allows, never through a symlink, in place when complete) under the name of
  :mod:`~neurolink_cli.export.naming`, by a :mod:`~neurolink_cli.export.filesink` (a second
  process once the export is more than a few files, where one can run).
  Temporaries left by a killed run are removed.
- Manifest entries are appended as the run goes to ``.manifest.partial.jsonl`` (memory
  does not grow with the number of sessions); at the end the written files are synced to
  disk in one ``syncfs`` and ``manifest.json`` is assembled from the log, atomically.
- ``resume=True`` continues the same run only: the options must equal the earlier run's
  (else BadInput naming the difference, exit 2). A file is kept when its session's
  ``updatedAt`` is unchanged and its sha256 is the one recorded; otherwise the session is
  exported again. Entries of sessions that no longer exist leave the manifest (and their
  files are removed) when the run completes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from neurolink_cli import __version__
from neurolink_cli.errors import BadData, BadInput, NeurolinkError
from neurolink_cli.export.filesink import FileSink, ProcessSink
from neurolink_cli.export.ledger import ExportLedger
from neurolink_cli.export.naming import session_file_name
from neurolink_cli.export.registry import get as get_format
from neurolink_cli.export.registry import make_writer
from neurolink_cli.models import SOURCE_NATIVE, SessionDoc
from neurolink_cli.util import atomic, forkmap
from neurolink_cli.util.timeutil import now_rfc3339

PARTIAL = ".manifest.partial.jsonl"
MANIFEST = "manifest.json"


def _os_error(path: Path | str, exc: OSError) -> NeurolinkError:
    reason = exc.strerror or str(exc)
    return NeurolinkError(
        f"cannot write {path}: {reason}; check the path, its permissions and free space"
    )


def _read_nofollow(dir_fd: int, name: str) -> bytes | None:
    """The bytes of regular file ``name`` in ``dir_fd``; None when absent or a symlink."""
    try:
        fd = os.open(name, atomic.READ_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


class DirectoryExport:
    """Writes session files and the manifest into one directory."""

    def __init__(
        self,
        directory: str | Path,
        fmt: str,
        filters: dict[str, Any],
        *,
        options: dict[str, Any] | None = None,
        resume: bool = False,
        file_mode: int = 0o600,
        dir_mode: int = 0o700,
    ) -> None:
        self.dir = Path(directory)
        self.fmt = fmt
        self.ext = get_format(fmt).extension
        self.filters = filters
        self.options = {"format": fmt, **(options or {})}
        self.resume = resume
        self.file_mode = file_mode
        self.dir_mode = dir_mode
        self.done_before: dict[str, dict[str, Any]] = {}  # file name -> earlier entry
        self._dir_fd = -1
        self._lock_fd = -1
        self._partial: Any = None
        self._sink: FileSink | None = None
        # Names given to TypeScript-layout sessions in this run: their ids come from the
        # stored JSON, so two keys can hold the same (user, id); the second is refused.
        self._upstream_names: set[str] = set()

    # -- set up -------------------------------------------------------------------------
    def open(self) -> None:
        """Create DIR, take its lock, clear stray temporaries, check a resumed run, start
        the log."""
        try:
            atomic.make_dir(self.dir, self.dir_mode)
            self._dir_fd = atomic.open_dir(self.dir)
            if not os.access(self.dir, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
            self._lock_fd = atomic.lock_directory(self._dir_fd, str(self.dir), self.file_mode)
        except OSError as exc:
            self._release()
            raise _os_error(self.dir, exc) from None
        except NeurolinkError:
            self._release()
            raise
        try:
            for name in os.listdir(self._dir_fd):
                if atomic.is_temp_name(name):  # a killed run's: this run holds the lock
                    with contextlib.suppress(OSError):
                        os.unlink(name, dir_fd=self._dir_fd)
            if self.resume:
                self.done_before = self._earlier_entries()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(PARTIAL, dir_fd=self._dir_fd)  # a symlink there is removed, not followed
            _, fd = self._create_partial()
            self._partial = os.fdopen(fd, "wb")
            self._partial.write(orjson.dumps({"run": self.options}) + b"\n")
            sink = ProcessSink if forkmap.can_fork() else FileSink
            self._sink = sink(self.dir, self._dir_fd, self.file_mode, self._partial, PARTIAL,
                              _os_error)  # fmt: skip
        except OSError as exc:
            self._release()
            raise _os_error(self.dir / PARTIAL, exc) from None
        except NeurolinkError:
            self._release()
            raise

    def _create_partial(self) -> tuple[str, int]:
        fd = os.open(PARTIAL, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     self.file_mode, dir_fd=self._dir_fd)  # fmt: skip
        os.fchmod(fd, self.file_mode)
        return PARTIAL, fd

    def _earlier_entries(self) -> dict[str, dict[str, Any]]:
        """The earlier run's entries by file name; BadInput when its options differ."""
        entries: list[dict[str, Any]] = []
        earlier: dict[str, Any] | None = None
        data = _read_nofollow(self._dir_fd, MANIFEST)
        if data is not None:
            with contextlib.suppress(orjson.JSONDecodeError, TypeError, AttributeError):
                manifest = orjson.loads(data)
                earlier = manifest.get("options") or {"format": manifest.get("format")}
                entries += manifest.get("sessions", [])
        data = _read_nofollow(self._dir_fd, PARTIAL)
        for line in (data or b"").splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                value = orjson.loads(line)
                if isinstance(value, dict) and "run" in value:
                    earlier = value["run"]
                elif isinstance(value, dict):
                    entries.append(value)
        if earlier is not None and earlier != self.options:
            raise BadInput(
                f"--resume: {self.dir} holds an export made {_difference(earlier, self.options)}"
                "; run without --resume (or into another directory) to use these options"
            )
        kept: dict[str, dict[str, Any]] = {}
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                kept[entry["file"]] = entry
        return kept

    # -- per session --------------------------------------------------------------------
    def claim(self, doc: SessionDoc) -> str:
        """The session's file name in this run; BadData when another session has it."""
        name = session_file_name(doc.session_id, self.ext, doc.source, doc.user_id)
        if doc.source != SOURCE_NATIVE:
            if name in self._upstream_names:
                raise BadData(
                    f"another TypeScript-layout session with the same id and user "
                    f"({doc.user_id!r}) was exported to {name} in this run; not written, "
                    "so that neither replaces the other"
                )
            self._upstream_names.add(name)
        return name

    def keep_earlier(self, doc: SessionDoc, name: str) -> bool:
        """With ``--resume``: True (and the entry logged again) when the earlier run's file
        ``name`` of this session is intact and the session has not changed since."""
        entry = self.done_before.pop(name, None)
        if entry is None or doc.updated_at is None:
            return False
        same = (
            entry.get("sessionId") == doc.session_id
            and entry.get("updatedAt") == doc.updated_at
            and entry.get("userId") == doc.user_id
            and entry.get("source", SOURCE_NATIVE) == doc.source
        )
        if not same:
            return False
        data = _read_nofollow(self._dir_fd, entry["file"])
        if data is None or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            return False
        self._log(entry)
        return True

    def write(self, doc: SessionDoc, name: str, data: bytes) -> None:
        """Have one session's file ``name`` written atomically and its manifest entry
        logged (by the sink: perhaps later, always in this order; a failure is raised here
        or by :meth:`close`)."""
        fields = (doc.session_id, doc.turn_count(), doc.user_id, doc.source, doc.updated_at)
        assert self._sink is not None
        self._sink.put(("file", name, data, fields))

    def write_stream(
        self, doc: SessionDoc, name: str, include_metadata: bool, csv_guard: bool
    ) -> None:
        """Write a paged session's file ``name`` as its pages are read (never held whole),
        through a temporary that is renamed only when complete; log its manifest entry."""
        tmp, fd = atomic.create_temp(self._dir_fd, self.file_mode)
        try:
            with os.fdopen(fd, "wb", buffering=1 << 20) as raw:
                out = _Digesting(raw)
                writer = make_writer(self.fmt, out, include_metadata, csv_guard)  # type: ignore[arg-type]
                writer.spool = False  # type: ignore[attr-defined]  # the temporary is the spool
                writer.write(doc)
                writer.close()
            os.rename(tmp, name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self._dir_fd)
            if isinstance(exc, OSError):
                raise _os_error(self.dir / name, exc) from None
            raise
        self._log(
            {
                "sessionId": doc.session_id,
                "file": name,
                "turns": doc.turn_count(),
                "bytes": out.size,
                "sha256": out.sha.hexdigest(),
                "userId": doc.user_id,
                "source": doc.source,
                "updatedAt": doc.updated_at,
            }
        )

    def _log(self, entry: dict[str, Any]) -> None:
        assert self._sink is not None
        self._sink.put(("log", entry))

    # -- finish -------------------------------------------------------------------------
    def close(self, ledger: ExportLedger, *, complete: bool = True) -> Path:
        """Sync the files, then write ``manifest.json`` from the log (also after a failure)."""
        final = self.dir / MANIFEST
        failure = None
        try:
            if self._sink is not None:  # every file in place (or the error that stopped it)
                failure, self._sink = self._sink.finish(), None
                complete = complete and failure is None
            if complete and not ledger.failed:  # sessions gone since: out of manifest and DIR
                for name in self.done_before:
                    with contextlib.suppress(OSError):
                        os.unlink(name, dir_fd=self._dir_fd)
            else:  # not seen (yet): still the earlier run's, checked again on the next --resume
                for entry in self.done_before.values():
                    self._partial.write(orjson.dumps(entry) + b"\n")
            self._partial.close()
            atomic.sync_filesystem(self._dir_fd)  # every file on disk before the manifest
            head = {
                "exportedAt": now_rfc3339(),
                "version": __version__,
                "format": self.fmt,
                "filters": self.filters,
                "options": self.options,
                "complete": complete,
            }
            with atomic.atomic_file(MANIFEST, self._dir_fd, self.file_mode) as out:
                out.write(orjson.dumps(head)[:-1] + b',"sessions":[')
                first = True
                fd = os.open(PARTIAL, atomic.READ_NOFOLLOW, dir_fd=self._dir_fd)
                with os.fdopen(fd, "rb") as log:  # line by line: memory stays bounded
                    for line in log:
                        if line.startswith(b'{"run":'):
                            continue
                        out.write((b"\n" if first else b",\n") + line.rstrip(b"\n"))
                        first = False
                for key, value in ledger.manifest_lists().items():
                    out.write((b'\n],"' if key == "failed" else b',"') + key.encode() + b'":')
                    out.write(orjson.dumps(value))
                out.write(b"}\n")
            if complete:
                os.unlink(PARTIAL, dir_fd=self._dir_fd)
            atomic.fsync_dir(self._dir_fd)
        except OSError as exc:
            raise _os_error(final, exc) from None
        finally:
            self._release()
        if failure is not None:  # the manifest says what is in place, not complete
            raise failure
        return final

    def _release(self) -> None:
        for fd in (self._lock_fd, self._dir_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._lock_fd = self._dir_fd = -1


class _Digesting:
    """A binary stream that counts and hashes what passes through it."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()


def _difference(earlier: dict[str, Any], now: dict[str, Any]) -> str:
    """``with --format json (now csv)``: the options that differ, as the user typed them."""
    parts = []
    for key in sorted(set(earlier) | set(now)):
        if earlier.get(key) != now.get(key):
            parts.append(f"{key} {earlier.get(key)!r} (now {now.get(key)!r})")
    return "with " + ", ".join(parts)
