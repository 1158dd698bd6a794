"""The README's command reference: the real ``--help`` of every command.

``make docs`` (``python docs/readme_help.py --write``) rewrites the part of README.md
between ``<!-- help:start -->`` and ``<!-- help:end -->``; ``tests/test_readme.py`` fails
when that part differs from what the code prints, so the README cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

from neurolink_cli.cli import main as cli_main

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- help:start -->", "<!-- help:end -->"
COMMANDS = [
    [], ["loop"], ["memory"], ["memory", "list"], ["memory", "export"],
    ["memory", "export-all"], ["memory", "delete"], ["memory", "archive"], ["memory", "import"],
    ["memory", "stats"], ["memory", "server"],
]  # fmt: skip


def help_text(args: list[str]) -> str:
    result = CliRunner().invoke(cli_main, [*args, "--help"], prog_name="neurolink",
                                terminal_width=100, env={"NO_COLOR": "1"})  # fmt: skip
    if result.exit_code != 0:
        raise RuntimeError(f"neurolink {' '.join(args)} --help failed: {result.output}")
    return result.stdout.rstrip() + "\n"


def reference() -> str:
    parts = [START, "", "Generated from the code by `make docs`; a test fails when it drifts.", ""]
    for args in COMMANDS:
        name = " ".join(["neurolink", *args])
        parts += [f"#### `{name}`", "", "```text", help_text(args).rstrip(), "```", ""]
    parts.append(END)
    return "\n".join(parts)


def current() -> str:
    text = README.read_text()
    return text[text.index(START) : text.index(END) + len(END)]


def write() -> None:
    text = README.read_text()
    README.write_text(text.replace(current(), reference()))


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    elif sys.argv[1:] == ["--check"]:
        sys.exit(0 if current() == reference() else 1)
    else:
        sys.stdout.write(reference() + "\n")
