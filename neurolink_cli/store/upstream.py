"""The TypeScript SDK's layout (CONTRACT §4): read, export and delete, never write.

Keys, for the conversation prefix ``C`` (default ``neurolink:conversation:``, the SDK's
``REDIS_KEY_PREFIX``) and the user-sets prefix ``U`` (default ``neurolink:user:sessions:``)::

    C{userId}:{sessionId}          STRING  JSON object: id title sessionId userId createdAt
    C session-only:{sessionId}     STRING          updatedAt messages[] [summarizedUpToMessageId
                                                   summarizedMessage lastTokenCount
                                                   lastApiTokenCount additionalMetadata]
    C{sessionId}                   STRING  v7.34: a bare JSON array of {role, content}
    U{userId}                      SET     that user's session ids

Finding sessions. Keys under ``C`` are found by SCAN (never KEYS; on a cluster every
primary is walked, see :func:`~neurolink_cli.store.keyspace.scan_iter`; a key that moves
during a resharding may be met twice) and read in batches of ``batch_size`` keys with
one pipelined round trip per batch: ``TYPE``, ``GET`` and ``TTL`` of each key (``GET`` of
a key that is not a string fails with WRONGTYPE inside the pipeline and is ignored, so
there is no second round trip). A key's type decides what it is: a SET under ``U`` is a
user set (the prefixes may overlap) and is passed over in silence; any other key that is
not a session (another type, a string that is not JSON, JSON without ``sessionId`` and
``messages``) becomes an :class:`~neurolink_cli.models.Unreadable` with ``skip=True``,
which the commands report as a warning naming the key. Nothing here raises on bad data.

Ids come from the JSON, never from the key (user and session ids may contain ``:``),
except for the v7.34 bare array, whose id is the rest of the key and which has no user.
The placeholder user ``randomUser`` is exported as ``"userId": null``.

One session by id (:meth:`UpstreamStore.get`) is found by a SCAN for keys ending in
``:{sessionId}`` plus the bare key ``C{sessionId}``, each candidate checked against the
``sessionId`` of its JSON. When two users hold sessions with the same id, ``get`` returns
the one updated last and ``delete`` removes them all (each key with its set member).

``--user-id`` reads the user's set ``U{userId}`` when it exists (SSCAN, then the keys
``C{userId}:{id}``; members whose keys have expired are passed over), else a SCAN for
``C{userId}:*`` filtered on the JSON's ``userId``.

The export document (same shape as a native one, CONTRACT §5):

- ``turns[i]`` is ``messages[i]`` with every stored field kept, in the order ``index, role,
  content, timestamp`` then the message's other fields as stored (``id``, ``tool``,
  ``args``, ``result``, ``events``, ``metadata`` ...). Roles are kept as stored
  (``tool_call``, ``tool_result``); a missing core field is ``null``.
- ``metadata`` is ``provider, model, totalTurns, toolsUsed`` (as in native; provider and
  model from the messages' own ``metadata`` when they carry it, else null; ``toolsUsed``
  the distinct ``tool`` names of the messages), then ``title, summarizedMessage`` (null
  when absent), ``"source": "neurolink-ts"``, then whichever of ``summarizedUpToMessageId,
  lastTokenCount, lastApiTokenCount, additionalMetadata`` the session has.
- Every other top-level field of the stored object (the document's own ``id``, and any
  field a later SDK adds) is kept under its own name after the six contract fields.

Deleting removes exactly the session's key and its id from ``U{userId}``; ``delete_all``
removes every session key under ``C`` and every user set under ``U`` (keys under ``C``
that are not sessions are left alone). In a cluster each key is unlinked on its own.
Sessions without any ``updatedAt`` (v7.34) are never "older than" a cutoff.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from neurolink_cli.models import SOURCE_UPSTREAM, SessionDoc, SessionSummary, Unreadable
from neurolink_cli.store import upstreamlist
from neurolink_cli.store.batchread import BatchReader
from neurolink_cli.store.keyspace import RedisClient, glob_escape, scan_iter, unlink
from neurolink_cli.store.upstreamdoc import document
from neurolink_cli.store.walk import SeenSet
from neurolink_cli.util import jsonutil
from neurolink_cli.util.timeutil import stored_to_ms

SCAN_COUNT = 5000  # keys the server looks at per SCAN call: fewer round trips


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class _Entry:
    """One key read in a batch: its name, type, value and TTL (seconds, None = no expiry)."""

    __slots__ = ("key", "kind", "value", "ttl")

    def __init__(self, key: bytes, kind: str, value: Any, ttl: Any) -> None:
        self.key = key
        self.kind = kind
        self.value = value if isinstance(value, bytes | str) else None
        self.ttl = ttl if isinstance(ttl, int) and ttl > 0 else None

    @property
    def name(self) -> str:
        """The key as text (only when one is named: a warning, a set's prefix)."""
        return _text(self.key)


class UpstreamStore:
    """Sessions written by ``@juspay/neurolink`` under one pair of key prefixes."""

    source = SOURCE_UPSTREAM

    def __init__(
        self,
        client: RedisClient,
        prefix: str = "neurolink:conversation:",
        user_prefix: str = "neurolink:user:sessions:",
        *,
        batch_size: int = 250,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.user_prefix = user_prefix
        self.batch_size = batch_size
        self._suffixes: set[bytes] | None = None
        self._reader = BatchReader(client)
        self._cluster = hasattr(client, "get_nodes")

    # -- keys -----------------------------------------------------------------------------
    def session_key(self, session_id: str, user_id: str | None = None) -> str:
        """Where the SDK keeps a session: ``C{user}:{id}``, or ``C session-only:{id}``."""
        return f"{self.prefix}{user_id or 'session-only'}:{session_id}"

    def user_set_key(self, user_id: str) -> str:
        return f"{self.user_prefix}{user_id}"

    def _is_user_set(self, entry: _Entry) -> bool:
        return entry.kind == "set" and entry.name.startswith(self.user_prefix)

    # -- reading keys in batches ----------------------------------------------------------
    def _read(self, keys: list[bytes], with_ttl: bool = True) -> list[_Entry]:
        """Each key's type, value and (``with_ttl``) TTL, in key order; keys gone are left out.

        One round trip of ``MGET`` (+ the keys' TTLs from one script call, or ``TTL`` of
        each key where scripts are refused) through the hiredis batch reader;
        only the keys MGET found no string under (gone, or another type) take the
        TYPE/GET/TTL pipeline of :meth:`_read_typed`. A cluster takes that pipeline for
        all (MGET cannot span hash slots)."""
        if self._cluster:
            return self._read_typed(keys, with_ttl)
        return self._entries_of(keys, self._reader.run(_mget_ttl(keys, with_ttl)), with_ttl)

    def _entries_of(self, keys: list[bytes], replies: list[Any], with_ttl: bool) -> list[_Entry]:
        values = replies[0]
        if isinstance(values, Exception):
            raise values
        ttls: list[Any] = [None] * len(keys)
        if with_ttl:
            ttls = replies[1]
            if not isinstance(ttls, list) or len(ttls) != len(keys):  # scripts refused
                ttls = self._reader.run([("TTL", key) for key in keys])
        if None not in values:  # the common case: every key a string
            return list(map(_Entry, keys, ["string"] * len(keys), values, ttls))
        others = [key for key, value in zip(keys, values, strict=True) if value is None]
        typed = {entry.key: entry for entry in self._read_typed(others, with_ttl)}
        entries = []
        for key, value, ttl in zip(keys, values, ttls, strict=True):
            if value is not None:
                entries.append(_Entry(key, "string", value, ttl))
            elif key in typed:
                entries.append(typed[key])
        return entries

    def _read_typed(self, keys: list[bytes], with_ttl: bool = True) -> list[_Entry]:
        """TYPE, GET and (``with_ttl``) TTL of each key in one pipelined round trip."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.type(key)
            pipe.get(key)
            if with_ttl:
                pipe.ttl(key)
        replies = pipe.execute(raise_on_error=False)
        entries = []
        step = 3 if with_ttl else 2
        for i, key in enumerate(keys):
            kind, value = replies[step * i : step * i + 2]
            ttl = replies[step * i + 2] if with_ttl else None
            if isinstance(kind, Exception):
                raise kind
            kind = _text(kind)
            if kind == "none":
                continue  # gone between SCAN and read (expired, deleted)
            if kind == "string" and isinstance(value, Exception):
                raise value
            entries.append(_Entry(key, kind, value, ttl))
        return entries

    def _key_batches(self, keys: Iterable[bytes]) -> Iterator[list[bytes]]:
        batch: list[bytes] = []
        for key in keys:
            batch.append(key if isinstance(key, bytes) else key.encode())
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _batches(self, keys: Iterable[bytes], with_ttl: bool = True) -> Iterator[list[_Entry]]:
        """The keys read in batches (:meth:`_read`), the next batch's read sent before this
        one's entries are handed out (:meth:`BatchReader.run_ahead`)."""
        return self._read_batches(self._key_batches(keys), with_ttl)

    def _read_batches(
        self, batches: Iterable[list[bytes]], with_ttl: bool = True
    ) -> Iterator[list[_Entry]]:
        if self._cluster:
            for batch in batches:
                yield self._read_typed(batch, with_ttl)
            return
        requests = ((b, _mget_ttl(b, with_ttl)) for b in batches)
        for batch, replies in self._reader.run_ahead(requests):
            yield self._entries_of(batch, replies, with_ttl)

    def _scan(self, pattern: str) -> Iterator[bytes]:
        yield from scan_iter(self.client, pattern, count=SCAN_COUNT)

    def _all_keys(self) -> Iterator[bytes]:
        return self._scan(glob_escape(self.prefix) + "*")

    def _user_keys(self, user_id: str) -> Iterator[bytes]:
        """Keys of one user's sessions: through the user's set if it exists, else by SCAN."""
        set_key = self.user_set_key(user_id)
        if _text(self.client.type(set_key)) == "set":
            for member in self.client.sscan_iter(set_key, count=1000):
                yield self.session_key(_text(member), user_id).encode()
        else:
            yield from self._scan(glob_escape(f"{self.prefix}{user_id}:") + "*")

    def _entries(self, user_id: str | None, with_ttl: bool = True) -> Iterator[_Entry]:
        """Each key under the prefix (or of ``user_id``) once: SCAN and SSCAN may return a
        key twice (a rehash, a resharding), so keys already met are passed over."""
        for batch in self._entry_batches(user_id, with_ttl):
            yield from batch

    def _entry_batches(self, user_id: str | None, with_ttl: bool = True) -> Iterator[list[_Entry]]:
        return self._read_batches(self.key_pages(user_id), with_ttl)

    # -- parsing --------------------------------------------------------------------------
    def _session_data(self, entry: _Entry) -> dict[str, Any] | Unreadable | None:
        """The stored session object (a v7.34 array made into one), or why it is not one."""
        if self._is_user_set(entry):
            return None
        if entry.kind != "string":
            return _not_session(entry, f"a {entry.kind}, not a session (a JSON string)")
        try:
            data = jsonutil.loads(entry.value or b"")
        except orjson.JSONDecodeError:
            return _not_session(entry, "not JSON")
        if isinstance(data, list):
            return self._bare_array(entry, data)
        if not isinstance(data, dict):
            return _not_session(entry, "JSON but not a session object")
        if "sessionId" not in data or "messages" not in data:
            missing = [f for f in ("sessionId", "messages") if f not in data]
            return _not_session(entry, f"JSON without {' and '.join(missing)}")
        if not isinstance(data["sessionId"], str) or not data["sessionId"]:
            return _not_session(entry, "sessionId is not a non-empty string")
        messages = data["messages"]
        if not isinstance(messages, list):
            return _not_session(entry, "messages is not a JSON array")
        if not set(map(type, messages)) <= {dict}:  # one C-level pass in the common case
            i = next(i for i, m in enumerate(messages) if not isinstance(m, dict))
            reason = f"key {entry.name}: message #{i} is not a JSON object"
            return Unreadable(data["sessionId"], reason, entry.name)
        return data

    def _bare_array(self, entry: _Entry, messages: list[Any]) -> dict[str, Any] | Unreadable:
        """A v7.34 session: the id is the rest of the key, there is no user or timestamp."""
        if not entry.name.startswith(self.prefix) or len(entry.name) == len(self.prefix):
            return _not_session(entry, "a JSON array outside the session prefix")
        if any(not isinstance(m, dict) or "role" not in m for m in messages):
            return _not_session(entry, "a JSON array, but not of {role, content} messages")
        return {"sessionId": entry.name[len(self.prefix) :], "userId": None, "messages": messages}

    def _docs(
        self, user_id: str | None, with_ttl: bool = True, counting: bool = False
    ) -> Iterator[SessionDoc | Unreadable]:
        for batch in self._entry_batches(user_id, with_ttl):  # one generator, not three
            yield from self._batch_docs(batch, user_id, counting)

    def _batch_docs(
        self, batch: list[_Entry], user_id: str | None, counting: bool = False
    ) -> Iterator[SessionDoc | Unreadable]:
        session_data = self._session_data
        for entry in batch:
            data = session_data(entry)
            if data is None:
                continue
            if isinstance(data, Unreadable):
                yield data
                continue
            doc = document(data, entry.ttl, counting)
            if user_id is not None and doc.user_id != user_id:
                continue
            yield doc

    def can_share_pages(self) -> bool:
        """True when another process may read batches of keys on its own connection (a
        plain client; not a Cluster client)."""
        return not self._cluster and self._reader._lean

    def key_pages(self, user_id: str | None = None) -> Iterator[list[bytes]]:
        """The session keys (of ``user_id`` when given) in batches, each key once: the
        pages :meth:`read_pages` reads (another process may read some of them)."""
        keys = self._all_keys() if user_id is None else self._user_keys(user_id)
        seen = SeenSet()
        for page in self._key_batches(keys):
            fresh = [key for key, new in zip(page, seen.add_many(page), strict=True) if new]
            if fresh:
                yield fresh

    def read_pages(
        self, pages: Iterator[list[bytes]], user_id: str | None = None
    ) -> Iterator[tuple[list[bytes], Iterator[SessionDoc | Unreadable]]]:
        """Each page of keys with its sessions (no TTL read), the next page's read sent
        before these are handed out. The sessions are built one by one as they are taken
        (a page of documents held at once cost about 1.6 times the CPU: allocation, garbage
        collection): take them all before asking for the next page."""
        for batch in self._read_batches(pages, with_ttl=False):
            yield [e.key for e in batch], self._batch_docs(batch, user_id)

    def read_entries(self, pages: Iterator[list[bytes]]) -> Iterator[tuple[None, list[_Entry]]]:
        """Each page of keys read (type, value, TTL of each key; keys gone left out), the
        next page's read sent before these are handed out: for a reader that decodes the
        values its own way (``memory stats``, ``memory list``), with :meth:`entry_docs` for the others."""
        for batch in self._read_batches(pages):
            yield None, batch

    def entry_docs(
        self, entries: list[_Entry], counting: bool = False
    ) -> Iterator[SessionDoc | Unreadable]:
        """The sessions of these entries, as :meth:`iter_docs` gives them."""
        return self._batch_docs(entries, None, counting)

    # -- the UpstreamSource interface -----------------------------------------------------
    def get(self, session_id: str) -> SessionDoc | Unreadable | None:
        """The session with this id (the one updated last if several users have one)."""
        found = list(self._find(session_id))
        docs = [document(d, e.ttl) for e, d in found if isinstance(d, dict)]
        if docs:
            return max(docs, key=lambda d: stored_to_ms(d.updated_at) or 0)
        bad = [d for _, d in found if isinstance(d, Unreadable)]
        return bad[0] if bad else None

    def summaries(
        self,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        user_id: str | None = None,
        share: bool = False,
    ) -> Iterator[SessionSummary | Unreadable]:
        """One row per session (in SCAN order), filtered by last update; Unreadable rows
        for keys under the prefix that are not sessions (see
        :mod:`~neurolink_cli.store.upstreamlist`: a row needs a few fields only).
        ``share``: read by two processes when they can (for the CLI, never a library)."""
        return upstreamlist.summaries(
            self, since_ms=since_ms, until_ms=until_ms, user_id=user_id, share=share
        )

    def iter_docs(
        self, *, user_id: str | None = None, with_ttl: bool = True, counting: bool = False
    ) -> Iterator[SessionDoc | Unreadable]:
        """Every session under the prefix (only ``user_id``'s, when given), in batches.

        ``with_ttl=False`` leaves ``ttl`` unread (None); ``counting=True`` gives documents
        whose ``turns`` are the stored messages themselves, without ``index`` and in their
        stored field order: enough to count (``memory stats``), never to export."""
        yield from self._docs(user_id, with_ttl, counting)

    def session_entries(
        self, user_id: str | None = None
    ) -> Iterator[tuple[_Entry, SessionDoc, str | None]]:
        """Each session key once (of ``user_id`` when given): the key, its document (turns
        as stored: fit for selecting, not exporting) and the ``userId`` as stored
        (``randomUser`` included), for selecting what to delete."""
        for entry in self._entries(user_id, with_ttl=False):
            data = self._session_data(entry)
            if isinstance(data, dict):
                stored = data.get("userId")
                stored_user = stored if isinstance(stored, str) and stored else None
                yield entry, document(data, entry.ttl, counting=True), stored_user

    def delete(self, session_id: str) -> bool:
        """Remove every session key with this id and its member of that user's set."""
        removed = False
        for entry, data in self._find(session_id):
            if not isinstance(data, dict):
                continue  # a key that is not a session is never deleted
            pipe = self.client.pipeline(transaction=False)
            pipe.unlink(entry.key)
            user = data.get("userId")
            if isinstance(user, str) and user:
                pipe.srem(self.user_set_key(user), session_id)
            removed = bool(pipe.execute()[0]) or removed
        return removed

    def delete_all(self) -> int:
        """Remove every session key under the prefix and every user set; the sessions count."""
        sessions = 0
        for batch in self._batches(self._all_keys(), with_ttl=False):
            doomed = []
            for entry in batch:
                if self._is_user_set(entry):
                    doomed.append(entry.key)
                elif isinstance(self._session_data(entry), dict):  # a session: no document
                    doomed.append(entry.key)
                    sessions += 1
            if doomed:
                unlink(self.client, doomed)
        sets = self._scan(glob_escape(self.user_prefix) + "*")
        for batch in self._batches(sets, with_ttl=False):
            doomed = [e.key for e in batch if e.kind == "set"]
            if doomed:
                unlink(self.client, doomed)
        return sessions

    # -- which ids exist (for import) ------------------------------------------------------
    @staticmethod
    def digest(session_id: str | bytes) -> bytes:
        """An 8-byte digest of an id (or a key's suffix), for :meth:`id_suffix_digests`."""
        data = (
            session_id
            if isinstance(session_id, bytes)
            else session_id.encode("utf-8", "surrogatepass")
        )
        return hashlib.blake2b(data, digest_size=8).digest()

    def id_suffix_digests(self) -> set[bytes]:
        """Digests of every possible id of every key under the prefix (each suffix after a
        ``:``), from one SCAN made once: an id whose digest is absent has no key here."""
        if self._suffixes is None:
            start = len(self.prefix.encode("utf-8"))
            found: set[bytes] = set()
            for key in self._all_keys():
                rest = key[start:] if isinstance(key, bytes) else key.encode()[start:]
                found.add(self.digest(rest))
                at = rest.find(b":")
                while at != -1:
                    found.add(self.digest(rest[at + 1 :]))
                    at = rest.find(b":", at + 1)
            self._suffixes = found
        return self._suffixes

    # -- finding one id -------------------------------------------------------------------
    def _find(self, session_id: str) -> Iterator[tuple[_Entry, dict[str, Any] | Unreadable]]:
        """Every key holding the session ``session_id``: a SCAN for ``C*:{id}`` (users and
        session-only) and the v7.34 key ``C{id}``, each checked against its JSON."""
        bare = f"{self.prefix}{session_id}".encode()
        pattern = glob_escape(self.prefix) + "*" + glob_escape(f":{session_id}")
        keys = dict.fromkeys([bare, *self._scan(pattern)])
        for batch in self._batches(keys):
            for entry in batch:
                data = self._session_data(entry)
                if isinstance(data, dict) and data["sessionId"] == session_id:
                    yield entry, data
                elif isinstance(data, Unreadable) and not data.skip:
                    if data.session_id == session_id:  # a session with a broken message
                        yield entry, data
                elif isinstance(data, Unreadable) and entry.key == bare:
                    yield entry, Unreadable(session_id, f"key {entry.name}: {data.reason}")


# The TTL of each of KEYS, as one array: one reply to parse instead of one per key.
TTLS_SCRIPT = "local r = {} for i, k in ipairs(KEYS) do r[i] = redis.call('TTL', k) end return r"


def _mget_ttl(keys: list[bytes], with_ttl: bool) -> list[tuple[Any, ...]]:
    """``MGET`` of the keys, then (``with_ttl``) their TTLs by :data:`TTLS_SCRIPT`."""
    commands: list[tuple[Any, ...]] = [("MGET", *keys)]
    if with_ttl:
        commands.append(("EVAL", TTLS_SCRIPT, len(keys), *keys))
    return commands


def _not_session(entry: _Entry, reason: str) -> Unreadable:
    return Unreadable(entry.name, reason, key=entry.name, skip=True)
