"""Where an archive goes: one small interface, a local directory and an S3 bucket behind it.

A destination holds *runs* (``DEST/<run>/``, one dated folder or prefix per run), and in a
run, objects named by relative paths (``<session file>``, ``journal/...``,
``manifest.json``). What :mod:`neurolink_cli.archive.run` needs of it:

- ``put(run, items)``: write a batch of complete objects (each appears whole or not at all);
- ``make_durable(run)``: everything put so far survives a crash of this machine;
- ``verify(run, items)``: the names whose stored bytes are *not* those of the given sha256;
- ``read``/``names``/``runs``: what an earlier (interrupted) run left, to resume it;
- ``lock(run)``: one archive run per run folder at a time (local: flock; S3: none, said so).

:class:`LocalDestination` writes through :mod:`neurolink_cli.util.atomic` (exclusive
temporaries, never through a symlink, renamed when complete), makes a batch durable with one
``syncfs`` and verifies by reading the files back. :class:`~neurolink_cli.archive.s3.S3Destination`
uploads with an SHA-256 checksum S3 verifies and checks it with HEAD.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from neurolink_cli.errors import NeurolinkError
from neurolink_cli.util import atomic

Item = tuple[str, bytes]  # (relative name, bytes)
T = TypeVar("T")
R = TypeVar("R")
THREADS = 4  # file creation, gzip and sha256 release the GIL: a batch's files overlap


def parallel_map(
    pool: ThreadPoolExecutor | None, func: Callable[[T], R], items: Iterable[T]
) -> list[R]:
    """``[func(i) for i in items]``, on ``pool`` when there is one (order kept)."""
    if pool is None:
        return [func(i) for i in items]
    return list(pool.map(func, items, chunksize=64))


class Destination(ABC):
    """A directory or a bucket prefix holding archive runs."""

    shown: str  # how messages name it

    def open(self) -> None:  # noqa: B027 - optional hook
        """Check that it can be written (create it if needed)."""

    @abstractmethod
    def runs(self) -> list[str]:
        """Names of the runs it holds, sorted (oldest first: names are dated)."""

    @abstractmethod
    def read(self, run: str, name: str) -> bytes | None:
        """An object's bytes, or None when absent."""

    @abstractmethod
    def names(self, run: str, under: str) -> list[str]:
        """Names (relative to the run) of the objects under ``under/``, sorted."""

    @abstractmethod
    def put(self, run: str, items: list[Item]) -> None:
        """Write complete objects (each atomically)."""

    @abstractmethod
    def make_durable(self, run: str) -> None:
        """Everything put so far is on stable storage."""

    @abstractmethod
    def verify(self, run: str, items: list[tuple[str, str]]) -> list[str]:
        """Of ``(name, sha256 hex)``, the names whose stored bytes do not match."""

    def lock(self, run: str) -> None:  # noqa: B027 - optional hook
        """Hold the run against a second archive run into it (until ``close``)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what ``open``/``lock`` took."""


def open_destination(
    to: str, *, jobs: int = 8, endpoint_url: str | None = None, umask: int = 0o077
) -> Destination:
    """The destination named by ``--to``: ``s3://bucket/prefix/`` or a directory."""
    if to.startswith("s3://"):
        from neurolink_cli.archive.s3 import S3Destination

        return S3Destination(to, jobs=jobs, endpoint_url=endpoint_url)
    return LocalDestination(to, umask=umask)


def _os_error(path: Path, exc: OSError) -> NeurolinkError:
    return NeurolinkError(
        f"cannot write {path}: {exc.strerror or exc}; check the path, its permissions and free space"
    )


class LocalDestination(Destination):
    """``DEST/<run>/...`` on this machine's file systems."""

    def __init__(self, root: str | Path, *, umask: int = 0o077) -> None:
        self.root = Path(root)
        self.shown = str(root)
        self.file_mode = atomic.file_mode(umask)
        self.dir_mode = atomic.dir_mode(umask)
        self._fds: dict[str, int] = {}  # "<run>" or "<run>/<sub>" -> directory fd
        self._lock_fd = -1
        self._pool: Any = None

    def open(self) -> None:
        try:
            atomic.make_dir(self.root, self.dir_mode)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as exc:
            raise _os_error(self.root, exc) from None

    def _dir(self, run: str, sub: str = "") -> int:
        key = f"{run}/{sub}" if sub else run
        fd = self._fds.get(key)
        if fd is None:
            path = self.root / run / sub if sub else self.root / run
            try:
                atomic.make_dir(path, self.dir_mode)
                fd = self._fds[key] = atomic.open_dir(path)
            except OSError as exc:
                raise _os_error(path, exc) from None
        return fd

    def _split(self, run: str, name: str) -> tuple[int, str]:
        sub, _, base = name.rpartition("/")
        return self._dir(run, sub), base

    def runs(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.root) if e.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            return []

    def read(self, run: str, name: str) -> bytes | None:
        if not (self.root / run).is_dir():
            return None
        fd, base = self._split(run, name)
        try:
            f = os.open(base, atomic.READ_NOFOLLOW, dir_fd=fd)
        except OSError:
            return None
        with os.fdopen(f, "rb") as fh:
            return fh.read()

    def names(self, run: str, under: str) -> list[str]:
        try:
            names = os.listdir(self.root / run / under)
        except OSError:
            return []
        return sorted(f"{under}/{n}" for n in names if not atomic.is_temp_name(n))

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="neurolink-archive")
        return self._pool

    def put(self, run: str, items: list[Item]) -> None:
        for name, _ in items:
            self._split(run, name)  # directories made here, not in threads

        def one(item: Item) -> None:
            name, data = item
            fd, base = self._split(run, name)
            try:
                atomic.write_atomic(base, data, fd, self.file_mode)
            except OSError as exc:
                raise _os_error(self.root / run / name, exc) from None

        parallel_map(self._threads() if len(items) > 8 else None, one, items)

    def make_durable(self, run: str) -> None:
        fd = self._dir(run)
        try:
            atomic.sync_filesystem(fd)  # every file written so far, in one call
            for dir_fd in self._fds.values():
                atomic.fsync_dir(dir_fd)  # and the renames that named them
        except OSError as exc:
            raise _os_error(self.root / run, exc) from None

    def verify(self, run: str, items: list[tuple[str, str]]) -> list[str]:
        for name, _ in items:
            self._split(run, name)

        def bad(item: tuple[str, str]) -> str | None:
            name, sha = item
            data = self.read(run, name)
            return name if data is None or hashlib.sha256(data).hexdigest() != sha else None

        pool = self._threads() if len(items) > 8 else None
        return [n for n in parallel_map(pool, bad, items) if n is not None]

    def lock(self, run: str) -> None:
        fd = self._dir(run)
        try:
            self._lock_fd = atomic.lock_directory(fd, str(self.root / run), self.file_mode)
        except OSError as exc:
            raise _os_error(self.root / run, exc) from None
        for name in os.listdir(fd):  # a killed run's temporaries: this run holds the lock
            if atomic.is_temp_name(name):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=fd)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for fd in [*self._fds.values(), self._lock_fd]:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fds.clear()
        self._lock_fd = -1
