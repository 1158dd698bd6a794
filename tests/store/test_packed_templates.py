"""The RESP templates that replace hiredis's packer on two hot paths give its bytes exactly,
for any session id and key prefix a store can hold (non-ASCII, ``%``, braces' neighbours),
and any first-page size: ``memory list``'s HMGET + LLEN + TTL per session
(``nativelist._packed``), the export's HGETALL + LRANGE per session, with ``stats``'s
PTTL after them (``BatchReader._pairs_packed``). The commands a Packed batch carries for redis-py's
pipeline are the same commands."""

from __future__ import annotations

from typing import Any

import hiredis
import redis
from hypothesis import given
from hypothesis import strategies as st

from neurolink_cli.store import nativelist
from neurolink_cli.store.batchread import BatchReader
from neurolink_cli.store.native import NativeStore

ids = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="{}"), min_size=1, max_size=12
)
prefixes = st.sampled_from(["neurolink", "app:v2", "p%d", "é", "a b"])


def packed(commands: list[tuple[Any, ...]]) -> bytes:
    return b"".join(map(hiredis.pack_command, commands))


@given(st.lists(ids, max_size=6), prefixes)
def test_list_template_is_the_packers(sids: list[str], prefix: str) -> None:
    store = NativeStore(redis.Redis(unix_socket_path="/nonexistent"), prefix)  # never sent
    rows = [(sid, float(i)) for i, sid in enumerate(sids)]
    batch = nativelist._packed(store, rows)
    commands = nativelist._commands(store, rows)
    assert batch.data == packed(commands)
    assert len(batch) == len(commands) == 3 * len(rows) and list(batch) == commands


@given(st.lists(st.tuples(ids, ids), max_size=6), prefixes, st.integers(1, 10**6))
def test_export_template_is_the_packers(
    pairs: list[tuple[str, str]], prefix: str, first_page: int
) -> None:
    reader = BatchReader(None, first_page)  # type: ignore[arg-type]
    keys = [(f"{prefix}:{{{m}}}:metadata", f"{prefix}:{{{t}}}:turns") for m, t in pairs]
    commands = [c for m, t in keys for c in (("HGETALL", m), ("LRANGE", t, 0, first_page - 1))]
    assert reader._pairs_packed(keys) == packed(commands)
    with_ttl = [c for m, t in keys for c in (("HGETALL", m), ("LRANGE", t, 0, first_page - 1),
                                              ("PTTL", m))]  # fmt: skip
    assert reader._pairs_packed(keys, ttl=True) == packed(with_ttl)
