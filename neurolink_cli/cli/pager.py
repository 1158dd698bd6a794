"""Long output through a pager, as git does: ``$PAGER`` (else ``less``) with ``LESS=FRX``.

``F`` quits at once when the text fits on one screen, ``R`` passes colours through, ``X``
leaves the text on the screen afterwards. No pager runs when stdout is not a terminal, when
the pager is ``cat`` or empty, or when the command does not exist (the text is written
directly). Quitting the pager early is not an error.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping

from neurolink_cli.environment import Environment


def pager_command(environ: Mapping[str, str]) -> str | None:
    """The pager to run (``NEUROLINK_PAGER``, ``PAGER``, else ``less``), or None for none."""
    command = environ.get("NEUROLINK_PAGER", environ.get("PAGER", "less")).strip()
    if not command or command == "cat":
        return None
    try:
        program = shlex.split(command)[0]
    except (ValueError, IndexError):
        return None
    return command if shutil.which(program) else None


def page(text: str, env: Environment, environ: Mapping[str, str] | None = None) -> None:
    """Show ``text`` through the pager on a terminal, else write it to stdout."""
    environ = os.environ if environ is None else environ
    command = pager_command(environ) if env.stdout_isatty else None
    if command is None:
        env.stdout.write(text)
        env.stdout.flush()
        return
    pager_env = {**environ}
    pager_env.setdefault("LESS", "FRX")
    pager_env.setdefault("LV", "-c")
    env.stdout.flush()
    proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, env=pager_env)
    assert proc.stdin is not None
    try:
        with contextlib.suppress(BrokenPipeError):  # the user quit before the end
            proc.stdin.write(text.encode("utf-8", "replace"))
            proc.stdin.close()
        while True:
            try:
                proc.wait()
                break
            except KeyboardInterrupt:  # as git: Ctrl-C belongs to the pager while it runs
                continue
    finally:
        if proc.poll() is None:
            proc.kill()
