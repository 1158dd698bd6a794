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
