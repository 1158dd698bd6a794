"""``memory list``, ``show`` and ``search`` never import litellm (STYLE: only ``loop`` and the
SDK's ``generate`` pay for it)."""

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
from neurolink_cli.__main__ import main
sys.argv = ['neurolink', *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
sys.stderr.write('LITELLM %s\\n' % ('litellm' in sys.modules))
"""


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
    result = subprocess.run(
        [PY, "-c", CODE, *args], capture_output=True, env=env, cwd=tmp_path, timeout=60
    )
    assert result.stderr.decode().splitlines()[-1] == "LITELLM False", result.stderr


# What list and stats do not use: the export writers and options, deleting and archiving
# (each imported only by a command that uses it; issue 14).
UNUSED = (
    "neurolink_cli.export.formats",
    "neurolink_cli.export.finetune",
    "neurolink_cli.export.transform",
    "neurolink_cli.store.deletion",
    "neurolink_cli.store.versioned",
)
CODE_UNUSED = CODE.replace("'LITELLM %s", "'UNUSED %s").replace(
    "'litellm' in sys.modules", f"[m for m in {UNUSED!r} if m in sys.modules]"
)


@pytest.mark.parametrize("args", [("memory", "list", "--limit", "0"), ("memory", "stats")])
def test_list_and_stats_never_import_the_exporters(
    env: dict[str, str], store: NativeStore, tmp_path: Path, args: Any
) -> None:
    add_conversation(store, "s1", 2)
    result = subprocess.run(
        [PY, "-c", CODE_UNUSED, *args], capture_output=True, env=env, cwd=tmp_path, timeout=60
    )
    assert result.stderr.decode().splitlines()[-1] == "UNUSED []", result.stderr
