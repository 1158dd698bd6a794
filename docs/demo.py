"""``make demo`` (``python docs/demo.py [--load-only]``), a developer tool: load a few realistic conversations and show ``memory list`` and an export.

The conversations are written through the store's own writer (``NativeStore.append_turn``)
into whatever store neurolink would use: ``REDIS_URL`` when set, else the embedded store.
Demo sessions are ids starting ``demo-``; running the demo again replaces them. Then the
real ``neurolink`` binary is run, so what you see is exactly what you would type.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from neurolink_cli.appcontext import AppContext
from neurolink_cli.errors import NeurolinkError
from neurolink_cli.models import make_turn
from neurolink_cli.util.timeutil import ms_to_rfc3339

CONVERSATIONS = [
    (
        "demo-support-1",
        "alice",
        "openai",
        "gpt-4o-mini",
        [
            ("user", "My order #4411 arrived damaged. Can I get a replacement?"),
            (
                "assistant",
                "I'm sorry about that! I can start a replacement for order #4411. "
                "Could you confirm the shipping address is unchanged?",
            ),
            ("user", "Yes, same address. Thanks!"),
            (
                "assistant",
                "Done: a replacement ships within 2 business days. You'll get a "
                "tracking e-mail as soon as it leaves the warehouse.",
            ),
        ],
    ),
    (
        "demo-analytics-7",
        "bob",
        "anthropic",
        "claude-3-5-sonnet",
        [
            ("system", "You are a concise data analyst."),
            ("user", "Summarise weekly active users: 1200, 1350, 1280, 1500."),
            (
                "assistant",
                "WAU grew 25% over four weeks (1,200 → 1,500), with a dip in week 3.\n\n"
                "| week | WAU |\n|---|---|\n| 1 | 1200 |\n| 2 | 1350 |\n| 3 | 1280 |\n"
                "| 4 | 1500 |",
            ),
        ],
    ),
    (
        "demo-i18n-3",
        None,
        "openai",
        "gpt-4o",
        [
            ("user", "Traduis « bonne nuit » en japonais, s'il te plaît."),
            ("assistant", "おやすみなさい (oyasuminasai) 🌙"),
            ("user", "=SUM(A1:A3) — is this formula safe to paste?"),
            (
                "assistant",
                "It is a harmless SUM, but neurolink's CSV export prefixes such cells "
                "with ' so a spreadsheet shows them as text.",
            ),
        ],
    ),
]


def load(app: AppContext) -> list[str]:
    """Write the demo conversations (replacing earlier demo runs); return their ids."""
    repo = app.repository()
    store = repo.native
    start = datetime.now(UTC) - timedelta(hours=3)
    ids = []
    for n, (sid, user, provider, model, turns) in enumerate(CONVERSATIONS):
        repo.delete(sid)
        t = start + timedelta(minutes=40 * n)
        for role, content in turns:
            t += timedelta(seconds=7)
            ts = ms_to_rfc3339(int(t.timestamp() * 1000))
            if role == "assistant":
                turn = make_turn(
                    role,
                    content,
                    ts,
                    model=model,
                    provider=provider,
                    tokens={"prompt": 12 + len(content) // 9, "completion": len(content) // 4},
                    latency_ms=420 + 3 * len(content),
                )
                tools = ["order-lookup"] if sid == "demo-support-1" else []
            else:
                turn, tools = make_turn(role, content, ts), []
            store.append_turn(sid, turn, user_id=user, tools_used=tools)
        ids.append(sid)
    return ids


def neurolink_command() -> tuple[str, str]:
    """The binary to run, and how a user should type it: ``neurolink`` when it is on PATH,
    else its path (``.venv/bin/neurolink`` after ``make install``)."""
    beside = Path(sys.executable).parent / "neurolink"
    on_path = shutil.which("neurolink")
    if on_path and Path(on_path).resolve() == beside.resolve():
        return on_path, "neurolink"
    try:
        shown = str(beside.relative_to(Path.cwd()))
    except ValueError:
        shown = str(beside)
    return str(beside), shown


def _run(env: dict[str, str], *args: str) -> None:
    exe, shown = neurolink_command()
    print(f"\n$ {shown} {' '.join(args)}", flush=True)
    subprocess.run([exe, *args], check=False, env=env)


def main(argv: list[str]) -> int:
    try:
        app = AppContext.create({})
        ids = load(app)  # says once where the store is when it is the embedded one
        app.note(f"loaded {len(ids)} demo conversations")
        # The commands below use the same store by its URL: the embedded store's notice
        # was shown once above, not again for every command.
        env = {**os.environ, "REDIS_URL": app.redis_url}
        app.close()
        if argv == ["--load-only"]:
            return 0
    except NeurolinkError as exc:
        print(f"neurolink demo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    _run(env, "memory", "list", "--format", "table")
    _run(env, "memory", "export", "--session-id", "demo-support-1")
    _run(env, "memory", "export", "--session-id", "demo-i18n-3", "--format", "csv")
    shown = neurolink_command()[1]
    print(f"\nTry: {shown} loop   or   {shown} memory export-all --output ./exports/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
