"""The raw replies of a pipelined batch, straight from redis-py's hiredis reader.

:func:`read_replies` is how :mod:`~neurolink_cli.store.batchread` reads a batch's replies
back off a redis-py connection without redis-py's per-reply layers.
"""

from __future__ import annotations

from typing import Any


def read_replies(conn: Any, count: int) -> list[Any]:
    """The next ``count`` raw replies on redis-py connection ``conn``, an error reply
    (e.g. WRONGTYPE) as its exception in its place.

    With redis-py's hiredis parser the replies are taken straight from its hiredis reader,
    which is refilled from the socket by the parser itself (timeouts and a closed
    connection raise as in redis-py): a fifth of the CPU of ``read_response`` per reply,
    whose layers (locks, health checks, push handling) are there for commands one by one.
    Any other parser goes through ``read_response``; a push message (RESP3) or a
    protocol error raises, and the caller hands the batch to the redis-py pipeline."""
    from redis.exceptions import ResponseError

    parser = getattr(conn, "_parser", None)
    reader = getattr(parser, "_reader", None)
    refill = getattr(parser, "read_from_socket", None)
    replies: list[Any] = []
    if reader is not None and refill is not None and isinstance(parser, _HIREDIS_PARSER):
        gets, append, missing = reader.gets, replies.append, _NOT_ENOUGH_DATA
        while len(replies) < count:
            reply = gets(False)
            if reply is missing:
                refill()
                continue
            if isinstance(reply, _PUSH) or (
                isinstance(reply, Exception) and not isinstance(reply, ResponseError)
            ):  # a push message, or a ConnectionError the reader made: redis-py's way
                raise _Unusual(type(reply).__name__)
            append(reply)
        return replies
    read = conn.read_response
    for _ in range(count):
        try:
            replies.append(read(disable_decoding=True))
        except ResponseError as exc:  # the reply was read whole: the stream is in step
            replies.append(exc)
    return replies


class _Unusual(Exception):
    """A reply the lean reader leaves to redis-py: the batch goes through the pipeline."""


class _NoParser:
    """Stands for a class that this redis-py/hiredis does not have (nothing is one)."""


try:
    import hiredis as _hiredis
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as _NOT_ENOUGH_DATA
    from redis._parsers.hiredis import _HiredisParser as _HIREDIS_PARSER

    _PUSH: type = getattr(_hiredis, "PushNotification", _NoParser)
except ImportError:  # pragma: no cover - redis-py without hiredis (or another version)
    _HIREDIS_PARSER = _NoParser  # type: ignore[assignment,misc]
    _NOT_ENOUGH_DATA = object()
    _PUSH = _NoParser
