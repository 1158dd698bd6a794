"""Settings precedence: flags > environment > .env > config file > defaults (CONTRACT §2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.helpers import add_conversation

from neurolink_cli.config import load_settings, mask_url, redis_url
from neurolink_cli.errors import BadInput


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({}, env={"HOME": str(tmp_path)}, cwd=tmp_path)
    assert (s.memory_enabled, s.store, s.max_turns, s.ttl) == (True, "redis", 100, 0)
    assert (s.key_prefix, s.model) == ("neurolink", "gpt-4o-mini")
    assert not s.redis_configured
    assert redis_url(s) == "redis://localhost:6379/0"


def test_every_environment_variable(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "REDIS_HOST": "h",
        "REDIS_PORT": "7000",
        "REDIS_DB": "2",
        "REDIS_PASSWORD": "pw",
        "REDIS_USERNAME": "bob",
        "NEUROLINK_MEMORY_ENABLED": "false",
        "NEUROLINK_MEMORY_STORE": "memory",
        "NEUROLINK_MEMORY_MAX_TURNS_PER_SESSION": "7",
        "NEUROLINK_MEMORY_TTL": "60",
        "NEUROLINK_KEY_PREFIX": "app",
        "NEUROLINK_MODEL": "m",
    }
    s = load_settings({}, env=env, cwd=tmp_path)
    assert redis_url(s) == "redis://h:7000/2"
    assert (s.redis_password, s.redis_username) == ("pw", "bob")
    assert (s.memory_enabled, s.store, s.max_turns, s.ttl, s.key_prefix, s.model) == (
        False,
        "memory",
        7,
        60,
        "app",
        "m",
    )
    assert s.redis_configured


def _write_config(path: Path, prefix: str) -> None:
    path.write_text(
        '[conversationMemory]\nenabled = false\nstore = "memory"\nmaxTurnsPerSession = 5\n'
        f'model = "file-model"\n[conversationMemory.redis]\nurl = "redis://file:1/0"\n'
        f'ttl = 30\nkeyPrefix = "{prefix}"\n'
    )


def test_local_config_file_beats_user_file(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "neurolink").mkdir(parents=True)
    _write_config(xdg / "neurolink" / "config.toml", "user")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(xdg)}
    assert load_settings({}, env=env, cwd=tmp_path).key_prefix == "user"
    _write_config(tmp_path / ".neurolink.toml", "local")
    s = load_settings({}, env=env, cwd=tmp_path)
    assert (s.key_prefix, s.ttl, s.max_turns, s.model, s.redis_url) == (
        "local",
        30,
        5,
        "file-model",
        "redis://file:1/0",
    )


def test_environment_beats_file_and_flags_beat_environment(tmp_path: Path) -> None:
    _write_config(tmp_path / ".neurolink.toml", "file")
    env = {"HOME": str(tmp_path), "NEUROLINK_KEY_PREFIX": "env", "REDIS_URL": "redis://env:2"}
    s = load_settings({}, env=env, cwd=tmp_path)
    assert (s.key_prefix, s.redis_url) == ("env", "redis://env:2")
    s = load_settings({"key_prefix": "flag", "redis_url": "redis://flag:3"}, env=env, cwd=tmp_path)
    assert (s.key_prefix, s.redis_url) == ("flag", "redis://flag:3")


def test_dotenv_is_read_but_never_overrides_the_environment(cli, store, prefix) -> None:
    add_conversation(store, "dot", 2)
    try:
        (cli.cwd / ".env").write_text(f"NEUROLINK_KEY_PREFIX={prefix}\n")
        result = cli("memory", "list", "--format", "jsonl", env={"NEUROLINK_KEY_PREFIX": None})
        assert result.exit_code == 0, result.stderr
        assert "dot" in result.stdout  # the prefix came from .env
        (cli.cwd / ".env").write_text("NEUROLINK_KEY_PREFIX=something-else\n")
        result = cli("memory", "list", "--format", "jsonl")
        assert "dot" in result.stdout  # the environment's prefix won
    finally:
        os.environ.pop("NEUROLINK_KEY_PREFIX", None)


@pytest.mark.parametrize(
    "var,value",
    [
        ("REDIS_PORT", "http"),
        ("NEUROLINK_MEMORY_TTL", "-5"),
        ("NEUROLINK_MEMORY_ENABLED", "maybe"),
        ("NEUROLINK_MEMORY_STORE", "disk"),
        ("NEUROLINK_KEY_PREFIX", "a b"),
        ("NEUROLINK_KEY_PREFIX", "x*"),
    ],
)
def test_bad_values_are_bad_input_naming_the_variable(tmp_path: Path, var: str, value: str) -> None:
    with pytest.raises(BadInput, match=var):
        load_settings({}, env={"HOME": str(tmp_path), var: value}, cwd=tmp_path)


def test_broken_config_file_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / ".neurolink.toml").write_text("[conversationMemory\n")
    with pytest.raises(BadInput, match="config file"):
        load_settings({}, env={"HOME": str(tmp_path)}, cwd=tmp_path)


def test_mask_url_hides_the_password() -> None:
    assert mask_url("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert mask_url("rediss://bob:s3cret@host:6380") == "rediss://bob:***@host:6380"
    assert mask_url("redis://host:6379") == "redis://host:6379"
    assert "s3cret" not in mask_url("redis://bob:s3cret@[::1]:6379")
