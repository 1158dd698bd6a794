"""``memory delete``: select exactly the sessions asked for, then compare-and-delete each.

Selection reads, per session (per key in the TypeScript layout), a *version*: what the
session looked like when it was selected. Deletion is a Lua script on the server that
deletes the session's keys only if that version is still there, so a session written
between selection and deletion is kept and reported (``changed since selected, kept``);
no read-then-delete in the client.

- Native (CONTRACT §3): the version is ``updatedAt|nextIndex|totalTurns|LLEN(turns)``,
  read by one pipelined HMGET + LLEN per batch; every append changes ``nextIndex`` and
  ``updatedAt``. The script runs on the session's two keys (one slot: the hash tag); the
  index member (another slot in a cluster) is removed afterwards only if its score is still
  the one selected.
- TypeScript layout (CONTRACT §4): the version is the SHA-1 of the stored JSON string,
  compared with ``redis.sha1hex`` on the server; one key per script, so a cluster routes
  each to its slot. The id is then removed from the user's set.

Selection is linear: the native index is walked once (keyset pages,
:mod:`~neurolink_cli.store.walk`); the TypeScript keys are found by one SCAN of the prefix
(or the user's set), never one SCAN per id. Deletes are pipelined ``BATCH`` at a time.
``--user-id`` and ``--older-than`` judge each session (each key) on its own: a same id under
another user, or in the other layout, is never touched unless it matches too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from neurolink_cli.models import SOURCE_NATIVE, SOURCE_UPSTREAM
from neurolink_cli.store import upstreamlist
from neurolink_cli.util.timeutil import stored_to_ms

if TYPE_CHECKING:
    from neurolink_cli.store.batchread import BatchReader
    from neurolink_cli.store.native import NativeStore
    from neurolink_cli.store.upstream import UpstreamStore

BATCH = 500
KEPT = "changed since selected, kept"

# KEYS: turns, metadata of one session. ARGV: the version read at selection.
# Returns 1 deleted, 0 changed (kept), -1 already gone.
NATIVE_CAS_SCRIPT = """
local f = redis.pcall('HMGET', KEYS[2], 'updatedAt', 'nextIndex', 'totalTurns')
local n = redis.pcall('LLEN', KEYS[1])
local v = '!'  -- a key of the wrong type: the session is unreadable, and stays so
if not f.err and type(n) == 'number' then
  v = (f[1] or '') .. '|' .. (f[2] or '') .. '|' .. (f[3] or '') .. '|' .. n
end
if v ~= ARGV[1] then
  if redis.call('EXISTS', KEYS[1], KEYS[2]) == 0 then return -1 end
  return 0
end
redis.call('UNLINK', KEYS[1], KEYS[2])
return 1
"""

# KEYS: one TypeScript session key. ARGV: SHA-1 (hex) of the JSON string read at selection.
UPSTREAM_CAS_SCRIPT = """
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return -1 end
if t ~= 'string' then return 0 end
if redis.sha1hex(redis.call('GET', KEYS[1])) ~= ARGV[1] then return 0 end
redis.call('UNLINK', KEYS[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class DeleteTarget:
    """One selected session: where it is and what it looked like when selected."""

    session_id: str
    user_id: str | None
    source: str
    key: str  # native: the metadata key; TypeScript layout: the session's key
    version: bytes
    score: float | None = None  # native: the index score when selected
    user_set: str | None = None  # TypeScript layout: the user's set holding the id


@dataclass(slots=True)
class DeleteReport:
    """What a compare-and-delete run did."""

    deleted: int = 0
    gone: int = 0  # already gone when their turn came (expired, deleted by someone else)
    kept: list[DeleteTarget] = field(default_factory=list)  # changed since selected


def _b(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _s(value: Any) -> str | None:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _chunks(items: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- native ---------------------------------------------------------------------------------
def native_targets(
    store: NativeStore,
    *,
    session_ids: Iterable[str] | None = None,
    older_than_ms: int | None = None,
    user_id: str | None = None,
) -> Iterator[DeleteTarget]:
    """Native sessions that match: the given ids (else every indexed session), updated
    before ``older_than_ms`` by their own ``updatedAt``, of ``user_id``; with versions."""
    if session_ids is not None:  # one pipelined EXISTS per id, then read only those found
        found = (sid for ids in _chunks(session_ids) for sid in sorted(store.existing(ids)))
        rows: Iterable[list[tuple[str, float | None]]] = _chunks((s, None) for s in found)
    else:
        walk = store.index_walk(until_ms=older_than_ms, page=BATCH)
        rows = ([(sid, sc) for sid, sc in page] for page in walk)
    for page in rows:
        pipe = store.client.pipeline(transaction=False)
        for sid, _ in page:
            pipe.hmget(store.meta_key(sid), "updatedAt", "nextIndex", "totalTurns", "userId")
            pipe.llen(store.turns_key(sid))
            pipe.zscore(store.index_key, sid)
        replies = pipe.execute(raise_on_error=False)
        for i, (sid, _) in enumerate(page):
            fields, length, score = replies[3 * i : 3 * i + 3]
            if isinstance(score, Exception):
                raise score
            if isinstance(fields, Exception) or isinstance(length, Exception):
                if "WRONGTYPE" not in str(fields if isinstance(fields, Exception) else length):
                    raise fields if isinstance(fields, Exception) else length
                # keys of the wrong type: unreadable, but still deletable by id or as old
                if user_id is None:
                    key = store.meta_key(sid)
                    yield DeleteTarget(sid, None, SOURCE_NATIVE, key, b"!", _float(score))
                continue
            if not length and all(f is None for f in fields):
                continue  # gone (expired, deleted)
            owner = _s(fields[3])
            if user_id is not None and owner != user_id:
                continue
            if older_than_ms is not None:
                updated = stored_to_ms(_s(fields[0])) if fields[0] is not None else None
                when = updated if updated is not None else score
                if when is None or when >= older_than_ms:
                    continue
            version = b"|".join([_b(fields[0]), _b(fields[1]), _b(fields[2]), _b(length)])
            yield DeleteTarget(
                sid,
                owner,
                SOURCE_NATIVE,
                store.meta_key(sid),
                version,
                _float(score),
            )


def native_delete(store: NativeStore, targets: list[DeleteTarget], report: DeleteReport) -> None:
    """Compare-and-delete each target on the server; prune its index member if done."""

    def cas(t: DeleteTarget) -> tuple[Any, ...]:
        keys = (store.turns_key(t.session_id), store.meta_key(t.session_id))
        return ("EVAL", NATIVE_CAS_SCRIPT, 2, *keys, t.version)

    for batch, results in _cas_batches(store._reader(), targets, cas):
        prune = store.client.pipeline(transaction=False)
        for t, result in zip(batch, results, strict=True):
            _tally(report, t, int(result))
            if int(result) != 0:
                store.prune_member_in(prune, t.session_id, t.score)
        prune.execute()


# -- TypeScript layout ----------------------------------------------------------------------
def upstream_targets(
    store: UpstreamStore,
    *,
    session_ids: Iterable[str] | None = None,
    older_than_ms: int | None = None,
    user_id: str | None = None,
) -> Iterator[DeleteTarget]:
    """Session keys that match (every key on its own), found by one SCAN of the prefix
    (or the user's set); sessions without ``updatedAt`` are never "older than"."""
    wanted = None if session_ids is None else set(session_ids)
    for entry, sid, user, updated_at, stored_user in upstreamlist.selection_entries(store, user_id):
        if wanted is not None and sid not in wanted:
            continue
        if user_id is not None and user != user_id:
            continue
        if older_than_ms is not None:
            updated = stored_to_ms(updated_at)
            if updated is None or updated >= older_than_ms:
                continue
        yield DeleteTarget(
            sid,
            user,
            SOURCE_UPSTREAM,
            entry.name,
            hashlib.sha1(_b(entry.value)).hexdigest().encode(),
            user_set=store.user_set_key(stored_user) if stored_user else None,
        )


def upstream_delete(
    store: UpstreamStore, targets: list[DeleteTarget], report: DeleteReport
) -> None:
    """Compare-and-delete each key on the server, then drop the id from its user's set."""

    def cas(t: DeleteTarget) -> tuple[Any, ...]:
        return ("EVAL", UPSTREAM_CAS_SCRIPT, 1, t.key, t.version)

    for batch, results in _cas_batches(store._reader, targets, cas):
        by_set: dict[str, list[str]] = {}
        for t, result in zip(batch, results, strict=True):
            _tally(report, t, int(result))
            if int(result) == 1 and t.user_set:
                by_set.setdefault(t.user_set, []).append(t.session_id)
        if by_set:  # one SREM per user set and batch (one key each: any cluster slot)
            srem = store.client.pipeline(transaction=False)
            for set_key, members in by_set.items():
                srem.srem(set_key, *members)
            srem.execute()


def _cas_batches(
    reader: BatchReader,
    targets: list[DeleteTarget],
    command: Callable[[DeleteTarget], tuple[Any, ...]],
) -> Iterator[tuple[list[DeleteTarget], list[Any]]]:
    """Each batch of targets with the results of its compare-and-delete scripts, the next
    batch sent before these are handled (:meth:`BatchReader.run_ahead`: lean round trips on
    one server; the redis-py pipeline, with its retries, on a Cluster or after a
    connection failure). A script's error is raised."""
    batches = ((batch, [command(t) for t in batch]) for batch in _chunks(targets))
    for batch, results in reader.run_ahead(batches):
        for result in results:
            if isinstance(result, Exception):
                raise result
        yield batch, results


def _tally(report: DeleteReport, target: DeleteTarget, result: int) -> None:
    if result == 1:
        report.deleted += 1
    elif result == 0:
        report.kept.append(target)
    else:
        report.gone += 1
