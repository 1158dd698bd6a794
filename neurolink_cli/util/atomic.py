"""The one way neurolink writes a file: a private temporary, renamed into place.

Every export file (``export --output FILE``, each file of ``export-all --output DIR`` and its
manifest, the REPL's ``/export FILE``) goes through :func:`atomic_file` /
:func:`write_atomic`:

- the temporary is created beside the target under a fresh random name
  (:data:`TEMP_PREFIX` ``<16 hex>`` :data:`TEMP_SUFFIX`, 24 bytes whatever the target's name)
  with ``O_CREAT | O_EXCL | O_NOFOLLOW``: it is always a new file, never something that
  was there, never reached through a symlink;
- its permissions are set with ``fchmod`` to the mode computed from ``--umask``
  (:func:`file_mode`): the one umask mechanism, the process umask is never changed;
- it is renamed over the target once complete (a symlink at the target is replaced, its
  target left alone), and removed on any failure, so no partial file appears under a final name.

:func:`write_atomic` (each file of ``export-all --output DIR``) first tries a temporary with
no name at all, ``O_TMPFILE`` in the target's directory, linked in under the target's name
once complete (``linkat``, which never follows a symlink and never replaces anything): one
change to the directory per file instead of two (create, rename), and nothing left behind
when the process is killed. Where the name is taken (a re-exported file, a planted symlink)
the unnamed file is linked under a fresh temporary name and renamed over it, as above; where
the file system or the kernel has no ``O_TMPFILE`` (or ``/proc`` is not mounted, through
which the unnamed file is linked), the named temporary is used from the start; where it
makes the unnamed file but refuses to link it in, the data is written again through one.

:func:`sync_filesystem` is the batched durability step of ``export-all`` (one ``syncfs``
before the manifest, instead of an fsync per file); :func:`lock_directory` keeps a second
run out of a directory that is being written.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from neurolink_cli.errors import NeurolinkError

TEMP_PREFIX = ".nl-"
TEMP_SUFFIX = ".tmp"
LOCK_NAME = ".neurolink-export.lock"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
READ_NOFOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def file_mode(umask: int) -> int:
    """The permissions of a written file under ``umask`` (077 -> 0600)."""
    return 0o666 & ~umask


def dir_mode(umask: int) -> int:
    """The permissions of a created directory under ``umask`` (077 -> 0700)."""
    return 0o777 & ~umask


def temp_name() -> str:
    """A fresh temporary name: ``.nl-<16 hex>.tmp``."""
    import secrets  # not at import time: most commands write no file

    return f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"


def is_temp_name(name: str) -> bool:
    """True for a temporary file name of this module (or of releases before it)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def create_temp(dir_fd: int, mode: int) -> tuple[str, int]:
    """Create a new temporary file in the directory ``dir_fd``; (its name, an fd open for writing)."""
    name, fd = _fresh_temp(lambda tmp: os.open(tmp, _CREATE, mode, dir_fd=dir_fd))
    try:
        os.fchmod(fd, mode)
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)
        raise
    return name, fd


T = TypeVar("T")


def _fresh_temp(claim: Callable[[str], T]) -> tuple[str, T]:
    """``(name, claim(name))`` for the first fresh temporary name that ``claim`` (an
    exclusive create, a link) finds free: a name taken by anything, a symlink included, is
    passed over for another."""
    for _ in range(16):
        name = temp_name()
        try:
            return name, claim(name)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name")


def open_dir(path: str | Path) -> int:
    """An fd of the directory ``path`` (for ``dir_fd=`` calls)."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def make_dir(path: str | Path, mode: int) -> None:
    """Create ``path`` (and missing parents) with exactly ``mode`` if it does not exist."""
    path = Path(path)
    if path.is_dir():
        return
    if path.exists():
        raise NotADirectoryError(
            20, "it is a file, not a directory; give a directory to export into"
        )
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)


@contextlib.contextmanager
def atomic_file(name: str, dir_fd: int, mode: int, *, fsync: bool = True) -> Iterator[IO[bytes]]:
    """A binary file that appears as ``name`` in ``dir_fd`` only once the block completes."""
    tmp, fd = create_temp(dir_fd, mode)
    ok = False
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        ok = True
    finally:
        if not ok:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)


@functools.cache
def _libc_function(name: str) -> Any:
    """A libc function by name (looked up once, on first use), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # not at import time: only the durability step needs it

    try:
        return getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None


def write_atomic(name: str, data: bytes, dir_fd: int, mode: int, *, fsync: bool = False) -> None:
    """Write ``data`` as ``name`` in ``dir_fd`` through a temporary, unnamed where the file
    system allows (see above; no fsync by default: ``export-all`` makes the whole directory
    durable once, with :func:`sync_filesystem`, before its manifest)."""
    if _write_unnamed(name, data, dir_fd, mode, fsync):
        return
    tmp, fd = create_temp(dir_fd, mode)
    try:
        try:
            _fill(fd, data, fsync)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    _rename_in(tmp, name, dir_fd)


def _write_unnamed(name: str, data: bytes, dir_fd: int, mode: int, fsync: bool) -> bool:
    """:func:`write_atomic` through an unnamed temporary; False (nothing written) where this
    file system has none or will not link one in."""
    fd = _unnamed_temp(dir_fd, mode)
    if fd is None:
        return False
    try:
        _fill(fd, data, fsync)
        tmp = _link_in(fd, name, dir_fd)
    except _CannotLink:
        return False
    finally:
        os.close(fd)
    if tmp is not None:
        _rename_in(tmp, name, dir_fd)
    return True


def _fill(fd: int, data: bytes, fsync: bool) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if fsync:
        os.fsync(fd)


def _rename_in(tmp: str, name: str, dir_fd: int) -> None:
    """Rename the complete temporary ``tmp`` over ``name``; on any failure, remove it."""
    try:
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


# What opening an O_TMPFILE answers where the file system or the kernel has none.
_NO_TMPFILE = frozenset({errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT})


def _unnamed_temp(dir_fd: int, mode: int) -> int | None:
    """An fd of a new file with no name in the directory ``dir_fd``, with exactly ``mode``;
    None where there is no such thing here (then a named temporary is used)."""
    if not _can_link_unnamed():
        return None
    try:
        fd = os.open(".", _TMPFILE, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in _NO_TMPFILE:
            return None
        raise
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


# What linking an unnamed file in may answer where the file system makes such files but
# will not link them (a security module's policy, a FUSE file system): the data is then
# written again through a named temporary, whose own errors say what is wrong.
_NO_LINK = frozenset({errno.EPERM, errno.EACCES, errno.EXDEV, errno.EOPNOTSUPP, errno.ENOSYS,
                      errno.EINVAL, errno.ENOENT})  # fmt: skip


class _CannotLink(Exception):
    """The unnamed file cannot be linked in here."""


def _link_in(fd: int, name: str, dir_fd: int) -> str | None:
    """Give the complete unnamed file ``fd`` the name ``name``: None when done; when the
    name is taken (by anything, a symlink included), the fresh temporary name it was given
    instead, to be renamed over ``name``; _CannotLink when this file system refuses."""
    source = f"/proc/self/fd/{fd}"

    def link(target: str) -> None:
        os.link(source, target, dst_dir_fd=dir_fd, follow_symlinks=True)

    try:
        link(name)
        return None
    except FileExistsError:
        pass
    except OSError as exc:
        if exc.errno in _NO_LINK:
            raise _CannotLink from exc
        raise
    return _fresh_temp(link)[0]


_TMPFILE = getattr(os, "O_TMPFILE", 0) | os.O_WRONLY | os.O_CLOEXEC


@functools.cache
def _can_link_unnamed() -> bool:
    """True where files may be made with ``O_TMPFILE`` and linked through ``/proc``."""
    return hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")


def fsync_dir(dir_fd: int) -> None:
    """Make the directory's entries (renames) durable."""
    os.fsync(dir_fd)


def sync_filesystem(dir_fd: int) -> None:
    """Flush every written file of the file system holding ``dir_fd`` to disk, in one call
    (Linux ``syncfs(2)``; elsewhere ``sync()``)."""
    syncfs = _libc_function("syncfs")
    if syncfs is None or syncfs(dir_fd) != 0:
        os.sync()


def lock_directory(dir_fd: int, shown: str, mode: int) -> int:
    """Take the export lock of a directory (an flock'd ``.neurolink-export.lock`` holding
    the pid); NeurolinkError (exit 1) naming the running export when another one holds it.
    The returned fd keeps the lock until it is closed (or the process ends)."""
    for _ in range(2):
        try:
            fd = os.open(LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                         dir_fd=dir_fd)  # fmt: skip
            break
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            os.unlink(LOCK_NAME, dir_fd=dir_fd)  # a planted symlink: removed, never followed
    else:
        raise NeurolinkError(f"cannot lock {shown}: {LOCK_NAME} keeps being replaced")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise NeurolinkError(
            f"{shown} is being written by another export-all (pid {holder}); "
            "wait for it to finish or choose another directory"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


@contextlib.contextmanager
def open_output(
    target: str, mode: int = 0o600, stdout: IO[bytes] | None = None
) -> Iterator[IO[bytes]]:
    """``-`` is ``stdout`` (the caller's terminal stream; none given: refused); a path is written through
    :func:`atomic_file` (fsync'd) with permissions ``mode`` (0600 unless ``--umask`` says
    otherwise).

    On any failure the temporary file is removed and nothing appears under ``target``.
    """
    if target == "-":
        if stdout is None:
            raise NeurolinkError("cannot write to '-' here: give a file name")
        out = stdout
        yield out
        out.flush()
        return
    path = Path(target)
    if path.is_dir():
        raise NeurolinkError(f"cannot write {path}: it is a directory; give a file name")
    try:
        dir_fd = open_dir(path.parent)
    except OSError as exc:
        raise NeurolinkError(
            f"cannot write {path}: {exc.strerror or exc}; check the directory "
            "exists and is writable"
        ) from None
    try:
        with atomic_file(path.name, dir_fd, mode) as fh:
            yield fh
    except OSError as exc:
        raise NeurolinkError(
            f"cannot write {path}: {exc.strerror or exc}; check free space and permissions"
        ) from None
    finally:
        os.close(dir_fd)
