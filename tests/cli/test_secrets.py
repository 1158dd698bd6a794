"""No password in any output (CONTRACT §1), whatever the URL looks like.

A corpus of URL shapes (raw passwords with ``/ # ? @ :``, percent-encoded ones, user and
password, ``rediss://``, ``unix://...?password=``, REDIS_PASSWORD) is run through every
place that shows a URL or an error: ``memory list`` (bad-URL errors, redis-py's connection
and authentication errors), ``--debug`` tracebacks, ``--version``, ``memory server status``
and the loop's history file. A hypothesis property does the same for random passwords over
the risky alphabet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.redis_server import RedisServer

from neurolink_cli.export.redact import redact_secrets
from neurolink_cli.util.secrets import mask_url, mask_urls_in, scrub, url_secrets

PASSWORDS = [
    "S3cret/PWtail",
    "p@ssw0rd",
    "pa:ss:word99",
    "hash#tag99",
    "que?ry=1&x=2",
    "per%2Fcent%",
    "all/#?@:mixZZ",
    "plainSecret42",
]


def url_shapes(password: str, server: RedisServer) -> list[tuple[str, dict[str, str]]]:
    """(REDIS_URL, extra environment) pairs that all carry ``password``."""
    host = f"127.0.0.1:{server.port}"
    enc = quote(password, safe="")
    return [
        (f"redis://:{password}@{host}/0", {}),
        (f"redis://bob:{password}@{host}", {}),
        (f"redis://:{enc}@{host}/0", {}),
        (f"redis://bob:{enc}@{host}/0", {}),
        (f"rediss://:{enc}@{host}", {}),
        (f"unix://{server.socket_path}?password={enc}", {}),
        (f"redis://{host}/0", {"REDIS_PASSWORD": password}),
        (f"redis://:{password}@{host}:notaport/0", {}),
        (f"redis://:{password}@{host}/99999", {}),
        (f"redis://:{password}@/0", {}),
    ]


def _leaks(password: str, text: str) -> list[str]:
    """The spellings of ``password`` (or of its long pieces) that ``text`` contains."""
    pieces = {password, quote(password, safe="")}
    for sep in "/#?@:&=%":
        pieces.update(p for p in password.split(sep) if len(p) >= 6)
    return [p for p in pieces if p in text]


def outputs(cli, url: str, extra: dict[str, str]) -> Iterator[tuple[str, str, int]]:
    """(what ran, everything it printed, exit code) for every output that names the URL."""
    env = {"REDIS_URL": url, **extra}
    connects = not url.startswith("rediss://")  # TLS to a plain server: slow timeouts
    for args in (
        *((("memory", "list"), ("--debug", "memory", "list")) if connects else ()),
        ("--version",),
        ("memory", "server", "status"),
    ):
        r = cli(*args, env=env)
        yield " ".join(args), r.stdout + r.stderr, r.exit_code
    if connects:
        r = cli("--redis-url", url, "memory", "list", env=extra)
        yield "--redis-url", r.stdout + r.stderr, r.exit_code


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A server that wants a password none of the tests has (every AUTH is refused)."""
    server = RedisServer(extra_args=["--requirepass", "the-right-one-xyz"]).start()
    yield server
    server.cleanup()


@pytest.mark.parametrize("password", PASSWORDS)
def test_no_output_shows_the_password(cli, auth_server: RedisServer, password: str) -> None:
    for url, extra in url_shapes(password, auth_server):
        for what, text, code in outputs(cli, url, extra):
            assert not _leaks(password, text), (url, what, text)
            if what.endswith("list") or what == "--redis-url":
                assert code in (2, 4), (url, what, text)
                assert text.count("\n") == 1 or what.startswith("--debug"), (url, text)
                assert "unexpected error" not in text, (url, text)


@pytest.mark.parametrize("password", PASSWORDS)
def test_history_file_keeps_no_url_password(password: str, tmp_path: Path) -> None:
    from neurolink_cli.repl.app import history_file

    for url, _ in url_shapes(password, RedisServer()):
        line = f"try {url} now"
        assert not _leaks(password, redact_secrets(line)), redact_secrets(line)
        history = history_file(tmp_path)
        history.store_string(line)
    stored = (tmp_path / "loop_history").read_text()
    assert not _leaks(password, stored)
    assert "redis://:***@127.0.0.1" in stored


@pytest.mark.slow
def test_unreachable_tls_url_hides_the_password(cli) -> None:
    from support.redis_server import free_port

    for password in ("S3cret%2FPWtail", "p@ssw0rd-xyz"):
        url = f"rediss://bob:{password}@127.0.0.1:{free_port()}/0"
        r = cli("--debug", "--redis-url", url, "memory", "list")
        assert r.exit_code == 4, r.stderr
        assert not _leaks(password, r.stderr) and "rediss://bob:***@127.0.0.1" in r.stderr


def test_mask_url_shapes() -> None:
    assert mask_url("redis://:S3cret/PWtail@host:6379") == "redis://:***@host:6379"
    assert mask_url("redis://:p@ssw0rd@host") == "redis://:***@host"
    assert mask_url("rediss://bob:a:b@c@h:1/2") == "rediss://bob:***@h:1/2"
    assert mask_url("unix:///s.sock?db=1&password=x%2Fy") == "unix:///s.sock?db=1&password=***"
    assert mask_url("redis://bob@host:6379/0") == "redis://bob@host:6379/0"
    assert mask_url("redis://host:6379") == "redis://host:6379"
    assert mask_urls_in("a redis://:p@w@h b") == "a redis://:***@h b"
    assert url_secrets("redis://:a%2Fb@h") >= {"a%2Fb", "a/b"}
    secrets = url_secrets("redis://:pw%2Fxy@h")
    assert scrub("pw=pw/xy and pw%2Fxy", secrets) == "pw=*** and ***"
    assert scrub("a/b stays: too short to scrub", url_secrets("redis://:a%2Fb@h")).startswith("a/b")


token = st.text("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=4, max_size=10)
risky = st.sampled_from(list("/#?@:%&=+~!$*"))  # no whitespace: free text ends a URL there


@st.composite
def passwords(draw: st.DrawFn) -> str:
    """Tokens joined by the characters that break naive URL parsing."""
    parts = draw(st.lists(st.tuples(st.lists(risky, max_size=3), token), min_size=1, max_size=3))
    tail = draw(st.lists(risky, max_size=2))
    return "".join("".join(r) + "Zq" + t for r, t in parts) + "".join(tail)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(password=passwords())
def test_random_passwords_never_appear(cli, auth_server: RedisServer, password: str) -> None:
    shapes = url_shapes(password, auth_server)
    for url, extra in [shapes[0], shapes[1], shapes[2], shapes[5], shapes[6], shapes[7]]:
        for what, text, code in outputs(cli, url, extra):
            assert not _leaks(password, text), (url, what, text)
            if what.endswith("list") or what == "--redis-url":
                assert code in (2, 4), (url, what, text)
                assert "unexpected error" not in text
        assert not _leaks(password, redact_secrets(f"x {url} y"))


def test_debug_traceback_and_error_line_are_scrubbed(tmp_path: Path) -> None:
    """Whatever an exception says, the edge prints neither the URL's nor REDIS_PASSWORD's secret."""
    import click

    from neurolink_cli.appcontext import AppContext
    from neurolink_cli.cli.root import _fail, main
    from neurolink_cli.config import load_settings
    from neurolink_cli.environment import Environment

    fake = Environment.fake()
    settings = load_settings(
        {"redis_url": "redis://:Url%2FSecret1@h:6379", "debug": True},
        env={"REDIS_PASSWORD": "EnvSecret2"},
        cwd=tmp_path,
        file_values={},
    )
    ctx = click.Context(main, obj=AppContext(settings, env=fake))
    try:
        raise ValueError("cannot use redis://:Url/Secret1@h with EnvSecret2 or Url%2FSecret1")
    except ValueError as raised:
        exc = raised
    with pytest.raises(click.exceptions.Exit):
        _fail(ctx, exc, f"unexpected error: {exc}", 1)
    err = Environment.text_of(fake.stderr)
    assert "Traceback" in err and "ValueError" in err
    for secret in ("Url/Secret1", "Url%2FSecret1", "Secret1", "EnvSecret2"):
        assert secret not in err, err
