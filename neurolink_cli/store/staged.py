"""A big imported session written page by page, yet whole or not at all for every reader.

The turns go to a staging list beside the session's keys (``NativeStore.staging_key``:
``P:session:{ID}:importing:<writer>``, the same hash tag, so the same Cluster slot; no
reader takes it for a session key), one page per call of ``STAGE_SCRIPT``, each page
serialised just before it is sent; ``FINISH_SCRIPT`` then renames the list to the turns key
and writes the metadata in one step, refusing when creating and either key exists (another
writer created the session meanwhile: it is left untouched). So the client holds one page
of turns, not the session. Both scripts are safe to run again after a lost reply (see
:mod:`neurolink_cli.store.scripts`). A failure on the way leaves the session as it was; the
staging list is deleted, or, when Redis went away, expires on its own (:data:`STAGE_TTL`
after its last page).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from neurolink_cli.models import SessionDoc
from neurolink_cli.store.nativedoc import TurnPages, session_fields
from neurolink_cli.util import jsonutil

if TYPE_CHECKING:
    from neurolink_cli.store.native import NativeStore

STAGE_TTL = 3600  # seconds a staging list outlives its last page


def write_staged(store: NativeStore, doc: SessionDoc, pages: TurnPages, *, replace: bool) -> bool:
    """Write ``doc`` with the turns of ``pages``; False when creating and the session exists."""
    from redis.exceptions import ConnectionError as RConnectionError
    from redis.exceptions import ResponseError
    from redis.exceptions import TimeoutError as RTimeoutError

    client = store.client
    tkey, mkey = store.turns_key(doc.session_id), store.meta_key(doc.session_id)
    if not replace and client.exists(tkey, mkey):
        return False  # do not send the turns of a session that would be refused
    stage = store.staging_key(doc.session_id)
    done = 0
    try:
        for page in pages.pages():
            rows = [jsonutil.dumps(t) for t in page]
            del page
            length = int(store._stage(keys=[stage], args=[done, STAGE_TTL, *rows]))
            if length != done + len(rows):
                raise ResponseError(f"the staging list {stage} changed during the import")
            done = length
        if done != pages.count:
            raise ResponseError(f"{done} turns staged, {pages.count} expected")
        meta = session_fields(doc, pages)
        pairs = [part for item in meta.items() for part in item]
        args = ["1" if replace else "0", store.ttl, done, *pairs]
        written = int(store._finish(keys=[stage, tkey, mkey], args=args))
        if written < 0:
            raise ResponseError(f"the staging list {stage} expired during the import")
    except BaseException as exc:
        if not isinstance(exc, RConnectionError | RTimeoutError):
            with contextlib.suppress(Exception):
                client.delete(stage)
        raise
    with contextlib.suppress(Exception):
        client.delete(stage)  # the marker a retried FINISH_SCRIPT would find
    return bool(written)
