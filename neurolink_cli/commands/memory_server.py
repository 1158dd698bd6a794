"""``neurolink memory server``: placeholder until the embedded store lands."""

from __future__ import annotations

import click


@click.group("server")
def server() -> None:
    """The embedded Redis store (not available yet)."""
