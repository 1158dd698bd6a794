"""``neurolink memory stats``: a summary of every session, as a table or JSON."""

from __future__ import annotations

import click

from neurolink_cli.appcontext import AppContext
from neurolink_cli.errors import PartialFailure

pass_app = click.make_pass_decorator(AppContext)


@click.command("stats", short_help="Summarise sessions, turns, models, tokens, cost and activity.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    help="Output format [default: table on a terminal, json when piped].",
)
@pass_app
def memory_stats(app: AppContext, fmt: str | None) -> None:
    """Summarise the history: sessions, turns by role and by model, tokens, cost, activity.

    Reads every session of both layouts once, in batches (memory does not grow with their
    number). byModel counts turns per provider/model; cost is the sum of the costs turns
    recorded (null when none did); expiringWithin24h counts sessions whose TTL ends
    within a day. Sessions that cannot be read are reported on stderr and the exit status
    is 1.

    \b
    Example:
      neurolink memory stats
      neurolink memory stats --format json | jq '.byModel'
    """
    from neurolink_cli.cli.stats_view import print_table, write_json
    from neurolink_cli.stats import compute_stats
    from neurolink_cli.util import forkmap

    stats = compute_stats(app.repository(), warn=app.warn, share=forkmap.available())
    if (fmt or ("table" if app.env.stdout_isatty else "json")) == "json":
        write_json(stats, app.env.stdout_bytes)
    else:
        print_table(stats, app.env)
    if stats.unreadable:
        raise PartialFailure(
            f"{len(stats.unreadable)} sessions could not be read and are not counted (see above)"
        )
