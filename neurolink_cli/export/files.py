"""``export-all --output DIR``: one file per session, written atomically, and a manifest.

Each session's bytes go to a temporary name in DIR (``.<name>.<pid>.tmp``, mode 0600) and
are renamed to ``<name>.<ext>`` once complete, so an interrupted run never leaves a partial
file under a final name. ``<name>`` is the session id percent-encoded
(:func:`~neurolink_cli.util.validate.file_name_for`). Manifest entries are appended as the run
goes to ``.manifest.partial.jsonl`` (so memory does not grow with the number of sessions),
and ``manifest.json`` is assembled from it at the end, again atomically.

With ``resume=True`` an earlier run's entries (from its ``manifest.json`` or its partial
file) whose file still exists with the recorded size are kept and their sessions skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from neurolink_cli import __version__
from neurolink_cli.errors import NeurolinkError
from neurolink_cli.export.formats import EXTENSIONS
from neurolink_cli.util.timeutil import now_rfc3339
from neurolink_cli.util.validate import file_name_for

PARTIAL = ".manifest.partial.jsonl"
MANIFEST = "manifest.json"


def _os_error(path: Path | str, exc: OSError) -> NeurolinkError:
    reason = exc.strerror or str(exc)
    return NeurolinkError(
        f"cannot write {path}: {reason}; check the path, its permissions and free space"
    )


class DirectoryExport:
    """Writes session files and the manifest into one directory."""

    def __init__(
        self,
        directory: str | Path,
        fmt: str,
        filters: dict[str, Any],
        *,
        resume: bool = False,
        file_mode: int = 0o600,
        dir_mode: int = 0o700,
    ) -> None:
        self.dir = Path(directory)
        self.fmt = fmt
        self.ext = EXTENSIONS[fmt]
        self.filters = filters
        self.resume = resume
        self.file_mode = file_mode
        self.dir_mode = dir_mode
        self.failed: list[dict[str, str]] = []
        self.skipped: list[dict[str, str]] = []
        self.warnings: list[dict[str, str]] = []
        self.written = 0
        self.done_before: dict[str, dict[str, Any]] = {}
        self._partial: Any = None

    # -- set up -------------------------------------------------------------------------
    def open(self) -> None:
        """Create the directory (0700), load earlier entries when resuming, start the log."""
        try:
            self.dir.mkdir(mode=self.dir_mode, parents=True, exist_ok=True)
            if not os.access(self.dir, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as exc:
            raise _os_error(self.dir, exc) from None
        if self.resume:
            self.done_before = self._earlier_entries()
        try:
            fd = os.open(self.dir / PARTIAL, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, self.file_mode)
            self._partial = os.fdopen(fd, "wb")
            for entry in self.done_before.values():
                self._partial.write(orjson.dumps(entry) + b"\n")
        except OSError as exc:
            raise _os_error(self.dir / PARTIAL, exc) from None

    def _earlier_entries(self) -> dict[str, dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        manifest = self.dir / MANIFEST
        partial = self.dir / PARTIAL
        with contextlib.suppress(OSError, orjson.JSONDecodeError):
            if manifest.exists():
                data = orjson.loads(manifest.read_bytes())
                entries += data.get("sessions", [])
        with contextlib.suppress(OSError):
            for line in partial.read_bytes().splitlines():
                with contextlib.suppress(orjson.JSONDecodeError):
                    entries.append(orjson.loads(line))
        kept: dict[str, dict[str, Any]] = {}
        for entry in entries:
            try:
                path = self.dir / entry["file"]
                if path.stat().st_size == entry["bytes"] and path.name == entry["file"]:
                    kept[entry["sessionId"]] = entry
            except (OSError, KeyError, TypeError):
                continue
        return kept

    # -- per session --------------------------------------------------------------------
    def already_done(self, session_id: str) -> bool:
        return session_id in self.done_before

    def file_name(self, session_id: str) -> str:
        return f"{file_name_for(session_id)}.{self.ext}"

    def write(self, session_id: str, data: bytes, turns: int) -> None:
        """Write one session's file atomically and log its manifest entry."""
        name = self.file_name(session_id)
        final = self.dir / name
        tmp = self.dir / f".{name}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, self.file_mode)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.replace(tmp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise _os_error(final, exc) from None
        entry = {
            "sessionId": session_id,
            "file": name,
            "turns": turns,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        try:
            self._partial.write(orjson.dumps(entry) + b"\n")
        except OSError as exc:
            raise _os_error(self.dir / PARTIAL, exc) from None
        self.written += 1

    def fail(self, session_id: str, reason: str) -> None:
        self.failed.append({"sessionId": session_id, "reason": reason})

    def skip(self, session_id: str, reason: str) -> None:
        self.skipped.append({"sessionId": session_id, "reason": reason})

    def warn(self, session_id: str, reason: str) -> None:
        """A session exported whole but with a metadata problem (reported, exit 1)."""
        self.warnings.append({"sessionId": session_id, "reason": reason})

    # -- finish -------------------------------------------------------------------------
    def close(self, *, complete: bool = True) -> Path:
        """Assemble ``manifest.json`` from the partial log (also after a failed run)."""
        try:
            self._partial.flush()
            os.fsync(self._partial.fileno())
            self._partial.close()
        except OSError as exc:
            raise _os_error(self.dir / PARTIAL, exc) from None
        head = {
            "exportedAt": now_rfc3339(),
            "version": __version__,
            "format": self.fmt,
            "filters": self.filters,
            "complete": complete,
        }
        final = self.dir / MANIFEST
        tmp = self.dir / f".{MANIFEST}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, self.file_mode)
            with os.fdopen(fd, "wb") as out:
                out.write(orjson.dumps(head)[:-1] + b',"sessions":[')
                first = True
                with (self.dir / PARTIAL).open("rb") as log:
                    for line in log:
                        out.write((b"\n" if first else b",\n") + line.rstrip(b"\n"))
                        first = False
                out.write(b'\n],"failed":' + orjson.dumps(self.failed))
                out.write(b',"skipped":' + orjson.dumps(self.skipped))
                out.write(b',"warnings":' + orjson.dumps(self.warnings) + b"}\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
            if complete:
                (self.dir / PARTIAL).unlink()
            dir_fd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise _os_error(final, exc) from None
        return final
