"""``make bench-loop``: the first minute of ``neurolink loop`` and of the SDK, timed as a user
meets them (issue 15's table).

Each rep runs the installed ``neurolink loop`` in a pseudo-terminal (pexpect, 40x120) against a
private redis-server and the test suite's local OpenAI-compatible server (no network):

- launch -> prompt: from spawn until the ``>`` prompt is drawn;
- first answer: the first message is sent the moment the prompt appears; time until the
  answer's text is on the screen (litellm is still being imported then), and whether the
  "starting" indicator was shown meanwhile;
- later turn: a second message -> its answer text;
- Ctrl-D -> gone: from Ctrl-D at the prompt until the process has exited; the session's turns
  are then read from Redis (all 4 must be there);
- SDK: a script doing ``NeuroLink().generate()`` once and exiting: the ``generate`` call, and
  the whole process;
- reference: ``python -c "import litellm"`` on the same box, same moment.

``--load N`` runs N busy processes (pure-Python loops) during the measurements, as "other work
loading the box". Prints medians (and min-max) per row.

    .venv/bin/python bench/bench_loop.py [--reps 5] [--load 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pexpect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.llm_server import LLMServer  # noqa: E402
from support.redis_server import RedisServer  # noqa: E402

BIN = Path(sys.executable).parent
NEUROLINK = str(BIN / "neurolink")

SDK_SCRIPT = """
import time
t0 = time.monotonic()
from neurolink_cli import NeuroLink
nl = NeuroLink(model="openai/test")
t1 = time.monotonic()
r = nl.generate(prompt="hello sdk")
t2 = time.monotonic()
assert r.content.startswith("echo: hello sdk"), r.content
print(f"{t2 - t1:.4f}", flush=True)
"""


BARE_SCRIPT = """
import os, time
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
t0 = time.monotonic()
import litellm
r = litellm.completion(model="openai/test", messages=[{"role": "user", "content": "hi"}])
print(f"{time.monotonic() - t0:.4f}", flush=True)
"""


def busy() -> None:
    n = 0
    while True:
        n += 1


@contextmanager
def load(n: int) -> Iterator[None]:
    procs = [multiprocessing.Process(target=busy, daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
            p.join()


def import_litellm_time(env: dict[str, str]) -> float:
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", "import litellm"],
        env={**env, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},  # no price-list fetch attempt
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - t0


def one_loop(env: dict[str, str], client: Any, prefix: str) -> dict[str, Any]:
    t0 = time.monotonic()
    child = pexpect.spawn(NEUROLINK, ["loop"], env=env, timeout=60, dimensions=(40, 120))
    child.expect(r"new session ([0-9a-f-]{36})")
    sid = child.match.group(1).decode()
    child.expect_exact(">")
    t_prompt = time.monotonic()
    child.send("hello\r")
    i = child.expect_exact(["starting", "echo: hello"])
    started_shown = i == 0
    if started_shown:
        child.expect_exact("echo: hello")
    t_first = time.monotonic()
    child.expect_exact(">")
    t1 = time.monotonic()
    child.send("again\r")
    child.expect_exact("echo: again")
    t_later = time.monotonic()
    child.expect_exact(">")
    time.sleep(0.2)  # the prompt is fully drawn
    t_d = time.monotonic()
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.wait()
    t_gone = time.monotonic()
    turns = client.llen(f"{prefix}:session:{{{sid}}}:turns")
    return {
        "prompt": t_prompt - t0,
        "first": t_first - t_prompt,
        "starting_shown": started_shown,
        "later": t_later - t1,
        "exit": t_gone - t_d,
        "turns_stored": turns,
        "exit_status": child.exitstatus,
    }


def bare_call(env: dict[str, str]) -> float:
    """import litellm + one completion, nothing of neurolink: the SDK's bound."""
    proc = subprocess.run(
        [sys.executable, "-c", BARE_SCRIPT], env=env, capture_output=True, check=True
    )
    return float(proc.stdout.decode().strip())


def one_sdk(env: dict[str, str]) -> dict[str, float]:
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", SDK_SCRIPT], env=env, capture_output=True, check=True
    )
    total = time.monotonic() - t0
    return {"sdk_generate": float(proc.stdout.decode().strip()), "sdk_process": total}


def fmt(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med:6.2f} s  ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--load", type=int, default=0, help="busy processes during the runs")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()

    import redis

    server = RedisServer().start()
    llm = LLMServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-loop-"))
    prefix = "benchloop"
    env = {
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "HOME": str(tmp),
        "XDG_CONFIG_HOME": str(tmp / ".config"),
        "XDG_DATA_HOME": str(tmp / ".local/share"),
        "REDIS_URL": server.url,
        "NEUROLINK_KEY_PREFIX": prefix,
        "NEUROLINK_MODEL": "openai/test",
        "OPENAI_API_BASE": llm.base_url,
        "OPENAI_API_KEY": "test-key",
        "TERM": "xterm",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "NO_COLOR": "1",
    }
    client = redis.Redis.from_url(server.url)
    rows: dict[str, list[float]] = {}
    flags: list[dict[str, Any]] = []
    try:
        one_loop(env, client, prefix)  # warm the OS file cache once, not counted
        with load(args.load):
            for _ in range(args.reps):
                rows.setdefault("import", []).append(import_litellm_time(env))
                result = one_loop(env, client, prefix)
                for key in ("prompt", "first", "later", "exit"):
                    rows.setdefault(key, []).append(result[key])
                flags.append(result)
                rows.setdefault("bare", []).append(bare_call(env))
                for key, value in one_sdk(env).items():
                    rows.setdefault(key, []).append(value)
    finally:
        client.close()
        llm.stop()
        server.cleanup()

    names = {
        "import": 'python -c "import litellm" (local price map)',
        "prompt": "launch -> prompt ready",
        "first": "first message at prompt -> first answer text",
        "later": "later turn -> answer text",
        "exit": "Ctrl-D -> process gone",
        "bare": "import litellm + 1 completion (SDK's bound)",
        "sdk_generate": "SDK first generate() call",
        "sdk_process": "SDK script (generate x1, exit)",
    }
    cpus = os.cpu_count()
    print(f"reps {args.reps}, {args.load} busy processes, {cpus} CPUs; median (min-max)")
    for key, label in names.items():
        print(f"{label:48s} {fmt(rows[key])}")
    shown = sum(1 for f in flags if f["starting_shown"])
    stored = all(f["turns_stored"] == 4 and f["exit_status"] == 0 for f in flags)
    budget = statistics.median(rows["import"]) + 0.5
    print(f"'starting' indicator shown before the first answer: {shown}/{len(flags)}")
    print(f"every turn stored before exit, exit status 0: {'yes' if stored else 'NO'}")
    print(
        f"first answer budget (import + 0.5 s) {budget:.2f} s: "
        f"{'met' if statistics.median(rows['first']) <= budget else 'MISSED'}"
    )
    if args.json:
        Path(args.json).write_bytes(orjson.dumps({"rows": rows, "runs": flags}))


if __name__ == "__main__":
    main()
