"""One collection over both layouts: the only gateway to Redis for commands, SDK and REPL.

A session id names at most one session per layout and user; when both layouts hold the same
id the native one wins for reading and ``delete --session-id`` removes both. Listing merges
the two layouts newest first; iterating yields the native sessions (through the index, or
by SCAN with ``full_scan``) and then the upstream ones (by SCAN), each session once
(:mod:`~neurolink_cli.store.walk`). Deleting by selection compares and deletes on the
server (:mod:`~neurolink_cli.store.deletion`).
"""

from __future__ import annotations

import builtins
import heapq
import itertools
import sys
from collections.abc import Iterable, Iterator, Mapping
from operator import itemgetter
from typing import TYPE_CHECKING

from neurolink_cli.errors import SessionNotFound
from neurolink_cli.models import Keyed, SessionDoc, SessionSummary, Unreadable
from neurolink_cli.store import upstreamlist
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.upstream import UpstreamStore

if TYPE_CHECKING:  # deleting and archiving import them when used (not at every start)
    from neurolink_cli.store import versioned
    from neurolink_cli.store.deletion import DeleteReport, DeleteTarget

_FIRST = itemgetter(0)


def _keyed(
    rows: Iterable[SessionSummary | Unreadable], bad: list[Unreadable]
) -> Iterator[tuple[int, SessionSummary]]:
    for row in rows:
        if isinstance(row, Unreadable):
            bad.append(row)
        else:
            yield row.updated_ms, row


class Repository:
    """Sessions of the native and (when present) upstream layouts as one collection."""

    def __init__(self, native: NativeStore, upstream: UpstreamStore | None = None) -> None:
        self.native = native
        self.upstream = upstream
        self.warnings: list[Unreadable] = []  # keys met while listing that are not sessions,
        # and sessions with a key of the wrong type

    def get(self, session_id: str) -> SessionDoc | Unreadable:
        """The session's document; SessionNotFound when no layout has it."""
        found = self.native.get(session_id)
        if found is None and self.upstream is not None:
            found = self.upstream.get(session_id)
        if found is None:
            raise SessionNotFound(session_id)
        return found

    def exists(self, session_id: str) -> bool:
        """True if either layout holds a session (or an unreadable one) with this id."""
        try:
            self.get(session_id)
        except SessionNotFound:
            return False
        return True

    def list(
        self,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        user_id: str | None = None,
        limit: int = 50,
        errors_only: bool = False,
        share: bool = False,
    ) -> list[SessionSummary]:
        """Sessions of both layouts, newest update first; ``limit`` 0 means all, each once.

        ``errors_only``: only sessions with a failed turn (their ``errorCount``; sessions of
        the TypeScript layout never record failures). ``share``: the TypeScript layout's
        keys read by two processes when they can (the CLI's; never inside a library)."""
        # Rows travel as (updated ms, row): each timestamp is parsed once, not once for the
        # sort and again for the merge.
        streams: builtins.list[Iterable[tuple[int, SessionSummary]]] = []
        if limit:
            native = self.native.summaries(since_ms=since_ms, until_ms=until_ms, user_id=user_id)
            streams.append(_keyed(native, self.warnings))
        else:  # the keyset walk meets every session exactly once; then newest first
            pages = self.native.all_summaries(since_ms=since_ms, until_ms=until_ms, user_id=user_id)
            streams.append(self._newest_first(pages))
        if self.upstream is not None:
            # pages keyed and sorted where they were read (a forked worker's there): the
            # sort merges those runs, equal times in SCAN order as before
            streams.append(
                self._newest_first(
                    upstreamlist.keyed_summaries(
                        self.upstream,
                        since_ms=since_ms,
                        until_ms=until_ms,
                        user_id=user_id,
                        share=share,
                    )  # fmt: skip
                )
            )
        # only the layouts with rows are merged (a heap merge of one is a cost per row); a
        # first page is read lazily, its stream always kept
        streams = [s for s in streams if not isinstance(s, builtins.list) or s]
        merged: Iterator[tuple[int, SessionSummary]] = (
            heapq.merge(*streams, key=_FIRST, reverse=True)
            if len(streams) > 1
            else iter(streams[0] if streams else ())
        )
        if errors_only:
            merged = (pair for pair in merged if pair[1].errors > 0)
        return [row for _, row in itertools.islice(merged, min(limit, sys.maxsize) or None)]

    def _newest_first(self, pages: Iterable[tuple[Keyed, builtins.list[Unreadable]]]) -> Keyed:
        """Every page's rows, newest update first (a stable sort: equal times in page
        order), their Unreadable rows added to :attr:`warnings`."""
        rows: Keyed = []
        for page, bad in pages:
            rows += page
            self.warnings += bad
        rows.sort(key=_FIRST, reverse=True)
        return rows

    def iter_docs(
        self,
        *,
        full_scan: bool = False,
        user_id: str | None = None,
        jobs: int = 1,
        with_ttl: bool = True,
        counting: bool = False,
    ) -> Iterator[SessionDoc | Unreadable]:
        """Every session of both layouts (those of ``user_id`` only, when given), each once.

        ``jobs`` readers fetch the native batches at once (``export-all --jobs``);
        ``full_scan`` finds native sessions by SCAN instead of the index. For the
        TypeScript layout, ``with_ttl=False`` skips reading TTLs (``doc.ttl`` is None) and
        ``counting=True`` gives turns that are fit for counting only
        (:meth:`UpstreamStore.iter_docs`).
        """
        if full_scan:
            native = self.native.iter_docs_full_scan()
        else:
            native = self.native.iter_docs(jobs=jobs)
        if user_id is None:  # the walk passed through as is
            yield from native
        else:
            for item in native:
                if isinstance(item, Unreadable) or item.user_id == user_id:
                    yield item
        if self.upstream is not None:
            yield from self.upstream.iter_docs(
                user_id=user_id, with_ttl=with_ttl, counting=counting
            )

    def count_estimate(self) -> int:
        """How many sessions an export will meet, for progress (the native index size)."""
        return self.native.count()

    def delete(self, session_id: str) -> bool:
        """Delete the session from every layout that has it; True if one did."""
        removed = self.native.delete(session_id)
        if self.upstream is not None:
            removed = self.upstream.delete(session_id) or removed
        return removed

    def delete_all(self) -> int:
        """Delete every session of both layouts under the configured prefixes."""
        count = self.native.delete_all()
        if self.upstream is not None:
            count += self.upstream.delete_all()
        return count

    def select(
        self,
        *,
        session_ids: Iterable[str] | None = None,
        older_than_ms: int | None = None,
        user_id: str | None = None,
    ) -> builtins.list[DeleteTarget]:
        """The sessions ``delete`` would remove, each with the version it has now.

        ``session_ids``: those ids, in both layouts (all users); else every session.
        ``older_than_ms``: only those whose own last update is before it. ``user_id``: only
        that user's. Each session (each key of the TypeScript layout) is judged on its own.
        """
        from neurolink_cli.store import deletion

        ids = None if session_ids is None else list(dict.fromkeys(session_ids))
        found = list(
            deletion.native_targets(
                self.native, session_ids=ids, older_than_ms=older_than_ms, user_id=user_id
            )
        )
        if self.upstream is not None:
            found += deletion.upstream_targets(
                self.upstream, session_ids=ids, older_than_ms=older_than_ms, user_id=user_id
            )
        return found

    def select_docs(
        self,
        *,
        session_ids: Iterable[str] | None = None,
        older_than_ms: int | None = None,
        user_id: str | None = None,
        batch: int = 500,
    ) -> Iterator[builtins.list[versioned.Versioned]]:
        """What :meth:`select` selects, read whole: batches of ``(document, target)`` where
        the target's version is the one of exactly these bytes (``memory archive``)."""
        from neurolink_cli.store import versioned

        ids = None if session_ids is None else builtins.list(dict.fromkeys(session_ids))
        return versioned.versioned_batches(
            self.native,
            self.upstream,
            session_ids=ids,
            older_than_ms=older_than_ms,
            user_id=user_id,
            batch=batch,
        )

    def delete_selected(self, targets: builtins.list[DeleteTarget]) -> DeleteReport:
        """Delete each target only if it is still as selected (a compare-and-delete on the
        server); the others are kept and listed in ``report.kept``."""
        from neurolink_cli.store import deletion

        report = deletion.DeleteReport()
        deletion.native_delete(self.native, [t for t in targets if t.source == "native"], report)
        if self.upstream is not None:
            rest = [t for t in targets if t.source != "native"]
            deletion.upstream_delete(self.upstream, rest, report)
        return report

    # -- what import and stats need -----------------------------------------------------
    def existing(self, session_ids: builtins.list[str]) -> tuple[set[str], set[str]]:
        """(ids the native layout holds, ids the upstream layout holds) among these.

        The upstream check reads only ids whose digest matches a key suffix seen by one SCAN
        of its prefix (made once per repository), so it stays linear in the keys.
        """
        in_native = self.native.existing(session_ids)
        in_upstream: set[str] = set()
        if self.upstream is not None:
            candidates = self.upstream.id_suffix_digests()
            for sid in session_ids:
                if self.upstream.digest(sid) in candidates and self.upstream.get(sid):
                    in_upstream.add(sid)
        return in_native, in_upstream

    def index_missing(self, scores: Mapping[str | bytes, int]) -> None:
        """Give these native sessions an index entry if they have none (ZADD NX).

        For ``import --on-conflict skip`` after a run that stopped between writing a
        session's keys and its index entry; existing entries are left as they are.
        """
        if scores:
            self.native.client.zadd(self.native.index_key, scores, nx=True)
