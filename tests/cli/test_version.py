"""``neurolink --version``: our version, the Redis server's, fast and without redis-py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.redis_server import RedisServer, free_port

from neurolink_cli import __version__

PY = sys.executable


def server_version(client) -> str:
    return str(client.info("server")["redis_version"])


def test_version_and_server_version(cli, client, redis_server) -> None:
    result = cli("--version")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"neurolink {__version__}"
    assert lines[1] == f"redis {server_version(client)} at {redis_server.url}"


def test_short_flag_and_flag_order(cli, client, redis_server) -> None:
    url = redis_server.url
    for args in (["-V", "--redis-url", url], ["--redis-url", url, "--version"]):
        result = cli(*args, env={"REDIS_URL": ""})
        assert result.exit_code == 0
        assert result.stdout.splitlines()[1] == f"redis {server_version(client)} at {url}"


def test_host_and_port_settings_and_unix_socket(cli, client, redis_server) -> None:
    env = {"REDIS_URL": "", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port)}
    out = cli("--version", env=env).stdout.splitlines()
    assert out[1].startswith(f"redis {server_version(client)} at redis://127.0.0.1:")
    out = cli("--version", env={"REDIS_URL": redis_server.unix_url}).stdout.splitlines()
    assert out[1] == f"redis {server_version(client)} at {redis_server.unix_url}"


def test_unreachable_server_is_reported_exit_0(cli) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = cli("--version", env={"REDIS_URL": url})
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].startswith(f"redis: not reachable at {url} (")


@pytest.mark.e2e
def test_password_is_sent_and_never_shown() -> None:
    server = RedisServer(extra_args=["--requirepass", "s3cret"]).start()
    try:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(server.dir)}
        good = f"redis://:s3cret@127.0.0.1:{server.port}/0"
        out = subprocess.run(
            [PY, "-m", "neurolink_cli", "--redis-url", good, "--version"],
            capture_output=True,
            env=env,
            cwd=server.dir,
            check=True,
        ).stdout.decode()
        assert out.splitlines()[1].startswith("redis ") and "s3cret" not in out
        assert f"redis://:***@127.0.0.1:{server.port}/0" in out
        bad = subprocess.run(
            [PY, "-m", "neurolink_cli", "--version"],
            capture_output=True,
            env={
                **env,
                "REDIS_URL": f"redis://127.0.0.1:{server.port}",
                "REDIS_PASSWORD": "wrongpw",
            },
            cwd=server.dir,
            check=True,
        ).stdout.decode()
        assert "authentication refused" in bad and "wrongpw" not in bad
        envpw = subprocess.run(
            [PY, "-m", "neurolink_cli", "--version"],
            capture_output=True,
            env={
                **env,
                "REDIS_URL": f"redis://127.0.0.1:{server.port}",
                "REDIS_PASSWORD": "s3cret",
            },
            cwd=server.dir,
            check=True,
        ).stdout.decode()
        assert envpw.splitlines()[1].startswith("redis ") and "s3cret" not in envpw
    finally:
        server.cleanup()


def test_dotenv_in_the_working_directory_is_honoured(cli, client, redis_server) -> None:
    (cli.cwd / ".env").write_text(f"REDIS_URL={redis_server.url}\n")
    out = cli("--version", env={"REDIS_URL": None}).stdout.splitlines()  # type: ignore[dict-item]
    assert out[1] == f"redis {server_version(client)} at {redis_server.url}"


@pytest.mark.e2e
def test_nothing_configured_never_starts_the_embedded_store(env, tmp_path) -> None:
    run_env = {k: v for k, v in env.items() if k != "REDIS_URL"}
    result = subprocess.run(
        [PY, "-m", "neurolink_cli", "--version"],
        capture_output=True,
        env=run_env,
        cwd=tmp_path,
        timeout=30,
    )
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    assert lines == [
        f"neurolink {__version__}",
        "redis: the embedded store is not running (it starts on first use)",
    ]
    data_dir = Path(env["XDG_DATA_HOME"]) / "neurolink"
    assert not (data_dir / "redis.sock").exists()


@pytest.mark.parametrize("configured", [True, False])
def test_redis_py_is_never_imported(env, tmp_path, configured: bool) -> None:
    run_env = env if configured else {k: v for k, v in env.items() if k != "REDIS_URL"}
    code = (
        "import sys\n"
        "from neurolink_cli.__main__ import main\n"
        "sys.argv = ['neurolink', '--version']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "bad = [m for m in ('redis', 'litellm', 'rich', 'prompt_toolkit') if m in sys.modules]\n"
        "print('IMPORTED', bad)\n"
    )
    result = subprocess.run(
        [PY, "-c", code], capture_output=True, env=run_env, cwd=tmp_path, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines()[-1] == "IMPORTED []"
