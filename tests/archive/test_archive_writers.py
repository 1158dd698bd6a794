"""Issue 17's invariant, with writers appending during the run: every turn ever written is
afterwards in Redis or in the archive (or both), never in neither. Both layouts, one Redis
and a Cluster; the writers append to sessions the archive is reading and deleting."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.archive_helpers import Both, archived_docs, manifests

from neurolink_cli.archive.run import ArchiveRequest, archive
from neurolink_cli.models import make_turn
from neurolink_cli.util.timeutil import now_rfc3339

N_NATIVE, N_TS = 400, 60


def _ts_append(both: Both, sid: str, content: str) -> None:
    """What the TypeScript SDK does: read the blob, add a message, write it back."""
    key = f"{both.c}u1:{sid}"
    raw = both.client.get(key)
    doc: dict[str, Any] = orjson.loads(raw) if raw else {
        "id": f"doc-{sid}", "sessionId": sid, "userId": "u1", "createdAt": now_rfc3339(),
        "messages": [],
    }  # fmt: skip
    doc["messages"].append({"id": content, "role": "user", "content": content})
    doc["updatedAt"] = now_rfc3339()
    both.client.set(key, orjson.dumps(doc))
    both.client.sadd(f"{both.u}u1", sid)


@pytest.mark.slow
def test_every_turn_is_in_redis_or_in_the_archive(both: Both, tmp_path: Path) -> None:
    written: set[str] = set()
    for i in range(N_NATIVE):
        both.native_session(f"n{i}", turns=1)
        written.add(f"n{i} turn 0")
    for i in range(N_TS):
        both.ts_session(f"t{i}")
        written.add(f"t{i} hi")
    stop = threading.Event()
    lock = threading.Lock()

    def writer(seed: int) -> None:
        rnd = random.Random(seed)
        k = 0
        while not stop.is_set():
            k += 1
            content = f"w{seed}-{k}"
            if rnd.random() < 0.8:
                sid = f"n{rnd.randrange(N_NATIVE)}"
                turn = make_turn("user", content, now_rfc3339())
                both.native.append_turn(sid, turn, user_id="u1")
            else:
                # one writer per TypeScript key (a read-modify-write is not safe against
                # another writer of the same key, with or without an archive)
                sid = f"t{rnd.randrange(seed, N_TS, 3)}"
                _ts_append(both, sid, content)
            with lock:
                written.add(content)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    try:
        first = archive(both.repo, ArchiveRequest(to=str(tmp_path), everything=True, batch=25))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert first.deleted > 0
    print("kept while writers ran:", len(first.kept))
    in_archive = {t["content"] for d in archived_docs(tmp_path) for t in d["turns"]}
    assert written <= in_archive | both.contents()
    # and the next runs take what was kept, in its new state
    for _ in range(3):
        archive(both.repo, ArchiveRequest(to=str(tmp_path), everything=True))
    assert both.present() == set()
    assert written <= {t["content"] for d in archived_docs(tmp_path) for t in d["turns"]}
    assert all(m["complete"] for m in manifests(tmp_path))
