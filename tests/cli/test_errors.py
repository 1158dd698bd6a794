"""Exit codes and one-line errors (CONTRACT §1), through the installed binary too."""

from __future__ import annotations

import pytest
from support.helpers import add_conversation
from support.redis_server import RedisServer, free_port


def test_session_not_found_is_exit_3(cli) -> None:
    result = cli("memory", "export", "--session-id", "nope")
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and "not found" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["memory", "export", "--session-id", "has space"],
        ["memory", "export", "--session-id", "brace{x}"],
        ["memory", "export", "--session-id", ""],
        ["memory", "export", "--session-id", "x" * 257],
        ["memory", "export", "--session-id", "ok", "--since", "yesterday"],
        ["memory", "export", "--session-id", "ok", "--since", "2026-13-45"],
        ["memory", "export", "--session-id", "ok", "--since", "2d", "--until", "3d"],
        ["memory", "export", "--session-id", "ok", "--format", "xml"],
        ["memory", "export-all", "--resume"],
        ["memory", "list", "--limit", "-1"],
        ["memory", "export", "--session-id", "ok", "--redact-pattern", "("],
        ["memory", "list", "--bogus"],
    ],
)
def test_bad_input_is_exit_2_without_traceback(cli, args) -> None:
    result = cli(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_url_is_exit_2(cli) -> None:
    result = cli("--redis-url", "http://x", "memory", "list")
    assert result.exit_code == 2
    assert "bad Redis URL" in result.stderr


@pytest.mark.e2e
def test_unreachable_redis_is_exit_4_with_password_masked(neurolink_bin) -> None:
    port = free_port()
    proc = neurolink_bin("--redis-url", f"redis://:hunter2@127.0.0.1:{port}/0", "memory", "list")
    err = proc.stderr.decode()
    assert proc.returncode == 4, err
    assert "hunter2" not in err and "***" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert proc.stdout == b""


@pytest.mark.e2e
def test_password_from_environment_is_never_shown(neurolink_bin) -> None:
    port = free_port()
    proc = neurolink_bin(
        "memory",
        "list",
        env_extra={"REDIS_URL": f"redis://127.0.0.1:{port}", "REDIS_PASSWORD": "s3cr3t-pw"},
    )
    assert proc.returncode == 4
    assert b"s3cr3t-pw" not in proc.stderr + proc.stdout


@pytest.mark.e2e
def test_wrong_password_is_exit_4(neurolink_bin) -> None:
    server = RedisServer(extra_args=["--requirepass", "right-pw"]).start()
    try:
        bad = neurolink_bin(
            "--redis-url", f"redis://:wrong-pw@127.0.0.1:{server.port}", "memory", "list"
        )
        assert bad.returncode == 4, bad.stderr
        assert b"wrong-pw" not in bad.stderr and b"authentication" in bad.stderr
        good = neurolink_bin(
            "memory", "list", env_extra={"REDIS_URL": server.url, "REDIS_PASSWORD": "right-pw"}
        )
        assert good.returncode == 0, good.stderr
    finally:
        server.cleanup()


@pytest.mark.e2e
def test_debug_shows_a_traceback(neurolink_bin) -> None:
    proc = neurolink_bin(
        "--debug", "--redis-url", f"redis://127.0.0.1:{free_port()}", "memory", "list"
    )
    assert proc.returncode == 4
    assert b"Traceback" in proc.stderr


@pytest.mark.e2e
def test_broken_pipe_exits_quietly(neurolink_bin, store, env) -> None:
    import subprocess

    for i in range(300):
        add_conversation(store, f"bp{i}", 2, start_s=i, content="y" * 2000)
    from conftest import NEUROLINK

    cmd = f"'{NEUROLINK}' memory export-all | head -c 100 > /dev/null; echo ${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, env=env, timeout=60)
    assert b"Traceback" not in proc.stderr and b"BrokenPipe" not in proc.stderr
    assert proc.stdout.strip() in (b"0", b"1")


@pytest.mark.e2e
def test_stdout_carries_data_only(neurolink_bin, store) -> None:
    add_conversation(store, "d", 2)
    proc = neurolink_bin("memory", "export", "--session-id", "d", "--format", "jsonl")
    assert proc.returncode == 0
    import orjson

    assert orjson.loads(proc.stdout)["sessionId"] == "d"


@pytest.mark.parametrize("where", ["faulthandler", "import", "run"])
def test_ctrl_c_anywhere_in_main_is_one_line(monkeypatch, capsys, where) -> None:
    """Ctrl-C while the fault handler is set, while the CLI's modules load, or while a
    command runs: exit 130 with ``neurolink: interrupted``, never a traceback."""
    import builtins
    import faulthandler

    from neurolink_cli import __main__ as entry
    from neurolink_cli.cli import root

    def interrupt(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    if where == "faulthandler":
        monkeypatch.setattr(faulthandler, "enable", interrupt)
    elif where == "import":
        real_import = builtins.__import__

        def importing(name: str, *args: object, **kwargs: object) -> object:
            if name == "neurolink_cli.cli.root":
                raise KeyboardInterrupt
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", importing)
    else:
        monkeypatch.setattr(root, "main", interrupt)
    with pytest.raises(SystemExit) as stop:
        entry.main()
    assert stop.value.code == 130
    assert capsys.readouterr().err == "neurolink: interrupted\n"
