"""The file system's ceiling for ``export-all --output DIR``: files only, no Redis, no JSON.

Creates N files of SIZE bytes in DIR exactly the way the exporter does (each through
``neurolink_cli.util.atomic.write_atomic``: an unnamed temporary, one write, linked in),
then one ``sync_filesystem`` (syncfs) and a ``manifest.json``. Its files/s is the most any
exporter can reach on this disk in its current state; ``export-all --output DIR`` is timed
against it in the same ``make bench`` run.

    python bench/fs_ceiling.py DIR [N] [SIZE]
"""

import os
import sys

from neurolink_cli.util.atomic import sync_filesystem, write_atomic


def main() -> None:
    target = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 7_000
    os.mkdir(target, 0o700)
    dir_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    data = b"x" * size
    for i in range(n):
        write_atomic(f"s-{i:07d}.json", data, dir_fd, 0o600)
    sync_filesystem(dir_fd)
    write_atomic("manifest.json", b"{}", dir_fd, 0o600)
    os.close(dir_fd)


main()
