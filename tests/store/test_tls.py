"""Secure connections: rediss:// with certificate verification, client certificates, and an
ACL user limited to the ``neurolink:*`` keys (with and without INFO).

One TLS-only redis-server per module (``--port 0 --tls-port P``) with a throwaway CA and
certificates made by ``openssl`` in a temp dir; the test's own admin commands go over the
server's plain unix socket. The neurolink CLI runs as the installed binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis as redis_py
from conftest import NEUROLINK
from support.redis_server import ThrowawayCerts, TlsRedisServer

from neurolink_cli.config import load_settings
from neurolink_cli.models import make_turn
from neurolink_cli.store.connection import is_cluster, make_client
from neurolink_cli.store.native import NativeStore

USER, PASSWORD = "nl-app", "s3cret-Pa55"
NOINFO_USER = "nl-noinfo"
RULES = [
    "on", f">{PASSWORD}", "resetkeys", "~neurolink:*", "resetchannels", "-@all",
    "+@read", "+@write", "+@scripting", "+@connection", "+info",
    "-keys", "-flushall", "-flushdb", "-script|flush",
]  # fmt: skip


@pytest.fixture(scope="module")
def certs() -> Iterator[ThrowawayCerts]:
    base = Path(tempfile.mkdtemp(prefix="nl-certs-"))
    yield ThrowawayCerts.make(base / "certs")
    shutil.rmtree(base, ignore_errors=True)


def _admin(server: TlsRedisServer) -> Any:
    return redis_py.Redis(unix_socket_path=server.socket_path)


@pytest.fixture(scope="module")
def tls_server(certs: ThrowawayCerts) -> Iterator[TlsRedisServer]:
    server = TlsRedisServer(certs).start()
    admin = _admin(server)
    admin.acl_setuser(USER, reset=True)
    admin.execute_command("ACL", "SETUSER", USER, *RULES)
    rules = [r for r in RULES if r != "+info"]
    admin.execute_command("ACL", "SETUSER", NOINFO_USER, *rules, "-info")
    admin.close()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def mtls_server(certs: ThrowawayCerts) -> Iterator[TlsRedisServer]:
    server = TlsRedisServer(certs, auth_clients=True).start()
    yield server
    server.cleanup()


@pytest.fixture
def prefix() -> str:
    return f"neurolink:t{uuid.uuid4().hex[:8]}"


def run(
    *args: str, prefix: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME", "TMPDIR")}
    return subprocess.run(
        [NEUROLINK, *args],
        capture_output=True,
        text=True,
        env={**base, "NEUROLINK_KEY_PREFIX": prefix, "NO_COLOR": "1", **(env or {})},
        timeout=60,
        cwd=tempfile.gettempdir(),
    )


def _seed(server: TlsRedisServer, certs: ThrowawayCerts, prefix: str, sid: str) -> None:
    """Write a session as the ACL user over TLS (the append script runs under the ACL)."""
    settings = load_settings(
        {"redis_url": server.url(USER, PASSWORD), "tls_ca_cert": str(certs.ca)},
        env={},
        file_values={},
    )
    client = make_client(settings)
    assert not is_cluster(client)
    store = NativeStore(client, prefix)
    for i, role in enumerate(["user", "assistant"]):
        store.append_turn(sid, make_turn(role, f"secure {i}", f"2026-02-01T00:00:0{i}.000Z"))
    client.close()


@pytest.mark.e2e
def test_acl_user_over_tls_with_ca(tls_server: TlsRedisServer, certs: ThrowawayCerts, prefix):
    _seed(tls_server, certs, prefix, "s-tls")
    url = tls_server.url(USER, PASSWORD)
    ca = ["--tls-ca-cert", str(certs.ca)]
    listed = run("--redis-url", url, *ca, "memory", "list", "--format", "json", prefix=prefix)
    assert listed.returncode == 0, listed.stderr
    assert [r["sessionId"] for r in orjson.loads(listed.stdout)] == ["s-tls"]
    exported = run(
        "--redis-url", url, *ca, "memory", "export", "--session-id", "s-tls", prefix=prefix
    )
    assert exported.returncode == 0, exported.stderr
    assert [t["content"] for t in orjson.loads(exported.stdout)["turns"]] == [
        "secure 0",
        "secure 1",
    ]
    everything = run("--redis-url", url, *ca, "memory", "export-all", prefix=prefix)
    assert everything.returncode == 0, everything.stderr
    assert len(everything.stdout.splitlines()) == 1
    deleted = run(
        "--redis-url", url, *ca, "memory", "delete", "--session-id", "s-tls", "--yes", prefix=prefix
    )
    assert deleted.returncode == 0, deleted.stderr
    for result in (listed, exported, everything, deleted):
        assert PASSWORD not in result.stderr + result.stdout


@pytest.mark.e2e
def test_credentials_and_ca_from_the_environment(tls_server, certs, prefix) -> None:
    _seed(tls_server, certs, prefix, "s-env")
    env = {
        "REDIS_URL": tls_server.url(),
        "REDIS_USERNAME": USER,
        "REDIS_PASSWORD": PASSWORD,
        "REDIS_TLS_CA_CERT": str(certs.ca),
    }
    result = run("memory", "export", "--session-id", "s-env", prefix=prefix, env=env)
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["sessionId"] == "s-env"


def test_acl_user_is_really_limited(tls_server, certs) -> None:
    client = redis_py.Redis.from_url(
        tls_server.url(USER, PASSWORD), ssl_ca_certs=str(certs.ca), ssl_cert_reqs="required"
    )
    with pytest.raises(redis_py.exceptions.NoPermissionError):
        client.set("other:key", "x")
    with pytest.raises(redis_py.exceptions.NoPermissionError):
        client.flushall()
    client.close()


@pytest.mark.e2e
def test_user_without_info_still_works(tls_server, certs, prefix) -> None:
    _seed(tls_server, certs, prefix, "s-noinfo")
    url = tls_server.url(NOINFO_USER, PASSWORD)
    result = run(
        "--redis-url", url, "--tls-ca-cert", str(certs.ca), "memory", "export",
        "--session-id", "s-noinfo", prefix=prefix,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.e2e
def test_unverified_certificate_is_exit_4_with_a_clear_error(tls_server, prefix) -> None:
    result = run("--redis-url", tls_server.url(USER, PASSWORD), "memory", "list", prefix=prefix)
    assert result.returncode == 4
    line = result.stderr.strip().splitlines()[-1]
    assert "certificate" in line and "--tls-ca-cert" in line and "--tls-insecure" in line
    assert PASSWORD not in result.stderr and "***" in line
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
def test_tls_insecure_skips_verification(tls_server, certs, prefix) -> None:
    _seed(tls_server, certs, prefix, "s-insecure")
    result = run(
        "--redis-url", tls_server.url(USER, PASSWORD), "--tls-insecure",
        "memory", "export", "--session-id", "s-insecure", prefix=prefix,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.e2e
def test_wrong_password_is_exit_4_and_masked(tls_server, certs, prefix) -> None:
    wrong = "not-the-Pa55word"
    result = run(
        "--redis-url", tls_server.url(USER, wrong), "--tls-ca-cert", str(certs.ca),
        "memory", "list", prefix=prefix,
    )  # fmt: skip
    assert result.returncode == 4
    assert wrong not in result.stderr + result.stdout
    assert f"rediss://{USER}:***@127.0.0.1:{tls_server.tls_port}" in result.stderr
    assert "authentication" in result.stderr


@pytest.mark.e2e
def test_wrong_password_from_environment_is_never_echoed(tls_server, certs, prefix) -> None:
    wrong = "env-Wr0ng-secret"
    env = {"REDIS_USERNAME": USER, "REDIS_PASSWORD": wrong, "REDIS_TLS_CA_CERT": str(certs.ca)}
    result = run("--redis-url", tls_server.url(), "memory", "list", prefix=prefix, env=env)
    assert result.returncode == 4
    assert wrong not in result.stderr + result.stdout
    result = run(
        "--debug", "--redis-url", tls_server.url(), "memory", "list", prefix=prefix, env=env
    )
    assert result.returncode == 4
    assert wrong not in result.stderr + result.stdout


@pytest.mark.e2e
def test_missing_ca_file_is_bad_input(tls_server, prefix) -> None:
    result = run(
        "--redis-url", tls_server.url(), "--tls-ca-cert", "/nonexistent/ca.crt",
        "memory", "list", prefix=prefix,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--tls-ca-cert" in result.stderr


@pytest.mark.e2e
def test_plain_redis_url_to_a_tls_port_fails_cleanly(tls_server, prefix) -> None:
    url = f"redis://127.0.0.1:{tls_server.tls_port}/0"
    result = run(
        "--redis-url", url, "memory", "list", prefix=prefix, env={"NEUROLINK_REDIS_TIMEOUT": "2"}
    )
    assert result.returncode == 4
    assert "rediss://" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
def test_client_certificate_required(mtls_server, certs, prefix) -> None:
    url = mtls_server.url()
    ca = ["--tls-ca-cert", str(certs.ca)]
    without = run("--redis-url", url, *ca, "memory", "list", prefix=prefix)
    assert without.returncode == 4, without.stderr
    assert "--tls-cert" in without.stderr
    with_cert = run(
        "--redis-url", url, *ca, "--tls-cert", str(certs.client_cert),
        "--tls-key", str(certs.client_key), "memory", "list", prefix=prefix,
    )  # fmt: skip
    assert with_cert.returncode == 0, with_cert.stderr
