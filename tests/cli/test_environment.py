"""The injectable terminal (``Environment``): prompts, progress, tables and notices without a pty.

Commands receive the terminal from the root command; these tests hand in a fake one
(``main(obj=Environment.fake(...))``) with the isatty flags they need and read what was
written from its buffers. The pseudo-terminal tests (tests/store/test_delete.py,
tests/test_perf_shape.py, tests/repl/test_loop_e2e.py) stay as the end-to-end check.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from support.helpers import add_conversation

from neurolink_cli.appcontext import AppContext
from neurolink_cli.cli import main
from neurolink_cli.cli.progress import ExportBar, export_progress
from neurolink_cli.config import load_settings
from neurolink_cli.environment import Environment


def run(env_vars: dict[str, str], fake: Environment, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process on ``fake``; exit code, its stdout and its stderr."""
    full = {
        **{k: None for k in os.environ if k.startswith(("REDIS_", "NEUROLINK_"))},
        **env_vars,
    }
    result = CliRunner().invoke(main, list(args), env=full, obj=fake, catch_exceptions=False)
    return result.exit_code, Environment.text_of(fake.stdout), Environment.text_of(fake.stderr)


# -- delete's confirmation ---------------------------------------------------------------------


def test_delete_asks_on_a_terminal_and_no_keeps(env: dict[str, str], store: Any) -> None:
    add_conversation(store, "keep", 2)
    fake = Environment.fake("n\n", tty=True)
    code, out, err = run(env, fake, "memory", "delete", "--session-id", "keep")
    assert code == 1
    assert "Delete keep at redis://" in err and "[y/N]" in err and "nothing deleted" in err
    assert store.get("keep") is not None


def test_delete_yes_after_a_wrong_answer(env: dict[str, str], store: Any) -> None:
    add_conversation(store, "gone", 2)
    fake = Environment.fake("maybe\ny\n", tty=True)
    code, out, err = run(env, fake, "memory", "delete", "--session-id", "gone")
    assert code == 0, err
    assert err.count("[y/N]") == 2 and "deleted 1 session" in err
    assert store.get("gone") is None


def test_delete_end_of_input_at_the_prompt_deletes_nothing(env: dict[str, str], store: Any) -> None:
    add_conversation(store, "keep", 2)
    code, _, err = run(env, Environment.fake("", tty=True), "memory", "delete", "--all")
    assert code == 1 and "nothing deleted" in err
    assert store.get("keep") is not None


def test_delete_without_a_terminal_needs_yes(env: dict[str, str], store: Any) -> None:
    add_conversation(store, "keep", 2)
    fake = Environment.fake("y\n", stdin_isatty=False, stderr_isatty=True)
    code, _, err = run(env, fake, "memory", "delete", "--session-id", "keep")
    assert code == 2 and "--yes" in err and "[y/N]" not in err
    assert store.get("keep") is not None


# -- the export progress bar -------------------------------------------------------------------


def test_export_all_draws_a_bar_on_a_terminal_stderr(env: dict[str, str], store: Any) -> None:
    for i in range(5):
        add_conversation(store, f"p{i}", 2, start_s=i)
    fake = Environment.fake(stderr_isatty=True, width=60)
    code, out, err = run(env, fake, "memory", "export-all", "--format", "jsonl")
    assert code == 0, err
    assert sorted(orjson.loads(line)["sessionId"] for line in out.splitlines()) == [
        f"p{i}" for i in range(5)
    ]
    assert "exporting" in err and "sessions" in err
    assert "\r\x1b[2K" in err  # drawn, then cleared before the summary line
    assert re.search(r"exported 5 sessions \(10 turns\) in [0-9.]+ s; 0 failed\n$", err)
    drawn = [part for part in err.split("\r\x1b[2K") if part.startswith("exporting")]
    assert drawn and all(len(line) < 60 for line in drawn)


def test_export_all_on_a_pipe_draws_nothing(env: dict[str, str], store: Any) -> None:
    add_conversation(store, "p", 2)
    code, out, err = run(env, Environment.fake(), "memory", "export-all", "--format", "jsonl")
    # no bar on a pipe: only the summary line a cron log keeps
    assert code == 0 and out.count("\n") == 1
    assert err.count("\n") == 1 and "exported 1 session" in err and "\r" not in err


def test_export_progress_asks_for_no_total_on_a_pipe() -> None:
    def total() -> int:
        raise AssertionError("the estimate costs a round trip: only for a bar")

    with export_progress(Environment.fake(), total) as progress:
        assert progress is None


def test_bar_fits_the_environment_width() -> None:
    stream = io.StringIO()
    bar = ExportBar(1000, stream, width=40)
    bar.start -= 1.0
    bar.advance(10, 100)
    assert 0 < len(stream.getvalue().split("\x1b[2K")[-1]) < 40


# -- tables, notices, colour -------------------------------------------------------------------


def test_list_is_a_table_on_a_terminal_and_jsonl_on_a_pipe(env: dict[str, str], store: Any) -> None:
    add_conversation(store, "t1", 2)
    code, out, _ = run(env, Environment.fake(tty=True, width=120), "memory", "list")
    assert code == 0 and "SESSION" in out and "t1" in out
    assert "\x1b[3" not in out  # the fake has colours off: bold, but no colour
    code, out, _ = run(env, Environment.fake(), "memory", "list")
    assert code == 0 and orjson.loads(out)["sessionId"] == "t1"


def test_stats_table_on_a_terminal(env: dict[str, str], store: Any) -> None:
    add_conversation(store, "s1", 4)
    code, out, _ = run(env, Environment.fake(stdout_isatty=True), "memory", "stats")
    assert code == 0 and "sessions" in out and "expiring within 24h" in out
    code, out, _ = run(env, Environment.fake(), "memory", "stats")
    assert orjson.loads(out)["turns"] == 4


def test_colour_follows_the_environment() -> None:
    coloured = Environment.fake(tty=True, colors=True)
    coloured.rich_console().print("[red]x[/red]")
    assert "\x1b[" in Environment.text_of(coloured.stdout)
    plain = Environment.fake(tty=True, colors=False)
    plain.rich_console().print("[red]x[/red]")
    assert "\x1b[31" not in Environment.text_of(plain.stdout)
    assert Environment.from_process({"NO_COLOR": "1"}).colors is False


def test_notes_and_warnings_go_to_the_environment(tmp_path: Path) -> None:
    fake = Environment.fake()
    app = AppContext(
        load_settings({}, env={"REDIS_PASSWORD": "pw-secret-1"}, cwd=tmp_path), env=fake
    )
    app.note("hello")
    app.warn("careful with pw-secret-1")
    app.notice_once("k", "once")
    app.notice_once("k", "once")
    assert Environment.text_of(fake.stderr) == (
        "neurolink: hello\nneurolink: warning: careful with ***\nneurolink: once\n"
    )
    assert Environment.text_of(fake.stdout) == ""


@pytest.mark.parametrize(("answer", "default", "want"), [("\n", True, True), ("\n", False, False)])
def test_confirm_default(answer: str, default: bool, want: bool) -> None:
    assert Environment.fake(answer).confirm("ok?", default=default) is want
