"""Where export bytes go: stdout, or a file replaced atomically (mode 0600)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from neurolink_cli.errors import NeurolinkError


@contextlib.contextmanager
def file_mask(mask: int) -> Iterator[None]:
    """Create files and directories under ``mask`` (``--umask``) for the duration."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@contextlib.contextmanager
def open_output(
    target: str, mode: int = 0o600, stdout: IO[bytes] | None = None
) -> Iterator[IO[bytes]]:
    """``-`` is ``stdout`` (the process's unless given); a path is written to a temporary file beside it, renamed on success,
    with permissions ``mode`` (0600 unless ``--umask`` says otherwise).

    On any failure the temporary file is removed and nothing appears under ``target``.
    """
    if target == "-":
        out = stdout if stdout is not None else sys.stdout.buffer
        yield out
        out.flush()
        return
    path = Path(target)
    if path.is_dir():
        raise NeurolinkError(f"cannot write {path}: it is a directory; give a file name")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.fchmod(fd, mode)  # exactly this mode, whatever the process umask
    except OSError as exc:
        raise NeurolinkError(
            f"cannot write {path}: {exc.strerror or exc}; check the directory "
            "exists and is writable"
        ) from None
    ok = False
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        ok = True
    except OSError as exc:
        raise NeurolinkError(
            f"cannot write {path}: {exc.strerror or exc}; check free space and permissions"
        ) from None
    finally:
        if not ok:
            with contextlib.suppress(OSError):
                tmp.unlink()
