"""The embedded default store (CONTRACT §6): a real ``redis-server`` of neurolink's own.

When no Redis URL, host or port is configured anywhere, neurolink uses a ``redis-server``
that it starts on demand, listening only on a unix socket in its data directory
(``$XDG_DATA_HOME/neurolink/``, default ``~/.local/share/neurolink/``)::

    redis.sock     the socket (mode 0700; no TCP port is opened)
    redis.pid      the server's pid, written by redis-server, removed on a clean shutdown
    redis.lock     flock()ed while a process starts or stops the server
    redis.log      the server's log
    dump.rdb       RDB snapshots (save 3600 1 / 300 100 / 60 10000, and on shutdown)
    appendonlydir/ the append-only file (appendfsync everysec): survives kill -9 and reboots

Design:

* **Shared, one server per data dir.** Every neurolink process of the user first PINGs the
  socket (a raw RESP exchange, no redis-py import: ~0.1 ms). Only when nothing answers does
  it take an exclusive ``flock`` on ``redis.lock``, check again (another process may have
  just started it), and start ``redis-server --daemonize yes``. The lock is held only while
  starting or stopping, never while the server runs, so two processes never start two
  servers on the same files; the server is not a child of any neurolink process (its own
  session, our file descriptors closed) and outlives the command that started it.
* **Stale state.** After a crash or a reboot the socket and pid files may be left behind.
  Under the lock, a pid that is gone, or that now belongs to a process which is not a
  redis-server, is stale: both files are removed and a new server starts on the same data.
  A live redis-server that does not answer yet (loading a large dataset) is waited for.
* **Stopping.** ``neurolink memory server stop`` sends ``SHUTDOWN SAVE`` (an RDB snapshot,
  then exit) under the lock and waits for the process to go. The next command that needs
  the store starts it again from the files on disk.
* **The binary.** The ``redis_server`` setting (``NEUROLINK_REDIS_SERVER``, config
  ``redis.serverBinary``) as a path or a name on PATH, else ``redis-server`` (then
  ``valkey-server``) on PATH or in the usual system directories. When none exists the
  error (exit 4, like any store that cannot be reached) says how to install one and how
  to use an existing Redis with ``REDIS_URL`` instead.
* **Long paths.** A unix socket path must fit in ~104 bytes. When ``<data_dir>/redis.sock``
  is longer, the socket goes to ``$XDG_RUNTIME_DIR/neurolink-<uid>/`` (else the temp dir),
  in a 0700 directory owned by the user, named after a digest of the data dir.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from neurolink_cli.config import Settings
from neurolink_cli.errors import NeurolinkError, StoreUnavailable
from neurolink_cli.store.resp import ReplyError, call

MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
START_TIMEOUT = 30.0  # seconds for a fresh server to answer PING
LOAD_TIMEOUT = 600.0  # seconds a live server may spend loading its dataset
LOCK_TIMEOUT = 120.0
BINARY_NAMES = ("redis-server", "valkey-server")
SYSTEM_DIRS = ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/opt/homebrew/bin", "/snap/bin")
INSTALL_HINT = (
    "install one (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) "
    "or set NEUROLINK_REDIS_SERVER to its path, or use an existing Redis with "
    "REDIS_URL=redis://host:6379"
)


@dataclass(frozen=True)
class EmbeddedPaths:
    """Where the embedded server keeps its socket, pid, lock, log and data."""

    data_dir: Path
    socket: Path
    pidfile: Path
    lockfile: Path
    logfile: Path

    @classmethod
    def of(cls, settings: Settings) -> EmbeddedPaths:
        data = Path(settings.data_dir)
        return cls(
            data_dir=data,
            socket=socket_path(data),
            pidfile=data / "redis.pid",
            lockfile=data / "redis.lock",
            logfile=data / "redis.log",
        )


@dataclass
class EmbeddedStatus:
    """What ``neurolink memory server status`` reports."""

    running: bool
    state: str  # running | loading | stopped | unresponsive
    socket: str
    data_dir: str
    pid: int | None = None
    version: str | None = None
    uptime_seconds: int | None = None
    keys: int | None = None
    used_memory: str | None = None
    aof_enabled: bool | None = None
    last_save: int | None = None
    binary: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def socket_path(data_dir: Path) -> Path:
    """``<data_dir>/redis.sock``, or a short per-user path when that is too long for AF_UNIX."""
    preferred = data_dir / "redis.sock"
    if len(os.fsencode(preferred)) <= MAX_SOCKET_PATH:
        return preferred
    import hashlib
    import tempfile

    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    digest = hashlib.sha256(os.fsencode(data_dir.resolve())).hexdigest()[:16]
    return Path(base) / f"neurolink-{os.getuid()}" / f"{digest}.sock"


def embedded_url(settings: Settings) -> str:
    """The embedded store's URL: ``unix://<data_dir>/redis.sock``."""
    return f"unix://{EmbeddedPaths.of(settings).socket}"


# -- talking to the server without redis-py ------------------------------------------------


def command(sock_path: Path, *args: str, timeout: float = 2.0) -> Any:
    """Send one command over the unix socket and return its reply (raw RESP, no redis-py)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        return call(s, args)[0]


def probe(sock_path: Path, timeout: float = 1.0) -> str:
    """``ready``, ``loading`` (answering, still loading data), ``down`` or ``unresponsive``."""
    try:
        command(sock_path, "PING", timeout=timeout)
    except ReplyError as exc:
        return "loading" if str(exc).startswith("LOADING") else "ready"
    except (FileNotFoundError, ConnectionRefusedError, ConnectionError):
        return "down"
    except TimeoutError:
        return "unresponsive"
    except OSError:
        return "down"
    return "ready"


# -- the server process -----------------------------------------------------------------


def find_binary(settings: Settings) -> str:
    """The redis-server to run; StoreUnavailable (exit 4) with install hints when none."""
    if settings.redis_server:
        found = shutil.which(settings.redis_server)
        if not found:
            raise StoreUnavailable(
                f"the redis_server setting (NEUROLINK_REDIS_SERVER) {settings.redis_server!r} "
                f"is not an executable; {INSTALL_HINT}"
            )
        return found
    for name in BINARY_NAMES:
        found = shutil.which(name)
        if found:
            return found
    for directory in SYSTEM_DIRS:
        for name in BINARY_NAMES:
            candidate = Path(directory) / name
            if os.access(candidate, os.X_OK):
                return str(candidate)
    raise StoreUnavailable(f"no redis-server found for the embedded store; {INSTALL_HINT}")


def read_pid(paths: EmbeddedPaths) -> int | None:
    try:
        pid = int(paths.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None


def _pid_is_redis(pid: int, paths: EmbeddedPaths | None = None) -> bool:
    """True if ``pid`` is a live redis/valkey server of this user (not a recycled pid).

    With ``paths``, it must also be *this* data dir's server: its command line (the process
    title, ``redis-server unixsocket:<path>``, or the original arguments) names our socket.
    After a reboot the stale pid may belong to the system's own redis-server.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: the pid was recycled
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        import subprocess

        try:
            cmdline = subprocess.run(
                ["ps", "-p", str(pid), "-o", "command="], capture_output=True, timeout=5
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return True
    except OSError:
        return True
    if b"redis" not in cmdline and b"valkey" not in cmdline:
        return False
    return paths is None or os.fsencode(paths.socket) in cmdline


@contextlib.contextmanager
def _locked(paths: EmbeddedPaths, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive flock on ``redis.lock`` (start and stop run one at a time)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        raise StoreUnavailable(
            "the embedded store needs a POSIX system; set REDIS_URL to use a Redis server"
        ) from None
    _make_dirs(paths)
    fd = os.open(paths.lockfile, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreUnavailable(
                        f"another neurolink process holds {paths.lockfile} for over "
                        f"{timeout:.0f}s while starting or stopping the embedded store"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def _make_dirs(paths: EmbeddedPaths) -> None:
    try:
        paths.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        sock_dir = paths.socket.parent
        if sock_dir != paths.data_dir:
            sock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = sock_dir.stat()
            if st.st_uid != os.getuid() or st.st_mode & 0o077:
                raise StoreUnavailable(
                    f"{sock_dir} (for the embedded store's socket) is not a private "
                    "directory of this user; remove it or use a shorter XDG_DATA_HOME"
                )
    except OSError as exc:
        raise StoreUnavailable(
            f"cannot create the embedded store's directory {paths.data_dir}: {exc.strerror}"
        ) from None


def server_args(binary: str, paths: EmbeddedPaths) -> list[str]:
    """The command line of the embedded redis-server (unix socket only, AOF + RDB)."""
    return [
        binary,
        "--port", "0",
        "--unixsocket", str(paths.socket),
        "--unixsocketperm", "700",
        "--dir", str(paths.data_dir),
        "--dbfilename", "dump.rdb",
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "3600", "1",
        "--save", "300", "100",
        "--save", "60", "10000",
        "--daemonize", "yes",
        "--pidfile", str(paths.pidfile),
        "--logfile", str(paths.logfile),
    ]  # fmt: skip


def _log_tail(paths: EmbeddedPaths, lines: int = 3) -> str:
    try:
        text = paths.logfile.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    tail = [line.strip() for line in text[-lines:] if line.strip()]
    return " | ".join(tail)


def _wait_ready(paths: EmbeddedPaths, timeout: float, pid_grace: float = 0.0) -> bool:
    """Wait for PONG; False as soon as no server is there (no live pid after ``pid_grace``).

    A live redis-server that is loading its dataset is given up to LOAD_TIMEOUT; one that
    neither answers nor exits makes this raise after ``timeout``.
    """
    started = time.monotonic()
    while True:
        state = probe(paths.socket)
        if state == "ready":
            return True
        pid = read_pid(paths)
        alive = pid is not None and _pid_is_redis(pid, paths)
        elapsed = time.monotonic() - started
        if state == "down" and not alive and (pid is not None or elapsed > pid_grace):
            return False
        if elapsed > (LOAD_TIMEOUT if state == "loading" else timeout):
            raise StoreUnavailable(
                f"the embedded redis-server (pid {pid}) does not answer on {paths.socket} "
                f"after {elapsed:.0f}s; see {paths.logfile}, or stop it (kill {pid}) and retry"
            )
        time.sleep(0.02)


def _remove_stale(paths: EmbeddedPaths) -> None:
    for path in (paths.socket, paths.pidfile):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def ensure_embedded(settings: Settings) -> None:
    """Make sure the embedded server answers on its socket, starting it if needed."""
    paths = EmbeddedPaths.of(settings)
    if probe(paths.socket) == "ready":
        return
    with _locked(paths):
        if _wait_ready(paths, START_TIMEOUT):
            return  # started by another process meanwhile, or was busy loading
        _remove_stale(paths)
        _start(find_binary(settings), paths)


def _start(binary: str, paths: EmbeddedPaths) -> None:
    import subprocess  # only to start the server: not on every command's path

    try:
        launcher = subprocess.run(
            server_args(binary, paths),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            umask=0o077,  # the history is private: data files readable by the user only
            timeout=START_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise StoreUnavailable(f"cannot run {binary} for the embedded store: {exc}") from None
    if launcher.returncode != 0:
        why = launcher.stderr.decode(errors="replace").strip().splitlines()
        reason = " | ".join(line.strip() for line in why[-3:] if line.strip())
        raise StoreUnavailable(
            f"{binary} could not start the embedded store in {paths.data_dir}: "
            f"{reason or _log_tail(paths) or f'exit status {launcher.returncode}'}"
        )
    if not _wait_ready(paths, START_TIMEOUT, pid_grace=5.0):
        raise StoreUnavailable(
            f"the embedded redis-server exited right after starting: "
            f"{_log_tail(paths) or 'no log'} (log: {paths.logfile})"
        )


def stop_embedded(settings: Settings, timeout: float = 60.0) -> bool:
    """``SHUTDOWN SAVE`` the embedded server and wait for it to exit; False if not running."""
    paths = EmbeddedPaths.of(settings)
    if probe(paths.socket) == "down" and not paths.pidfile.exists():
        return False
    with _locked(paths):
        pid = read_pid(paths)
        state = probe(paths.socket)
        if state == "down":
            if pid is not None and _pid_is_redis(pid, paths):
                raise StoreUnavailable(
                    f"the embedded redis-server (pid {pid}) does not answer on {paths.socket}; "
                    f"see {paths.logfile}"
                )
            _remove_stale(paths)
            return False
        try:
            command(paths.socket, "SHUTDOWN", "SAVE", timeout=timeout)
        except ReplyError as exc:
            raise NeurolinkError(
                f"the embedded store refused to shut down ({exc}); {_log_tail(paths)}"
            ) from None
        except (ConnectionError, TimeoutError, OSError):
            pass  # a successful SHUTDOWN closes the connection without a reply
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            gone = pid is None or not _pid_is_redis(pid, paths)
            if gone and probe(paths.socket) == "down":
                return True
            time.sleep(0.02)
        raise StoreUnavailable(f"the embedded redis-server (pid {pid}) did not exit in time")


def embedded_status(settings: Settings) -> EmbeddedStatus:
    """Whether the embedded server runs, and its pid, keys, memory (never starts it)."""
    paths = EmbeddedPaths.of(settings)
    pid = read_pid(paths)
    status = EmbeddedStatus(
        running=False,
        state="stopped",
        socket=str(paths.socket),
        data_dir=str(paths.data_dir),
        pid=pid if pid is not None and _pid_is_redis(pid, paths) else None,
    )
    with contextlib.suppress(NeurolinkError):
        status.binary = find_binary(settings)
    state = probe(paths.socket)
    if state == "down":
        return status
    status.state = {"ready": "running"}.get(state, state)
    status.running = state == "ready"
    if not status.running:
        return status
    try:
        info = _parse_info(command(paths.socket, "INFO"))
        status.keys = int(command(paths.socket, "DBSIZE"))
    except (OSError, ConnectionError, ReplyError, ValueError):
        return status
    status.pid = _int(info.get("process_id")) or status.pid
    status.version = info.get("redis_version")
    status.uptime_seconds = _int(info.get("uptime_in_seconds"))
    status.used_memory = info.get("used_memory_human")
    status.aof_enabled = info.get("aof_enabled") == "1"
    status.last_save = _int(info.get("rdb_last_save_time"))
    return status


def _parse_info(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            out[key.strip()] = value.strip()
    return out


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
