"""``export-all --jobs N``: several batches read at once, documents still in index order.

The main thread walks the index (ZRANGEBYSCORE pages) and hands each page to a pool of N
reader threads; each read takes its own connection from the client's pool (on a Redis
Cluster, the cluster pipeline of each batch already splits it per primary and sends to
every node before reading any). Batches are yielded in the order of the index, and at most
``2 * N`` are in flight, so memory stays bounded by the batch size whatever the data set.

Reader threads spend their time waiting on sockets (the GIL is released there) and in
hiredis, so N readers overlap N round trips and the servers' work with the formatting in
the main thread. With one local Redis on a small machine that gains little; over a
cluster, or a Redis across a network, it scales with the primaries and the latency.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neurolink_cli.models import SessionDoc, Unreadable
    from neurolink_cli.store.native import NativeStore
    from neurolink_cli.store.repository import Repository


def iter_native_docs(
    native: NativeStore,
    jobs: int,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> Iterator[SessionDoc | Unreadable]:
    """Every native session through the index, oldest update first, ``jobs`` reads at once."""
    if jobs <= 1:
        yield from native.iter_docs(since_ms=since_ms, until_ms=until_ms)
        return
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="neurolink-read")
    pending: deque[Future[list[Any]]] = deque()
    try:
        pages = native.index_pages(since_ms=since_ms, until_ms=until_ms, page=native.batch_size)
        for rows in pages:
            ids = [sid for sid, _ in rows]
            pending.append(pool.submit(native.fetch_many, ids, [sc for _, sc in rows]))
            while len(pending) >= 2 * jobs:
                yield from _present(pending.popleft().result())
        while pending:
            yield from _present(pending.popleft().result())
    finally:
        # On an early exit (an error, Ctrl-C, a closed pipe) do not wait for queued reads.
        pool.shutdown(wait=False, cancel_futures=True)


def _present(docs: list[Any]) -> Iterator[Any]:
    for doc in docs:
        if doc is not None:
            yield doc


def iter_repository_docs(
    repo: Repository,
    jobs: int,
    *,
    full_scan: bool = False,
    user_id: str | None = None,
) -> Iterator[SessionDoc | Unreadable]:
    """:meth:`Repository.iter_docs` with the native index read by ``jobs`` readers.

    ``--full-scan`` and the upstream layout are walked as before (SCAN is one cursor per
    primary; the upstream keys are few and small next to native turns lists).
    """
    if jobs <= 1 or full_scan:
        yield from repo.iter_docs(full_scan=full_scan, user_id=user_id)
        return
    from neurolink_cli.models import Unreadable

    for item in iter_native_docs(repo.native, jobs):
        if user_id is None or isinstance(item, Unreadable) or item.user_id == user_id:
            yield item
    if repo.upstream is not None:
        yield from repo.upstream.iter_docs(user_id=user_id)
