"""The ``fedpkg-stream`` command: fedpkg (rpkg where fedpkg is absent) with stream-build's subcommands.

Only a launcher: rpkg/fedpkg are imported by their wall (:mod:`streambuild._foreign.rpkg`)
once it runs, so a host without them gets a message and exit 4, not a traceback.
"""

from __future__ import annotations

import sys

from .errors import EXIT_ENVIRONMENT


def main() -> None:
    try:
        from ._foreign import rpkg
    except ImportError as exc:
        print(f"fedpkg-stream: error: neither fedpkg nor rpkg can be imported ({exc}); "
              "install fedpkg (Fedora) or rpkg (pip install rpkg)", file=sys.stderr)
        sys.exit(EXIT_ENVIRONMENT)
    rpkg.main()


if __name__ == "__main__":
    main()
