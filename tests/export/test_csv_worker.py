"""CSV export-all through the installed binary, where formatting runs in a second process.

The output must be the same bytes as the in-process writer's; a session that cannot be
formatted is reported (exit 1) and the rest goes on; a closed pipe and Ctrl-C stop both
processes quietly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import NEUROLINK
from support.helpers import add_conversation, seed_sessions

from neurolink_cli.export.worker import worker_available

with open(os.devnull, "wb") as _devnull:
    pytestmark = pytest.mark.skipif(
        not worker_available(_devnull), reason="needs two cores and fork"
    )


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True)
    return [int(x) for x in out.stdout.split()]


@pytest.mark.e2e
def test_same_bytes_as_the_in_process_writer(cli, neurolink_bin, store) -> None:
    for i in range(450):  # more than two batches
        add_conversation(store, f"s{i:04d}", 4, start_s=i, content='row {i}, "q"\n=x')
    binary = neurolink_bin("memory", "export-all", "--format", "csv")
    assert binary.returncode == 0, binary.stderr
    in_process = cli("memory", "export-all", "--format", "csv")  # CliRunner: no real fd
    assert binary.stdout == in_process.stdout_bytes
    assert binary.stdout.count(b"\r\n") > 450 * 4


@pytest.mark.e2e
def test_a_bad_session_is_reported_and_the_rest_exported(neurolink_bin, store, client) -> None:
    add_conversation(store, "good", 2)
    add_conversation(store, "bad", 2, start_s=50)
    client.rpush(store.turns_key("bad"), b"{not json}")
    add_conversation(store, "after", 2, start_s=100)
    proc = neurolink_bin("memory", "export-all", "--format", "csv")
    assert proc.returncode == 1
    assert b"bad" in proc.stderr and b"not a JSON object" in proc.stderr
    ids = {line.split(b",")[0] for line in proc.stdout.splitlines()[1:]}
    assert ids == {b"good", b"after"}


@pytest.mark.e2e
def test_closed_pipe_stops_quietly(env, client, store) -> None:
    seed_sessions(client, store.prefix, 3000, turns=6, size=300)
    cmd = f"'{NEUROLINK}' memory export-all --format csv | head -c 1000 > /dev/null"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, env=env, timeout=60)
    assert b"Traceback" not in proc.stderr and b"Error" not in proc.stderr


@pytest.mark.e2e
def test_ctrl_c_stops_both_processes(env, client, store) -> None:
    seed_sessions(client, store.prefix, 20000, turns=6, size=300)
    proc = subprocess.Popen(
        [NEUROLINK, "memory", "export-all", "--format", "csv"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    os.read(proc.stdout.fileno(), 100_000)  # it is running, worker and all
    workers = _children_of(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    time.sleep(0.2)
    for pid in workers:  # gone (or a zombie waiting for init)
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or b"zombie" in status.read_bytes().lower()
