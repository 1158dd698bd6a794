"""The native layout on ``redis.asyncio`` — what ``AsyncNeuroLink`` needs to chat truly async.

Only the chat's two operations are here: append a turn (the very script the sync store runs,
:data:`~neurolink_cli.store.scripts.APPEND_SCRIPT`, with the same arguments,
:func:`~neurolink_cli.store.native.append_args`; so indexes stay unique and contiguous with
any number of writers, sync or async) and read one session (HGETALL + LRANGE in one round
trip, decoded by :func:`~neurolink_cli.store.nativedoc.session_doc`). Listing, export,
import and delete stay on the sync store (the SDK runs them in a worker thread) rather than
being written a second time. A Redis Cluster is recognised on connect as by
:func:`~neurolink_cli.store.connection.make_client`.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from neurolink_cli.config import Settings, mask_url
from neurolink_cli.errors import BadInput
from neurolink_cli.models import SessionDoc
from neurolink_cli.store.connection import RETRIES, check_url, client_options, redis_errors
from neurolink_cli.store.nativedoc import append_args, session_doc
from neurolink_cli.store.scripts import APPEND_SCRIPT
from neurolink_cli.util.timeutil import now_ms, stored_to_ms


async def make_async_client(settings: Settings, url: str) -> Any:
    """A connected ``redis.asyncio`` client: ``Redis``, or ``RedisCluster`` for a cluster."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import NoPermissionError, ResponseError

    check_url(url)
    opts = client_options(settings, url)
    opts["retry"] = Retry(ExponentialBackoff(cap=2.0, base=0.2), RETRIES)
    client: Any = Redis.from_url(url, **opts)
    with redis_errors(url):
        try:
            info = await client.info("cluster")
            enabled = str(info.get("cluster_enabled", "0")) == "1"
        except (NoPermissionError, ResponseError) as exc:
            if "NOPERM" not in str(exc) and not isinstance(exc, NoPermissionError):
                raise
            await client.ping()
            enabled = False
        if enabled:
            from redis.asyncio.cluster import RedisCluster

            await client.aclose()
            if url.startswith("unix:"):
                raise BadInput(
                    f"{mask_url(url)} is a Redis Cluster node: a cluster is reached over TCP"
                )
            cluster_opts = {k: v for k, v in opts.items() if k != "health_check_interval"}
            client = RedisCluster.from_url(url, **cluster_opts)
            await client.initialize()
    return client


class AsyncNativeStore:
    """Appends turns to, and reads, sessions of the native layout with an async client."""

    def __init__(self, client: Any, prefix: str, *, max_turns: int = 100, ttl: int = 0) -> None:
        self.client = client
        self.prefix = prefix
        self.max_turns = max_turns
        self.ttl = ttl
        self.index_key = f"{prefix}:sessions"
        self.writer_id = uuid.uuid4().hex[:16]
        self._write_seq = itertools.count(1)
        self._append = client.register_script(APPEND_SCRIPT)

    def turns_key(self, session_id: str) -> str:
        return f"{self.prefix}:session:{{{session_id}}}:turns"

    def meta_key(self, session_id: str) -> str:
        return f"{self.prefix}:session:{{{session_id}}}:metadata"

    async def append_turn(
        self, session_id: str, turn: dict[str, Any], *, user_id: str | None = None
    ) -> int:
        """Store one turn and its metadata update atomically (one script); its index."""
        args = append_args(self, session_id, turn, user_id, (), next(self._write_seq))
        keys = [self.turns_key(session_id), self.meta_key(session_id)]
        index = await self._append(keys=keys, args=args)
        score = stored_to_ms(str(turn["timestamp"])) or now_ms()
        await self.client.zadd(self.index_key, {session_id: score}, gt=True)
        return int(index)

    async def get(self, session_id: str) -> SessionDoc | None:
        """The session's document, or None when neither of its keys exists.

        Keys of the wrong type raise redis' ResponseError (the sync store reports those).
        """
        mkey, tkey = self.meta_key(session_id), self.turns_key(session_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(mkey)
        pipe.lrange(tkey, 0, -1)
        meta, raw_turns = await pipe.execute()
        if not meta and not raw_turns:
            return None
        return session_doc(session_id, mkey, meta, list(raw_turns))
