"""Redis URLs: the checker accepts a redis://, rediss:// or unix:// URL or says BadInput, and
masking never lets a password through."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neurolink_cli.config import mask_url
from neurolink_cli.errors import BadInput
from neurolink_cli.store.connection import check_url

wild_text = st.text(max_size=300)  # includes lone surrogates


@given(wild_text)
def test_url_checker_accepts_a_redis_url_or_says_bad_input(value: str) -> None:
    try:
        check_url(value)
    except BadInput as exc:
        assert str(exc).startswith("bad Redis URL ")
    else:
        parts = urlsplit(value)
        assert parts.scheme in ("redis", "rediss", "unix")
        assert parts.port is None or 0 <= parts.port <= 65535
        assert parts.scheme != "unix" or parts.path


@given(wild_text)
def test_masking_replaces_exactly_the_password(value: str) -> None:
    masked = mask_url(value)
    try:
        parts = urlsplit(value)
    except ValueError:
        assert masked == "<unparseable URL>"
        return
    if parts.password is None:
        assert masked == value
    else:
        assert urlsplit(masked).password == "***"


@given(
    st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=4, max_size=30),
    st.sampled_from(["redis", "rediss"]),
)
def test_a_password_never_survives_masking(password: str, scheme: str) -> None:
    url = f"{scheme}://user:{password}@cache.example:6379/0"
    assert mask_url(url) == f"{scheme}://user:***@cache.example:6379/0"
    try:
        check_url(url)
    except BadInput as exc:
        assert f":{password}@" not in str(exc)


@pytest.mark.parametrize("url", ["redis://u:secret@h:xx/0", "redis://u:secret@h:99999/0"])
def test_a_bad_port_next_to_a_password_is_bad_input(url: str) -> None:
    with pytest.raises(BadInput) as exc:
        check_url(url)
    assert "secret" not in str(exc.value)
