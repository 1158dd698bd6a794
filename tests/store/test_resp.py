"""The one raw-RESP helper (``--version`` and the embedded store's supervisor use it)."""

from __future__ import annotations

import io
import socket

import pytest
from support.redis_server import RedisServer

from neurolink_cli.store.resp import ReplyError, call, encode, read_reply


def test_encode_is_a_resp_array_of_bulk_strings() -> None:
    assert encode("SET", "k", "é") == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\xc3\xa9\r\n"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"+OK\r\n", "OK"),
        (b":42\r\n", 42),
        (b"$-1\r\n", None),
        (b"$5\r\nhe\r\no\r\n", "he\r\no"),
        (b"*2\r\n$1\r\na\r\n:1\r\n", ["a", 1]),
    ],
)
def test_read_reply_decodes_every_kind(raw: bytes, value: object) -> None:
    assert read_reply(io.BytesIO(raw)) == value


def test_error_reply_and_truncated_stream() -> None:
    with pytest.raises(ReplyError, match="WRONGPASS"):
        read_reply(io.BytesIO(b"-WRONGPASS invalid username-password pair\r\n"))
    for raw in (b"", b"$10\r\nshort\r\n", b"+OK", b"?what\r\n", b":x\r\n"):
        with pytest.raises(ConnectionError):
            read_reply(io.BytesIO(raw))


def test_call_against_a_real_server(redis_server: RedisServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        sock.connect(redis_server.socket_path)
        assert call(sock, ("PING",), ("ECHO", "x")) == ["PONG", "x"]
        with pytest.raises(ReplyError):
            call(sock, ("NOSUCHCOMMAND",))
