"""The terminal a command runs in, as one object (httpie's ``Environment``).

The root command makes one from the real process (:meth:`Environment.from_process`) and
puts it in the ``AppContext``; commands, the confirmation prompt, progress bars, notices
and the table renderers read and write through it and never touch ``sys.stdout``,
``sys.stderr`` or ``isatty`` themselves. Tests build one on ``io`` buffers with the
terminal flags they want (:meth:`Environment.fake`), so a prompt or a progress bar is
exercised without a pseudo-terminal.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any, TextIO


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


@dataclass
class Environment:
    """stdin/stdout/stderr, whether each is a terminal, colour and width."""

    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    stdin_isatty: bool = False
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    colors: bool = True
    width: int = 80

    @classmethod
    def from_process(cls, environ: Mapping[str, str] | None = None) -> Environment:
        """The process's own streams (as they are now: CliRunner swaps them in tests)."""
        environ = os.environ if environ is None else environ
        return cls(
            stdin=sys.stdin,
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdin_isatty=_isatty(sys.stdin),
            stdout_isatty=_isatty(sys.stdout),
            stderr_isatty=_isatty(sys.stderr),
            colors=not environ.get("NO_COLOR"),
            width=shutil.get_terminal_size((80, 24)).columns,
        )

    @classmethod
    def fake(
        cls,
        stdin: str = "",
        *,
        tty: bool = False,
        stdin_isatty: bool | None = None,
        stdout_isatty: bool | None = None,
        stderr_isatty: bool | None = None,
        colors: bool = False,
        width: int = 80,
    ) -> Environment:
        """In-memory streams (``stdout.buffer`` works too) for tests; ``tty`` sets all flags."""
        return cls(
            stdin=io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8"),
            stdout=io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True),
            stderr=io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True),
            stdin_isatty=tty if stdin_isatty is None else stdin_isatty,
            stdout_isatty=tty if stdout_isatty is None else stdout_isatty,
            stderr_isatty=tty if stderr_isatty is None else stderr_isatty,
            colors=colors,
            width=width,
        )

    # -- what was written (for fakes) -----------------------------------------------------
    @staticmethod
    def text_of(stream: TextIO) -> str:
        """Everything written to a fake stream so far."""
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if isinstance(buffer, io.BytesIO):
            return buffer.getvalue().decode("utf-8", "replace")
        return stream.getvalue() if isinstance(stream, io.StringIO) else ""

    # -- output ---------------------------------------------------------------------------
    @property
    def stdout_bytes(self) -> IO[bytes]:
        """stdout for bulk data (bytes, no flush per write)."""
        return self.stdout.buffer

    def message(self, text: str) -> None:
        """One line on stderr."""
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def confirm(self, question: str, default: bool = False) -> bool:
        """Ask ``question [y/N]`` on stderr and read the answer from stdin.

        An empty answer is ``default``; anything else but y/yes/n/no asks again. End of
        input counts as no.
        """
        hint = " [Y/n]: " if default else " [y/N]: "
        while True:
            self.stderr.write(question + hint)
            self.stderr.flush()
            line = self.stdin.readline()
            if not line:
                self.stderr.write("\n")
                return False
            answer = line.strip().lower()
            if not answer:
                return default
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            self.stderr.write("Error: invalid input\n")

    def rich_console(self, *, stderr: bool = False) -> Any:
        """A rich Console on stdout (or stderr) with this environment's colour and width."""
        from rich.console import Console

        tty = self.stderr_isatty if stderr else self.stdout_isatty
        return Console(
            file=self.stderr if stderr else self.stdout,
            highlight=False,
            no_color=not self.colors,
            width=self.width if tty else None,
            force_terminal=tty,
        )
