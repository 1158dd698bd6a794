"""``atomic.write_atomic``: the file appears whole under its name or not at all, never
through a symlink, with exactly the mode asked, and nothing else in the directory changes;
the same whether the file system offers an unnamed temporary (``O_TMPFILE``), none, or one
it will not link in."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurolink_cli.util import atomic

pytestmark = pytest.mark.skipif(not hasattr(os, "O_TMPFILE"), reason="Linux: O_TMPFILE")


@pytest.fixture(params=["unnamed", "named", "unlinkable"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of writing: the unnamed temporary, a file system without one, and one that
    makes unnamed files but refuses to link them in (then the named temporary)."""
    if request.param == "unlinkable":
        real_link = os.link

        def refused(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            if str(src).startswith("/proc/self/fd/"):
                raise OSError(errno.EPERM, os.strerror(errno.EPERM))
            real_link(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "link", refused)
    if request.param == "named":
        real = os.open

        def no_tmpfile(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if flags & os.O_TMPFILE == os.O_TMPFILE:
                raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
            return real(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", no_tmpfile)
    return str(request.param)


def entries(d: Path) -> dict[str, tuple[str, bytes]]:
    """Every entry of ``d``: (its kind, its bytes or where it points)."""
    found = {}
    for name in os.listdir(d):
        path = d / name
        if path.is_symlink():
            found[name] = ("link", os.readlink(path).encode())
        elif path.is_dir():
            found[name] = ("dir", b"")
        else:
            found[name] = (oct(stat.S_IMODE(path.stat().st_mode)), path.read_bytes())
    return found


def test_a_new_name_draws_no_temporary_name(tmp_path, monkeypatch) -> None:
    def no_name() -> str:
        raise AssertionError("a named temporary was drawn")

    monkeypatch.setattr(atomic, "temp_name", no_name)
    fd = atomic.open_dir(tmp_path)
    try:
        atomic.write_atomic("a.json", b"{}", fd, 0o640)
    finally:
        os.close(fd)
    assert entries(tmp_path) == {"a.json": ("0o640", b"{}")}


def test_a_killed_writer_leaves_nothing_under_any_name(tmp_path) -> None:
    """Killed after writing, before the file is given its name: the directory is empty."""
    pid = os.fork()
    if pid == 0:  # the writer, killed where the link would come
        atomic._link_in = lambda *_: os._exit(9)  # type: ignore[assignment]
        fd = atomic.open_dir(tmp_path)
        atomic.write_atomic("a.json", b"x" * 100_000, fd, 0o600)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 9
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_failed_write_leaves_the_directory_as_it_was(tmp_path, monkeypatch, way, code) -> None:
    (tmp_path / "a.json").write_bytes(b"old")
    before = entries(tmp_path)

    def failing(fd: int, data: Any) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "write", failing)
    fd = atomic.open_dir(tmp_path)
    try:
        for name in ("a.json", "b.json"):
            with pytest.raises(OSError, match=os.strerror(code)):
                atomic.write_atomic(name, b"new", fd, 0o600)
    finally:
        os.close(fd)
    assert entries(tmp_path) == before


NAMES = ["a.json", "b.json", "c.json"]
# What a name holds before a write: nothing, a file, a symlink (to a file outside, or to
# nothing), a directory.
KINDS = ["absent", "file", "link", "dangling", "dir"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.fixed_dictionaries({n: st.sampled_from(KINDS) for n in NAMES}),
    writes=st.lists(st.tuples(st.sampled_from(NAMES), st.binary(max_size=3000)), max_size=6),
    mode=st.sampled_from([0o600, 0o640, 0o644]),
)
def test_every_write_replaces_its_name_only(tmp_path_factory, way, start, writes, mode) -> None:
    """Whatever each name holds, a write leaves exactly ``data`` with ``mode`` under it (a
    symlink replaced, never followed; a directory refused, left as it was), every other
    entry as it was, no temporary, and nothing outside the directory touched."""
    base = tmp_path_factory.mktemp("w")
    d, outside = base / "d", base / "outside"
    d.mkdir()
    outside.write_bytes(b"precious")
    for name, kind in start.items():
        if kind == "file":
            (d / name).write_bytes(b"old")
        elif kind == "link":
            os.symlink(outside, d / name)
        elif kind == "dangling":
            os.symlink(base / "nowhere", d / name)
        elif kind == "dir":
            (d / name).mkdir()
    fd = atomic.open_dir(d)
    try:
        for name, data in writes:
            expected = entries(d)
            if expected.get(name, ("",))[0] == "dir":
                with pytest.raises(IsADirectoryError):
                    atomic.write_atomic(name, data, fd, mode)
            else:
                atomic.write_atomic(name, data, fd, mode)
                expected[name] = (oct(mode), data)
            assert entries(d) == expected
    finally:
        os.close(fd)
    assert outside.read_bytes() == b"precious"
    assert not (base / "nowhere").exists()
