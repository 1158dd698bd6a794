"""The README's command reference is the code's real --help (regenerate: make docs)."""

from __future__ import annotations

from readme_help import current, reference


def test_readme_help_matches_the_code() -> None:
    assert current() == reference(), "README.md's command reference is stale: run make docs"
