"""A bad Redis URL, port or db is bad input: exit 2 and one line, never "unexpected error".

Examples for each class (port not a number or out of range, db not a number or out of
range, unknown scheme or option, no host, a password with a raw ``/``), then hypothesis
fuzzing ``--redis-url`` and ``REDIS_PORT``/``REDIS_DB``. Every URL the fuzzer builds points at
the suite's private server or at nothing that can be reached without a DNS lookup: no test
touches another Redis or the network.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from support.redis_server import RedisServer

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _one_line(result) -> None:
    assert result.exit_code in (0, 2, 4), (result.exit_code, result.stderr)
    assert "unexpected error" not in result.stderr and "Traceback" not in result.stderr
    if result.exit_code:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("neurolink: error:")


@pytest.mark.parametrize(
    "template",
    [
        "redis://{host}:abc/0",
        "redis://{host}:99999",
        "redis://{host}:0",
        "redis://{host}:-1",
        "redis://{host}:{port}/abc",
        "redis://{host}:{port}/-1",
        "redis://{host}:{port}/99999",
        "redis://{host}:{port}/16",
        "redis://{host}:{port}/0?db=x",
        "redis://{host}:{port}/0?socket_timeout=soon",
        "redis://{host}:{port}/0?nosuchoption=1",
        "redis://",
        "redis://:{port}",
        "redis://:pw@",
        "redis://[::1",
        "http://{host}:{port}",
        "{host}:{port}",
        "unix://",
        "redis://:S3cret/PWtail@{host}:{port}",
        " ",
    ],
)
def test_bad_url_is_exit_2_and_one_line(cli, redis_server: RedisServer, template: str) -> None:
    url = template.format(host="127.0.0.1", port=redis_server.port)
    result = cli("--redis-url", url, "memory", "list")
    assert result.exit_code == 2, result.stderr
    _one_line(result)


@pytest.mark.parametrize(
    ("name", "value"),
    [("REDIS_PORT", "abc"), ("REDIS_PORT", "0"), ("REDIS_PORT", "70000"), ("REDIS_PORT", "-3")]
    + [("REDIS_DB", "x"), ("REDIS_DB", "-1"), ("REDIS_DB", "16"), ("REDIS_DB", "9" * 30)],
)
def test_bad_port_or_db_in_the_environment(
    cli, redis_server: RedisServer, name: str, value: str
) -> None:
    env = {"REDIS_URL": "", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port)}
    result = cli("memory", "list", env={**env, name: value})
    assert result.exit_code == 2, result.stderr
    _one_line(result)


wild = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
ascii_bits = st.text("abc019:/@?#%&=[]. -+", max_size=10)


@st.composite
def urls(draw: st.DrawFn, port: int) -> str:
    # Mostly well-formed around one broken part, so every stage of the checks is reached.
    scheme = draw(
        st.sampled_from(["redis://"] * 6 + ["rediss://", "unix://", "http://", "", "redis:/"])
    )
    userinfo = draw(
        st.sampled_from(["", "", ":pw@", "u:p@ss@", ":a/b@"]) | ascii_bits.map(lambda t: t + "@")
    )
    host = draw(st.sampled_from(["127.0.0.1"] * 6 + ["", "[::1", "127.0.0.1:"]))
    port_part = draw(
        st.sampled_from([f":{port}"] * 8 + ["", ":", ":0", ":65536", ":x1"])
        | ascii_bits.map(":".__add__)
    )
    path = draw(
        st.sampled_from(["", "/", "/0", "/15", "/16", "/x", "/-1"]) | ascii_bits.map("/".__add__)
    )
    query = draw(
        st.sampled_from(["", "?db=1", "?db=z", "?socket_timeout=x", "?zz=1"])
        | wild.map("?".__add__)
    )
    return scheme + userinfo + host + port_part + path + query


def _reachable_elsewhere(url: str, port: int) -> bool:
    """True when the URL could reach a server other than the private one (never try it)."""
    if url.startswith("unix://"):
        return True  # a socket path that exists could be anybody's
    try:
        parts = urlsplit(url)
        other_port = parts.port not in (None, port)
        other_host = parts.hostname not in (None, "", "127.0.0.1")
    except ValueError:
        return False
    return (other_port or other_host or parts.port is None) and url.startswith("redis")


@FUZZ
@given(data=st.data())
def test_fuzzed_redis_url(cli, redis_server: RedisServer, data: st.DataObject) -> None:
    url = data.draw(urls(redis_server.port) | wild)
    assume(not _reachable_elsewhere(url, redis_server.port))
    assume(not url.startswith("rediss://"))  # TLS to a plain server: slow timeouts only
    result = cli("--redis-url", url, "memory", "list")
    event(f"exit {result.exit_code}")
    _one_line(result)


@FUZZ
@given(port=wild | st.integers(-5, 100000).map(str), db=wild | st.integers(-5, 40).map(str))
def test_fuzzed_port_and_db(cli, redis_server: RedisServer, port: str, db: str) -> None:
    assume("\x00" not in port + db)  # no environment can hold a NUL
    text = port.strip()
    if not port or (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
        port = str(redis_server.port)  # never knock on another server's port (unset: 6379)
    env = {"REDIS_URL": "", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": port, "REDIS_DB": db}
    result = cli("memory", "list", env=env)
    event(f"exit {result.exit_code}")
    _one_line(result)
