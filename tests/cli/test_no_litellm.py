"""Reading commands import only what they use: ``memory list``, ``show`` and ``search``
never import litellm (STYLE: only ``loop`` and the SDK's ``generate`` pay for it), and
``list`` and ``stats`` none of the export writers and options, deleting or archiving (each
imported only by a command that uses it; issue 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.helpers import add_conversation

from neurolink_cli.store.native import NativeStore

PY = sys.executable
CODE = """
import sys
modules = sys.argv[1].split(',')
from neurolink_cli.__main__ import main
sys.argv = ['neurolink', *sys.argv[2:]]
try:
    main()
except SystemExit:
    pass
sys.stderr.write('IMPORTED %s\\n' % [m for m in modules if m in sys.modules])
"""
EXPORTERS = (
    "neurolink_cli.export.formats",
    "neurolink_cli.export.finetune",
    "neurolink_cli.export.transform",
    "neurolink_cli.store.deletion",
    "neurolink_cli.store.versioned",
)


def imported(env: dict[str, str], cwd: Path, modules: tuple[str, ...], args: Any) -> str:
    """Which of ``modules`` the command ``args`` imported, as its last line of stderr."""
    result = subprocess.run(
        [PY, "-c", CODE, ",".join(modules), *args], capture_output=True, env=env, cwd=cwd,
        timeout=60,
    )  # fmt: skip
    return result.stderr.decode().splitlines()[-1]


@pytest.mark.parametrize(
    "args",
    [
        ("memory", "list", "--errors"),
        ("memory", "show", "s1"),
        ("memory", "search", "message"),
    ],
)
def test_reading_commands_never_import_litellm(
    env: dict[str, str], store: NativeStore, tmp_path: Path, args: Any
) -> None:
    add_conversation(store, "s1", 2)
    assert imported(env, tmp_path, ("litellm",), args) == "IMPORTED []"


@pytest.mark.parametrize("args", [("memory", "list", "--limit", "0"), ("memory", "stats")])
def test_list_and_stats_never_import_the_exporters(
    env: dict[str, str], store: NativeStore, tmp_path: Path, args: Any
) -> None:
    add_conversation(store, "s1", 2)
    assert imported(env, tmp_path, EXPORTERS, args) == "IMPORTED []"
