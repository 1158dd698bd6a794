"""``neurolink memory import``: placeholder until its issue lands."""

from __future__ import annotations

import click


@click.command("import")
def memory_import() -> None:
    """Not available yet."""
    raise click.UsageError("neurolink memory import is not available yet")
