"""Sessions read whole *with* the version a compare-and-delete checks (``memory archive``).

``memory archive`` must delete exactly the bytes it archived. Selecting versions first
(:mod:`~neurolink_cli.store.deletion`) and reading documents afterwards would leave a window
where a turn appended in between is archived but the older version is what the delete
compares with (kept: safe but wasted) — or worse, the other way round. Here each session's
document and its version come from the *same* reply:

- Native: one pipelined batch of HGETALL + LRANGE per session (the export's read); the version
  is ``updatedAt|nextIndex|totalTurns|len(turns read)``, the string
  :data:`~neurolink_cli.store.deletion.NATIVE_CAS_SCRIPT` rebuilds on the server. HGETALL and
  LRANGE are two commands, so a writer may append between them; the version then mixes old
  metadata with the new length and matches no state the server can be in (every append
  changes ``nextIndex`` atomically with the list): the session is kept, never deleted unseen.
- TypeScript layout: the SHA-1 of the JSON string the document was parsed from.

Selection is :func:`~neurolink_cli.store.deletion.native_targets`'s and
:func:`~neurolink_cli.store.deletion.upstream_targets`'s: ids (all users, both layouts) or
every session; ``older_than_ms`` by each session's own ``updatedAt``; ``user_id``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from neurolink_cli.models import SOURCE_NATIVE, SOURCE_UPSTREAM, SessionDoc, Unreadable
from neurolink_cli.store.batchread import BatchReader
from neurolink_cli.store.deletion import DeleteTarget, _b, _chunks, _float
from neurolink_cli.store.nativedoc import as_text, session_doc
from neurolink_cli.util.timeutil import stored_to_ms

if TYPE_CHECKING:
    from neurolink_cli.store.native import NativeStore
    from neurolink_cli.store.upstream import UpstreamStore

Versioned = tuple[SessionDoc | Unreadable, DeleteTarget | None]


def native_versioned(
    store: NativeStore,
    *,
    session_ids: Iterable[str] | None = None,
    older_than_ms: int | None = None,
    user_id: str | None = None,
    batch: int = 500,
) -> Iterator[list[Versioned]]:
    """Batches of ``(document, target)`` of the matching native sessions; an unreadable
    session comes as ``(Unreadable, None)`` (never deleted)."""
    reader = BatchReader(store.client)
    pages: Iterable[list[tuple[str, float | None]]]
    if session_ids is not None:
        pages = _with_scores(store, session_ids, batch)
    else:
        walk = store.index_walk(until_ms=older_than_ms, page=batch)
        pages = ([(sid, sc) for sid, sc in rows] for rows in walk)
    for page in pages:
        replies = reader.read([(store.meta_key(sid), store.turns_key(sid)) for sid, _ in page])
        out: list[Versioned] = []
        for i, (sid, score) in enumerate(page):
            meta, turns = replies[2 * i], replies[2 * i + 1]
            if isinstance(meta, Exception) or isinstance(turns, Exception):
                bad = meta if isinstance(meta, Exception) else turns
                if "WRONGTYPE" not in str(bad):
                    raise bad
                if user_id is None:
                    key = store.meta_key(sid)
                    out.append((Unreadable(sid, f"a key of {key} is not of its type", key), None))
                continue
            if not meta and not turns:
                continue  # gone (expired, deleted)
            if meta and not isinstance(next(iter(meta)), bytes):
                meta = {_b(k): _b(v) for k, v in meta.items()}
            owner = as_text(meta.get(b"userId"))
            if user_id is not None and owner != user_id:
                continue
            updated_raw = meta.get(b"updatedAt")
            if older_than_ms is not None:
                updated = stored_to_ms(as_text(updated_raw)) if updated_raw is not None else None
                when = updated if updated is not None else score
                if when is None or when >= older_than_ms:
                    continue
            version = b"|".join(
                [
                    _b(updated_raw),
                    _b(meta.get(b"nextIndex")),
                    _b(meta.get(b"totalTurns")),
                    str(len(turns)).encode(),
                ]  # fmt: skip
            )
            doc = session_doc(sid, store.meta_key(sid), meta, list(turns))
            target = DeleteTarget(sid, owner, SOURCE_NATIVE, store.meta_key(sid), version, score)
            out.append((doc, target))
        if out:
            yield out


def _with_scores(
    store: NativeStore, session_ids: Iterable[str], batch: int
) -> Iterator[list[tuple[str, float | None]]]:
    """The given ids in pages, each with its index score (to prune the member after)."""
    for ids in _chunks(dict.fromkeys(session_ids), batch):
        pipe = store.client.pipeline(transaction=False)
        for sid in ids:
            pipe.zscore(store.index_key, sid)
        scores = pipe.execute()
        yield [(sid, _float(sc)) for sid, sc in zip(ids, scores, strict=True)]


def upstream_versioned(
    store: UpstreamStore,
    *,
    session_ids: Iterable[str] | None = None,
    older_than_ms: int | None = None,
    user_id: str | None = None,
    batch: int = 500,
) -> Iterator[list[Versioned]]:
    """Batches of ``(document, target)`` of the matching TypeScript-layout keys."""
    wanted = None if session_ids is None else set(session_ids)
    out: list[Versioned] = []
    for entry, doc, stored_user in store.session_entries(user_id):
        if wanted is not None and doc.session_id not in wanted:
            continue
        if user_id is not None and doc.user_id != user_id:
            continue
        if older_than_ms is not None:
            updated = stored_to_ms(doc.updated_at)
            if updated is None or updated >= older_than_ms:
                continue
        version = hashlib.sha1(_b(entry.value)).hexdigest().encode()
        user_set = store.user_set_key(stored_user) if stored_user else None
        target = DeleteTarget(
            doc.session_id, doc.user_id, SOURCE_UPSTREAM, entry.name, version, user_set=user_set
        )
        out.append((doc, target))
        if len(out) >= batch:
            yield out
            out = []
    if out:
        yield out


def versioned_batches(
    native: NativeStore, upstream: UpstreamStore | None, **selection: Any
) -> Iterator[list[Versioned]]:
    """Both layouts' matching sessions, native first, in batches."""
    yield from native_versioned(native, **selection)
    if upstream is not None:
        yield from upstream_versioned(upstream, **selection)
