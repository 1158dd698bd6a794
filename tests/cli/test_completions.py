"""Shell completions: the committed scripts match Click's output; session ids come from Redis."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.helpers import add_conversation

from neurolink_cli.cli.completions import SHELLS, main, stale_completions, write_completions

COMMITTED = Path(__file__).resolve().parents[2] / "completions"


def test_committed_completions_are_what_click_generates(tmp_path) -> None:
    write_completions(tmp_path)
    for name in SHELLS.values():
        fresh = (tmp_path / name).read_bytes()
        committed = COMMITTED / name
        assert committed.is_file(), f"{committed} missing: run 'make completions'"
        assert committed.read_bytes() == fresh, f"{name} is stale: run 'make completions'"
    assert stale_completions(COMMITTED) == []


@pytest.mark.e2e
@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_scripts_equal_the_programs_own_source_output(neurolink_bin, shell: str) -> None:
    result = neurolink_bin(env_extra={"_NEUROLINK_COMPLETE": f"{shell}_source"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == (COMMITTED / SHELLS[shell]).read_bytes()


def test_module_writes_and_checks(tmp_path) -> None:
    target = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "neurolink_cli.cli.completions", str(target)], check=True)
    assert sorted(p.name for p in target.iterdir()) == sorted(SHELLS.values())
    assert main(["--check", str(target)]) == 0
    (target / "neurolink.zsh").write_text("# edited by hand\n")
    assert main(["--check", str(target)]) == 1
    assert main([]) == 2


def complete(run: Any, words: str, cword: int, shell: str = "bash", **env: str) -> list[str]:
    result = run(
        env_extra={
            "_NEUROLINK_COMPLETE": f"{shell}_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
            **env,
        }
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    return [line for line in result.stdout.decode().splitlines() if line]


@pytest.mark.e2e
def test_commands_and_flags_complete(neurolink_bin) -> None:
    names = complete(neurolink_bin, "neurolink memory ", 2)
    for cmd in ("list", "export", "export-all", "delete", "import", "stats"):
        assert f"plain,{cmd}" in names
    assert "plain,--on-conflict" in complete(neurolink_bin, "neurolink memory import --", 3)


@pytest.mark.e2e
def test_session_ids_complete_from_redis(neurolink_bin, store) -> None:
    add_conversation(store, "alpha-1", 2, start_s=0)
    add_conversation(store, "alpha-2", 2, start_s=100)
    add_conversation(store, "beta", 2, start_s=50)
    got = complete(neurolink_bin, "neurolink memory export --session-id ", 4)
    assert got == ["plain,alpha-2", "plain,beta", "plain,alpha-1"]  # newest first
    got = complete(neurolink_bin, "neurolink memory delete --session-id alp", 4)
    assert got == ["plain,alpha-2", "plain,alpha-1"]
    zsh = complete(neurolink_bin, "neurolink memory export --session-id be", 4, shell="zsh")
    assert zsh[:2] == ["plain", "beta"] and zsh[2].startswith("updated 2026-01-01")


@pytest.mark.e2e
def test_session_ids_follow_the_typed_prefix_flag(neurolink_bin, client, prefix) -> None:
    from neurolink_cli.store.native import NativeStore

    add_conversation(NativeStore(client, prefix + "x"), "other-prefix", 1)
    words = f"neurolink --key-prefix {prefix}x memory export --session-id "
    assert complete(neurolink_bin, words, 6) == ["plain,other-prefix"]


@pytest.mark.e2e
def test_unreachable_redis_completes_nothing_quickly(neurolink_bin) -> None:
    from support.redis_server import free_port

    start = time.monotonic()
    got = complete(
        neurolink_bin,
        "neurolink memory export --session-id ",
        4,
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    assert got == []
    assert time.monotonic() - start < 5


@pytest.mark.e2e
def test_completion_never_starts_the_embedded_store(neurolink_bin, env, tmp_path) -> None:
    run_env = {k: v for k, v in env.items() if k != "REDIS_URL"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "neurolink")],
        env={
            **run_env,
            "_NEUROLINK_COMPLETE": "bash_complete",
            "COMP_WORDS": "neurolink memory export --session-id ",
            "COMP_CWORD": "4",
        },
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0 and result.stderr == b""
    assert result.stdout.strip() == b""
    assert not (Path(env["XDG_DATA_HOME"]) / "neurolink" / "redis.sock").exists()
