"""rpkg and fedpkg (``pyrpkg``, ``fedpkg``): stream-build's subcommands on their command line.

rpkg and fedpkg have no plugin hook. :func:`register` adds ``stream-build``,
``stream-status`` and ``request-stream-branch`` to the argument parser of any
``pyrpkg.cli.cliClient`` (fedpkg's, rhpkg's, rpkg's). Each takes the words after it as
they are and hands them to the click command of the same name
(:mod:`streambuild.cli_fedpkg`), with the clone it runs in: so their options are
stream-build's, ``--help`` says ``usage: fedpkg-stream stream-build …``, and rpkg's own
``-v``, ``-q`` and ``--dry-run`` (before the subcommand) are passed on.

:func:`main` is the ``fedpkg-stream`` launcher: fedpkg's client (rpkg's when fedpkg
is not installed), subclassed to add ours, run the way fedpkg's own ``__main__``
runs it, so every fedpkg command keeps working beside ours.

The package's name, commit and branch come from rpkg itself (``cmd.repo_name``,
``cmd.commithash``, ``cmd.branch_merge``), so rpkg's ``--path``, ``--name`` and
``--release`` mean what they always mean; its dist-git is the clone's remote
(``cmd.push_url``), else rpkg's ``gitbaseurl``. Our subcommands report errors as
stream-build does (``fedpkg-stream: error: …`` and its exit code), also under a host's
own ``main``, which turns other exceptions into exit 1.
"""

from __future__ import annotations

import argparse
import configparser
import logging
import os
import sys
from typing import Any, Callable, List, Optional, Sequence

import pyrpkg
import pyrpkg.cli
import pyrpkg.utils

from .. import render
from ..errors import EXIT_ENVIRONMENT, EXIT_INTERRUPTED, StreamBuildError

try:  # fedpkg is not on PyPI; where it is installed (Fedora), fedpkg-stream is fedpkg plus ours
    import fedpkg
    import fedpkg.cli
except ImportError:  # pragma: no cover - depends on the host
    fedpkg = None

PROG = "fedpkg-stream"
#: Our subcommands and the line rpkg's ``--help`` lists for each.
SUBCOMMANDS = {
    "stream-build": "Build the stream set that contains this package, with this checkout's commit",
    "stream-status": "Show the last build of the stream set that contains this package",
    "request-stream-branch": "Request a release-series branch (release-X.Y) of this repository",
}


def base_client_class() -> type:
    """fedpkg's client class where fedpkg is installed, rpkg's otherwise."""
    return fedpkg.cli.fedpkgClient if fedpkg is not None else pyrpkg.cli.cliClient


def base_name() -> str:
    """The config name of the base client (``/etc/rpkg/<name>.conf``, section ``[<name>]``)."""
    return "fedpkg" if fedpkg is not None else "rpkg"


def _fail(message: str, code: int) -> None:
    print(render.error_line(message, PROG), file=sys.stderr, flush=True)
    sys.exit(code)


def dist_git_of(cmd: Any) -> Optional[str]:
    """Where the clone's package repositories live (``<base><name>.git``): the remote, else rpkg's gitbaseurl."""
    from ..packager import dist_git_base

    candidates: List[Callable[[], Any]] = [lambda: cmd.push_url, lambda: cmd._get_namespace_giturl(cmd.repo_name)]
    for url in candidates:
        try:
            base = dist_git_base(url(), cmd.repo_name)
        except (pyrpkg.rpkgError, KeyError, TypeError, ValueError, AttributeError):
            continue
        if base:
            return base
    return None


def _run(client: Any, name: str) -> Callable[[], Optional[int]]:
    """rpkg calls ``args.command()`` with no arguments: run our click command on the words after ``name``."""

    def command() -> Optional[int]:
        from ..cli_fedpkg import Checkout, fedpkg_group
        from ..cliutil import HostCall, host_args

        args, cmd = client.args, client.cmd
        words = host_args(fedpkg_group, [name, *args.sb_args], verbose=bool(args.v), quiet=bool(args.q))
        try:
            here = Checkout(path=args.path or pyrpkg.utils.getcwd(), name=cmd.repo_name, commit=lambda: cmd.commithash,
                            branch=lambda: cmd.branch_merge, dist_git=lambda: dist_git_of(cmd),
                            dry_run=bool(getattr(args, "dry_run", False)))
            HostCall(client.parser.prog, fedpkg_group, words, {"host": "fedpkg", "checkout": here}).run()
        except StreamBuildError as exc:
            if "--json" in args.sb_args and not getattr(exc, "json_reported", False):
                print(render.error_json(exc, exc.exit_code), flush=True)
            _fail(str(exc), exc.exit_code)
        except pyrpkg.rpkgError as exc:
            _fail(str(exc), 2)
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_INTERRUPTED)
        return 0

    command.__name__ = name
    return command


def register(client: Any) -> None:
    """Add ``stream-build``, ``stream-status`` and ``request-stream-branch`` to ``client``'s subcommands."""
    for name, summary in SUBCOMMANDS.items():
        # every word after the subcommand is ours (prefix_chars: none is an rpkg option), parsed by click
        parser = client.subparsers.add_parser(name, help=summary, description=summary, add_help=False,
                                              prefix_chars="\0")
        parser.add_argument("sb_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        parser.set_defaults(command=_run(client, name))


# -- the launcher -------------------------------------------------------------------


def launcher_class() -> type:
    """The base client (fedpkg's or rpkg's) with our subcommands registered."""
    base = base_client_class()

    class StreamClient(base):  # type: ignore[misc, valid-type]
        def setup_subparsers(self) -> None:
            super().setup_subparsers()
            register(self)

    StreamClient.__name__ = f"Stream{base.__name__}"
    return StreamClient


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``fedpkg-stream``: fedpkg (or rpkg) with stream-build's subcommands, run as fedpkg runs itself."""
    args = list(sys.argv[1:] if argv is None else argv)
    name = base_name()
    pre = pyrpkg.cli.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("-C", "--config", default=f"/etc/rpkg/{name}.conf")
    pre.add_argument("--user-config", default=os.path.join(os.path.expanduser("~"), ".config", "rpkg", f"{name}.conf"))
    known, rest = pre.parse_known_args(args)
    wants_help = not rest or any(h in rest for h in ("-h", "--help", "help"))
    if not os.path.exists(known.config) and not wants_help:
        _fail(f"config file {known.config} does not exist (install {name}, or give -C FILE)", EXIT_ENVIRONMENT)
    config = configparser.ConfigParser()
    config.read(known.config)
    config.read(known.user_config)

    sys.argv = [PROG, *args]  # rpkg's parse_cmdline reads sys.argv
    client = launcher_class()(config, name=name)
    client.parser.prog = PROG
    client.do_imports(site="fedpkg" if fedpkg is not None else None)
    client.parse_cmdline()
    if not client.args.path:
        try:
            client.args.path = pyrpkg.utils.getcwd()
        except Exception:  # noqa: BLE001 - rpkg raises bare errors for a deleted cwd
            _fail("cannot read the current directory (was it deleted?)", EXIT_ENVIRONMENT)

    log = pyrpkg.log
    client.setupLogging(log)
    log.setLevel(logging.DEBUG if client.args.v else logging.WARNING if client.args.q else logging.INFO)
    try:
        sys.exit(client.args.command())
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - rpkg's own commands, reported the way fedpkg's main reports them
        log.error("Could not execute %s: %s", client.args.command.__name__, exc)
        if client.args.v:
            raise
        sys.exit(1)
