"""``make pictures``: the README's terminal pictures, from a real run.

Starts a private redis-server and the tests' local OpenAI-compatible server, loads the demo
conversations, then runs the installed ``neurolink`` in tmux exactly as a person would:
``memory list``, ``loop`` resuming a demo session with one question typed, and ``memory
show`` of a session whose last question failed (the local server told to answer HTTP 429,
through a real ``neurolink loop``). ``python docs/pictures.py show`` renders only that one. Each screen
is captured with its colours (``tmux capture-pane -e``) and rendered to SVG with rich
(``Console(record=True).save_svg``). Needs tmux.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from rich.console import Console  # noqa: E402
from rich.text import Text  # noqa: E402
from support.llm_server import LLMServer  # noqa: E402
from support.redis_server import RedisServer  # noqa: E402

NEUROLINK = str(Path(sys.executable).parent / "neurolink")
WIDTH, HEIGHT = 100, 24


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", "nl-pictures", *args], check=True,
                          capture_output=True, text=True).stdout  # fmt: skip


def screen(
    command: str, env: dict[str, str], keys: list[tuple[str, float]], height: int = HEIGHT
) -> str:
    """Run ``command`` in a fresh tmux window, type ``keys``, return the screen with colours."""
    exports = " ".join(f"{k}={v!r}" for k, v in env.items())
    tmux("new-session", "-d", "-s", "p", "-x", str(WIDTH), "-y", str(height),
         f"env {exports} bash --norc --noprofile")  # fmt: skip
    try:
        tmux("send-keys", "-t", "p", "export PS1='$ '; clear", "Enter")
        time.sleep(0.5)
        tmux("send-keys", "-t", "p", command, "Enter")
        for key, wait in keys:
            time.sleep(wait)
            if key:
                tmux("send-keys", "-t", "p", key, *(["Enter"] if key not in ("C-d",) else []))
        time.sleep(2.0)
        return tmux("capture-pane", "-p", "-e", "-t", "p")
    finally:
        tmux("kill-server")


def save_svg(ansi: str, path: Path, title: str) -> None:
    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=WIDTH, force_terminal=True,
                          color_system="truecolor", file=sink)  # fmt: skip
        console.print(Text.from_ansi(ansi.rstrip("\n")))
        console.save_svg(str(path), title=title)
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    if not shutil.which("tmux"):
        print("make pictures needs tmux (apt-get install tmux)", file=sys.stderr)
        return 1
    redis, llm = RedisServer().start(), LLMServer().start()
    home = Path(redis.dir) / "home"
    home.mkdir()
    env = {"REDIS_URL": redis.url, "HOME": str(home), "TERM": "xterm-256color",
           "OPENAI_API_KEY": "sk-local-test", "OPENAI_API_BASE": llm.base_url,
           "PATH": f"{Path(NEUROLINK).parent}:{os.environ.get('PATH', '')}"}  # fmt: skip
    try:
        subprocess.run([sys.executable, str(ROOT / "docs" / "demo.py"), "--load-only"],
                       env={**os.environ, **env}, check=True)  # fmt: skip
        only = set(sys.argv[1:])
        if not only or "list" in only:
            listing = screen("neurolink memory list", env, [])
            save_svg(listing, ROOT / "docs" / "memory-list.svg", "neurolink memory list")
        if not only or "loop" in only:
            chat = screen(
                "neurolink loop --model openai/demo-model --session-id demo-support-1",
                env,
                [("", 6.0), ("Has my replacement for order 4411 shipped yet?", 3.0),
                 ("/session", 1)],
            )  # fmt: skip
            save_svg(chat, ROOT / "docs" / "loop.svg", "neurolink loop")
        if not only or "show" in only:
            subprocess.run(  # a real failure: the local server answers HTTP 429 to this model
                [NEUROLINK, "loop", "--model", "openai/fail-429", "--session-id", "demo-analytics-7"],
                input=b"And the forecast for week 5?", env={**os.environ, **env}, check=False,
                capture_output=True,
            )  # fmt: skip
            shown = screen("neurolink memory show demo-analytics-7", env, [], height=46)
            save_svg(shown, ROOT / "docs" / "memory-show.svg", "neurolink memory show")
    finally:
        llm.stop()
        redis.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
