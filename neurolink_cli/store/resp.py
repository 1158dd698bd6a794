"""A tiny RESP2 client for the places that must not import redis-py (about 120 ms).

``neurolink --version`` (which must stay fast) and the embedded store's supervisor (which
PINGs a unix socket on every command) speak to Redis through these few functions: encode
one command, read one reply off a buffered binary stream (``socket.makefile("rb")``).
Everything else goes through redis-py and the repository.
"""

from __future__ import annotations

import socket
from typing import IO, Any


class ReplyError(Exception):
    """An error reply (``-ERR ...``, ``-WRONGPASS ...``) from the server."""


def encode(*args: str) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def read_reply(stream: IO[bytes]) -> Any:
    """One reply: str, int, None, a list, or ReplyError raised for an error reply.

    ConnectionError (an OSError) when the server closes the connection or sends something
    that is not RESP; a socket timeout surfaces as TimeoutError.
    """
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed")
    kind, body = line[:1], line[1:-2]
    try:
        if kind == b"+":
            return body.decode("utf-8", "replace")
        if kind == b"-":
            raise ReplyError(body.decode("utf-8", "replace"))
        if kind == b":":
            return int(body)
        if kind == b"$":
            size = int(body)
            if size < 0:
                return None
            data = stream.read(size + 2)
            if len(data) != size + 2:
                raise ConnectionError("connection closed")
            return data[:-2].decode("utf-8", "replace")
        if kind == b"*":
            return [read_reply(stream) for _ in range(max(int(body), 0))]
    except ValueError:
        pass
    raise ConnectionError(f"unexpected reply {line[:40]!r}")


def call(sock: socket.socket, *commands: tuple[str, ...]) -> list[Any]:
    """Send ``commands`` in one write and read their replies (ReplyError on the first error)."""
    sock.sendall(b"".join(encode(*c) for c in commands))
    with sock.makefile("rb") as stream:
        return [read_reply(stream) for _ in commands]
