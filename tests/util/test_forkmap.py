"""forkmap.map_pages: the maps of every page in page order, whichever process made them, and
the worker's error raised here whatever the reader does with errors of its pages."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from neurolink_cli.util import forkmap

pytestmark = pytest.mark.skipif(not forkmap.can_fork(), reason="needs two cores and fork")


def deferring_read(pages: Iterator[Any], ahead: bool = False) -> Iterator[tuple[Any, Any]]:
    """A reader that, like BatchReader.run_ahead, hands out the pages it has and raises an
    error of its page iterator only then (``ahead``: every page taken, a little apart,
    before the first is handed out)."""
    failed: list[BaseException] = []

    def source() -> Iterator[Any]:
        try:
            for page in pages:
                yield page
                if ahead:
                    time.sleep(0.01)
        except Exception as exc:  # noqa: BLE001
            failed.append(exc)

    for page in list(source()) if ahead else source():
        yield page, page * 10
    if failed:
        raise failed[0]


def test_maps_in_page_order_from_both_processes() -> None:
    got = list(forkmap.map_pages(iter(range(50)), deferring_read, lambda p, d: (p, d), share=True))
    assert got == [(p, p * 10) for p in range(50)]


def test_one_page_forks_nothing(monkeypatch: Any) -> None:
    def no_worker(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a worker for one page")

    monkeypatch.setattr(forkmap, "fork", no_worker)
    assert list(forkmap.map_pages(iter([7]), deferring_read, lambda p, d: d, share=True)) == [70]


@pytest.mark.parametrize("ahead", [False, True])
def test_the_workers_error_even_when_the_reader_defers_it(ahead: bool) -> None:
    """The worker fails on its first page and exits. Reading ahead, this process finds it
    gone while handing out a later page, inside the reader, which keeps that error until
    it has handed out the pages it holds: what is raised must still be the worker's
    error, not "the second process stopped unexpectedly"."""
    here = os.getpid()

    def work(page: int, data: int) -> int:
        if os.getpid() != here:
            raise ValueError("worker says no")
        return data

    def read(pages: Iterator[Any]) -> Iterator[tuple[Any, Any]]:
        return deferring_read(pages, ahead and os.getpid() == here)  # the worker: page by page

    for _ in range(3):
        with pytest.raises(ValueError, match="worker says no"):
            list(forkmap.map_pages(iter(range(40)), read, work, share=True))


def _exit_at_once(conn: Any) -> None:
    conn.close()


@pytest.mark.parametrize("frozen_before", [False, True])
def test_fork_leaves_the_collector_as_it_found_it(frozen_before: bool) -> None:
    """Around the fork the heap is frozen; a heap frozen before (the CLI's start-up heap)
    stays frozen afterwards, an unfrozen one is thawed again."""
    import gc

    was = gc.get_freeze_count()
    if frozen_before:
        gc.freeze()
    try:
        before = gc.get_freeze_count()
        proc, conn = forkmap.fork(_exit_at_once, name="test-freeze")
        proc.join(10)
        conn.close()
        assert gc.get_freeze_count() == before
        assert bool(before) == (frozen_before or bool(was))
    finally:
        if not was:
            gc.unfreeze()
