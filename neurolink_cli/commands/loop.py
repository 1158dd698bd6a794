"""``neurolink loop``: the interactive chat REPL (being built; see issue 3)."""

from __future__ import annotations

import click


@click.command()
def loop() -> None:
    """Chat with any model; every turn is stored in Redis."""
    raise click.UsageError("neurolink loop is not available yet")
