"""stream-build's extension for fedpkg and rpkg, and the ``fedpkg-stream`` launcher.

rpkg and fedpkg have no plugin hook, so this is an extension module: any tool built
on ``pyrpkg.cli.cliClient`` (fedpkg, rhpkg, rpkg) can add stream-build's subcommands
with one call after building its client::

    import fedpkg_stream
    client = fedpkg.cli.fedpkgClient(config, name="fedpkg")
    fedpkg_stream.register(client)        # stream-build, stream-status, request-stream-branch

``fedpkg-stream`` (this file run as a script, or the console script of the same
name) is fedpkg's client with the three subcommands added, so every fedpkg command
keeps working beside them. Everything lives behind ``streambuild``'s public API
(``fedpkg_register``, ``fedpkg_main``; the rpkg wall is :mod:`streambuild._foreign.rpkg`).
"""

from streambuild import fedpkg_main as main
from streambuild import fedpkg_register as register

__all__ = ["main", "register"]

if __name__ == "__main__":
    main()
