"""One collection over both layouts: what the ``memory`` commands and the SDK talk to.

A session id names at most one session; when both layouts hold the same id the native one
wins for reading and ``delete`` removes both. Listing merges the two layouts newest first;
iterating yields the native sessions (through the index, or by SCAN with ``full_scan``)
and then the upstream ones (by SCAN).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from typing import Any, Protocol

from neurolink_cli.errors import SessionNotFound
from neurolink_cli.models import SessionDoc, SessionSummary, Unreadable
from neurolink_cli.store.native import NativeStore


class UpstreamSource(Protocol):
    """What the repository needs of the upstream (TypeScript SDK) layout reader."""

    def get(self, session_id: str) -> SessionDoc | Unreadable | None: ...
    def summaries(
        self,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        user_id: str | None = None,
    ) -> Iterator[SessionSummary | Unreadable]: ...
    def iter_docs(self, *, user_id: str | None = None) -> Iterator[SessionDoc | Unreadable]: ...
    def delete(self, session_id: str) -> bool: ...
    def delete_all(self) -> int: ...
    def ids_updated_before(
        self,
        cutoff_ms: int,
        user_id: str | None = None,
    ) -> Iterator[str]: ...


class Repository:
    """Sessions of the native and (when present) upstream layouts as one collection."""

    def __init__(self, native: NativeStore, upstream: UpstreamSource | None = None) -> None:
        self.native = native
        self.upstream = upstream
        self.warnings: list[Unreadable] = []  # keys met while listing that are not sessions

    def get(self, session_id: str) -> SessionDoc | Unreadable:
        """The session's document; SessionNotFound when no layout has it."""
        found = self.native.get(session_id)
        if found is None and self.upstream is not None:
            found = self.upstream.get(session_id)
        if found is None:
            raise SessionNotFound(session_id)
        return found

    def exists(self, session_id: str) -> bool:
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
    ) -> list[SessionSummary]:
        """Sessions of both layouts, newest update first; ``limit`` 0 means all."""
        native = self.native.summaries(since_ms=since_ms, until_ms=until_ms, user_id=user_id)
        streams: list[Iterator[SessionSummary]] = [native]
        if self.upstream is not None:
            rows = []
            for row in self.upstream.summaries(
                since_ms=since_ms, until_ms=until_ms, user_id=user_id
            ):
                if isinstance(row, Unreadable):
                    self.warnings.append(row)
                else:
                    rows.append(row)
            rows.sort(key=lambda r: r.updated_ms, reverse=True)
            streams.append(iter(rows))
        merged = heapq.merge(*streams, key=lambda r: r.updated_ms, reverse=True)
        return list(itertools.islice(merged, limit or None))

    def iter_docs(
        self,
        *,
        full_scan: bool = False,
        user_id: str | None = None,
    ) -> Iterator[SessionDoc | Unreadable]:
        """Every session of both layouts (those of ``user_id`` only, when given)."""
        native = self.native.iter_docs_full_scan() if full_scan else self.native.iter_docs()
        for item in native:
            if user_id is None or isinstance(item, Unreadable) or item.user_id == user_id:
                yield item
        if self.upstream is not None:
            yield from self.upstream.iter_docs(user_id=user_id)

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

    def ids_updated_before(self, cutoff_ms: int, user_id: str | None = None) -> Iterator[str]:
        """Sessions whose last update is before ``cutoff_ms`` (for ``delete --older-than``)."""
        for sid in self.native.ids_updated_before(cutoff_ms):
            if user_id is None or self._native_user(sid) == user_id:
                yield sid
        if self.upstream is not None:
            yield from self.upstream.ids_updated_before(cutoff_ms, user_id)

    def _native_user(self, session_id: str) -> Any:
        value = self.native.client.hget(self.native.meta_key(session_id), "userId")
        return value.decode() if isinstance(value, bytes) else value
