"""Start and stop private redis-server processes for the tests (never a server we did not start)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def redis_server_binary() -> str:
    path = os.environ.get("NEUROLINK_TEST_REDIS_SERVER") or shutil.which("redis-server")
    if not path:
        raise RuntimeError("redis-server not found: install Debian's redis-server package")
    return path


def free_port(*, with_bus: bool = False) -> int:
    """A free TCP port on 127.0.0.1 (and, with_bus, whose +10000 cluster bus port is free too)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not with_bus:
            return port
        if port + 10000 >= 65536:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def private_args(directory: Path, socket_path: str) -> list[str]:
    """What every test server shares: a private unix socket, no persistence, its own dir."""
    return ["--unixsocket", socket_path, "--unixsocketperm", "700", "--save", "",
            "--appendonly", "no", "--dir", str(directory),
            "--logfile", str(directory / "redis.log")]  # fmt: skip


def launch(
    args: list[str], directory: Path, socket_path: str, timeout: float, what: str = "redis-server"
) -> subprocess.Popen[bytes]:
    """Start ``args`` and wait until the server answers PING on its unix socket."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (directory / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{what} exited: {log}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(0.5)
                s.connect(socket_path)
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                    return proc
        except OSError:
            pass
        time.sleep(0.02)
    terminate(proc)
    raise RuntimeError(f"{what} did not start in time")


def terminate(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class RedisServer:
    """One redis-server on a free port and a unix socket in its own temp dir."""

    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="nl-redis-")))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> str:
        return str(self.dir / "redis.sock")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self, timeout: float = 10.0) -> RedisServer:
        if not self.port:
            self.port = free_port()
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                *private_args(self.dir, self.socket_path), *self.extra_args]  # fmt: skip
        self.proc = launch(args, self.dir, self.socket_path, timeout)
        return self

    def stop(self) -> None:
        terminate(self.proc)

    def pause(self) -> None:
        assert self.proc
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc
        os.kill(self.proc.pid, signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class RedisClusterServers:
    """A real Redis Cluster of ``primaries`` redis-servers (no replicas) on free local ports.

    Each node runs with ``--cluster-enabled yes`` in its own temp dir; ``redis-cli --cluster
    create`` assigns the slots; :meth:`start` returns once every node says cluster_state:ok.
    """

    primaries: int = 3
    nodes: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self, timeout: float = 30.0) -> RedisClusterServers:
        try:
            for _ in range(self.primaries):
                node = RedisServer(
                    extra_args=[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "5000",
                    ],
                    port=free_port(with_bus=True),
                )
                self.nodes.append(node.start())
            cli = shutil.which("redis-cli") or "redis-cli"
            subprocess.run(
                [
                    cli,
                    "--cluster",
                    "create",
                    *[f"127.0.0.1:{n.port}" for n in self.nodes],
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=timeout,
            )
            deadline = time.monotonic() + timeout
            while not all(self._state_ok(n) for n in self.nodes):
                if time.monotonic() > deadline:
                    raise RuntimeError("the test cluster did not reach cluster_state:ok")
                time.sleep(0.05)
        except BaseException:
            self.cleanup()
            raise
        return self

    @staticmethod
    def _state_ok(node: RedisServer) -> bool:
        with socket.create_connection(("127.0.0.1", node.port), timeout=1) as s:
            s.sendall(b"CLUSTER INFO\r\n")
            data = b""
            while b"cluster_state" not in data or not data.endswith(b"\r\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return b"cluster_state:ok" in data

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()


@dataclass
class ThrowawayCerts:
    """A throwaway CA, a server certificate (localhost, 127.0.0.1) and a client certificate."""

    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def make(cls, directory: Path) -> ThrowawayCerts:
        """Generate them with the ``openssl`` command (EC P-256 keys, valid for 2 days)."""
        openssl = shutil.which("openssl")
        if not openssl:
            raise RuntimeError("openssl not found: install Debian's openssl package")
        d = directory
        d.mkdir(parents=True, exist_ok=True)

        def run(*args: str) -> None:
            subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run("req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"),
            "-days", "2", "-subj", "/CN=neurolink test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
        for name, usage, san in (
            ("server", "serverAuth", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"),
            ("client", "clientAuth", ""),
        ):
            ext = d / f"{name}.ext"
            ext.write_text(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                f"extendedKeyUsage={usage}\nsubjectKeyIdentifier=hash\n"
                f"authorityKeyIdentifier=keyid\n{san}"
            )
            run("req", "-new", *ec, "-keyout", str(d / f"{name}.key"),
                "-out", str(d / f"{name}.csr"), "-subj", f"/CN=neurolink test {name}")  # fmt: skip
            run("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.crt"),
                "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
                "-out", str(d / f"{name}.crt"), "-extfile", str(ext))  # fmt: skip
        return cls(
            dir=d,
            ca=d / "ca.crt",
            server_cert=d / "server.crt",
            server_key=d / "server.key",
            client_cert=d / "client.crt",
            client_key=d / "client.key",
        )


@dataclass
class TlsRedisServer:
    """A redis-server that speaks TLS only on TCP (``--port 0 --tls-port P``), plus a plain
    unix socket in its temp dir for the test's own admin commands (ACL SETUSER ...)."""

    certs: ThrowawayCerts
    auth_clients: bool = False
    tls_port: int = 0
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="nl-tls-")))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> str:
        return str(self.dir / "redis.sock")

    def url(self, user: str = "", password: str = "", host: str = "127.0.0.1") -> str:
        auth = f"{user}:{password}@" if user or password else ""
        return f"rediss://{auth}{host}:{self.tls_port}/0"

    def start(self, timeout: float = 10.0) -> TlsRedisServer:
        self.tls_port = self.tls_port or free_port()
        args = [
            redis_server_binary(),
            "--port", "0",
            "--tls-port", str(self.tls_port),
            "--bind", "127.0.0.1",
            "--tls-cert-file", str(self.certs.server_cert),
            "--tls-key-file", str(self.certs.server_key),
            "--tls-ca-cert-file", str(self.certs.ca),
            "--tls-auth-clients", "yes" if self.auth_clients else "no",
            *private_args(self.dir, self.socket_path),
        ]  # fmt: skip
        try:
            self.proc = launch(args, self.dir, self.socket_path, timeout, "redis-server (TLS)")
        except RuntimeError:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        return self

    def cleanup(self) -> None:
        terminate(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)
