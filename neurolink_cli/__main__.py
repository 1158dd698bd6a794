"""``python -m neurolink_cli`` and the ``neurolink`` console script."""

from __future__ import annotations

import sys

from neurolink_cli.errors import EXIT_INTERRUPTED


def main() -> None:
    """Run the CLI; Ctrl-C anywhere (even before the group runs) exits 130."""
    from neurolink_cli.cli.root import main as cli_main

    try:
        cli_main(prog_name="neurolink")
    except KeyboardInterrupt:
        sys.stderr.write("neurolink: interrupted\n")
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
