"""Helpers of the archive tests: both layouts under a fresh prefix, archives read back."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path
from typing import Any

import orjson

from neurolink_cli.models import make_turn
from neurolink_cli.store.native import NativeStore
from neurolink_cli.store.repository import Repository
from neurolink_cli.store.upstream import UpstreamStore
from neurolink_cli.util.timeutil import ms_to_rfc3339, now_ms

DAY_MS = 86_400_000


class Both:
    """A repository over both layouts under a fresh prefix, and writers for each."""

    def __init__(self, client: Any) -> None:
        p = f"a{uuid.uuid4().hex[:8]}"
        self.client = client
        self.prefix = p
        self.native = NativeStore(client, p)
        self.c, self.u = f"{p}:conversation:", f"{p}:user:sessions:"
        self.up = UpstreamStore(client, self.c, self.u)
        self.repo = Repository(self.native, self.up)

    def native_session(self, sid: str, user: str = "u1", age_ms: int = 0, turns: int = 2) -> None:
        for i in range(turns):
            when = ms_to_rfc3339(now_ms() - age_ms + i)
            self.native.append_turn(sid, make_turn("user", f"{sid} turn {i}", when), user_id=user)

    def ts_session(self, sid: str, user: str = "u1", age_ms: int = 0) -> str:
        when = ms_to_rfc3339(now_ms() - age_ms)
        doc = {
            "id": f"doc-{sid}",
            "sessionId": sid,
            "userId": user,
            "createdAt": when,
            "updatedAt": when,
            "messages": [{"id": "m1", "role": "user", "content": f"{sid} hi", "timestamp": when}],
        }
        key = f"{self.c}{user}:{sid}"
        self.client.set(key, orjson.dumps(doc))
        self.client.sadd(f"{self.u}{user}", sid)
        return key

    def present(self) -> set[tuple[str, str]]:
        """(source, id) of every session left."""
        return {(r.source, r.session_id) for r in self.repo.list(limit=0)}

    def contents(self) -> set[str]:
        """Every turn's content left in Redis."""
        found = set()
        for doc in self.repo.iter_docs():
            found |= {t["content"] for t in doc.turns}  # type: ignore[union-attr]
        return found


def archived_docs(root: Path) -> list[dict[str, Any]]:
    """Every session document in every run folder under ``root``."""
    docs = []
    for path in sorted(root.glob("*/*.json*")):
        if path.name == "manifest.json":
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        docs += (
            [orjson.loads(line) for line in data.splitlines() if line.strip()]
            if (".jsonl" in path.name)
            else [orjson.loads(data)]
        )
    return docs


def manifests(root: Path) -> list[dict[str, Any]]:
    return [orjson.loads(p.read_bytes()) for p in sorted(root.glob("*/manifest.json"))]
