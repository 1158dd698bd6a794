"""The command line: the root group, its lazy subcommands, and terminal presentation.

Everything here may import Click; nothing below this package does.
"""

from neurolink_cli.cli.root import main

__all__ = ["main"]
