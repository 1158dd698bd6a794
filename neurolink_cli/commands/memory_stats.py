"""``neurolink memory stats``: placeholder until its issue lands."""

from __future__ import annotations

import click


@click.command("stats")
def memory_stats() -> None:
    """Not available yet."""
    raise click.UsageError("neurolink memory stats is not available yet")
