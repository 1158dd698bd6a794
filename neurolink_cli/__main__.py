"""``python -m neurolink_cli`` and the ``neurolink`` console script."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the CLI; Ctrl-C anywhere in it (even while the CLI's modules are imported) exits
    130 with one line. A crash of the interpreter itself (a fault in a C extension) prints
    the Python stack of every thread (``faulthandler``) instead of dying without a word."""
    try:
        _report_faults()
        from neurolink_cli.cli.root import main as cli_main

        cli_main(prog_name="neurolink")
    except KeyboardInterrupt:
        from neurolink_cli.errors import EXIT_INTERRUPTED

        sys.stderr.write("neurolink: interrupted\n")
        sys.exit(EXIT_INTERRUPTED)


def _report_faults() -> None:
    import contextlib
    import faulthandler

    with contextlib.suppress(RuntimeError, ValueError, AttributeError, OSError):  # no stderr
        faulthandler.enable()


if __name__ == "__main__":
    main()
