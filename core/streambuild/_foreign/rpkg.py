"""rpkg and fedpkg (``pyrpkg``, ``fedpkg``): stream-build's subcommands on their command line.

rpkg and fedpkg have no plugin hook. :func:`register` adds our subcommands to the
argument parser of any ``pyrpkg.cli.cliClient`` (fedpkg's, rhpkg's, rpkg's):

``stream-build``
    build the stream set that contains the current dist-git checkout, with the
    checkout's commit for this package (:mod:`streambuild.packager`); fedpkg's option
    names: ``--target`` (a Koji build target: the koji backend), ``--scratch`` (stream
    builds are always scratch builds; accepted, implied), ``--nowait``.
``stream-status``
    the state of the set's last build; ``--watch`` follows it until it ends.
``request-stream-branch SERIES``
    ask for a release-series branch of the current repository: hands over to
    ``stream-build branch request <this package> SERIES``.

:func:`main` is the ``fedpkg-stream`` launcher: fedpkg's client (rpkg's when fedpkg
is not installed), subclassed to add ours, run the way fedpkg's own ``__main__``
runs it, so every fedpkg command keeps working beside ours.

The package's name, commit and branch come from rpkg itself (``cmd.repo_name``,
``cmd.commithash``, ``cmd.branch_merge``), so rpkg's ``--path``, ``--name`` and
``--release`` mean what they always mean. Our subcommands report errors as
stream-build does (``fedpkg-stream: error: …`` and its exit code), also under a host's
own ``main``, which turns other exceptions into exit 1.
"""

from __future__ import annotations

import argparse
import configparser
import importlib
import json
import logging
import os
import sys
from typing import Any, Callable, Optional, Sequence

import pyrpkg  # type: ignore[import-untyped]
import pyrpkg.cli  # type: ignore[import-untyped]
import pyrpkg.utils  # type: ignore[import-untyped]

from .. import frontend, packager
from .. import journal as journal_mod
from .. import watch as watch_mod
from ..errors import EXIT_ENVIRONMENT, EXIT_INTERRUPTED, InputError, StreamBuildError
from ..manifest import load_manifest
from ..plugins import make_plugins
from ..progress import Progress
from ..stream import Stream, require_success
from ..workdir import WorkDir

try:  # fedpkg is not on PyPI; where it is installed (Fedora), fedpkg-stream is fedpkg plus ours
    import fedpkg  # type: ignore[import-not-found]
    import fedpkg.cli  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the host
    fedpkg = None

PROG = "fedpkg-stream"
SUBCOMMANDS = ("stream-build", "stream-status", "request-stream-branch")


def base_client_class() -> type:
    """fedpkg's client class where fedpkg is installed, rpkg's otherwise."""
    return fedpkg.cli.fedpkgClient if fedpkg is not None else pyrpkg.cli.cliClient


def base_name() -> str:
    """The config name of the base client (``/etc/rpkg/<name>.conf``, section ``[<name>]``)."""
    return "fedpkg" if fedpkg is not None else "rpkg"


def _fail(message: str, code: int) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def _command(client: Any, run: Callable[[Any], Optional[int]]) -> Callable[[], Optional[int]]:
    """rpkg calls ``args.command()`` with no arguments; ours need the client and stream-build's errors."""

    def command() -> Optional[int]:
        try:
            return run(client)
        except StreamBuildError as exc:
            _fail(str(exc), exc.exit_code)
        except pyrpkg.rpkgError as exc:
            _fail(str(exc), 2)
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_INTERRUPTED)
        return None

    command.__name__ = run.__name__.lstrip("_")
    return command


def register(client: Any) -> None:
    """Add ``stream-build``, ``stream-status`` and ``request-stream-branch`` to ``client``'s subcommands."""
    sub = client.subparsers

    build = sub.add_parser(
        "stream-build", help="Build the stream set that contains this package, with this checkout's commit",
        description="Build the stream set (a stream-build manifest) that contains this dist-git repository, "
                    "in dependency order, with the current checkout's commit for this package. The commit must "
                    "be pushed to its branch.")
    _stream_options(build)
    build.add_argument("--target", default=None, help="Koji build target to build in (means --backend koji)")
    build.add_argument("--scratch", action="store_true", default=False,
                       help="Perform scratch builds (stream builds always are: accepted and implied)")
    build.add_argument("--nowait", action="store_true", default=False,
                       help="Don't wait on the build: start it and return; follow it with stream-status --watch")
    build.add_argument("--backend", default=None, help="Build backend: auto (default: mock where installed, else local), local, mock, koji")
    build.add_argument("-j", "--jobs", type=int, default=2, help="Components built side by side (default: 2)")
    build.add_argument("--keep-going", action="store_true", default=False,
                       help="After a failure, build everything that does not depend on it")
    build.set_defaults(command=_command(client, _stream_build))

    status = sub.add_parser("stream-status", help="Show the last build of the stream set that contains this package",
                            description="Show the state of the stream set's last build; --watch follows it.")
    _stream_options(status)
    status.add_argument("--watch", action="store_true", default=False, help="Follow the build until it ends")
    status.set_defaults(command=_command(client, _stream_status))

    branch = sub.add_parser(
        "request-stream-branch", help="Request a release-series branch (release-X.Y) of this repository",
        description="Ask the forge for release-series branch SERIES of this repository, once upstream has that "
                    "series. Hands over to 'stream-build branch request'. Use the global --dry-run to see the "
                    "request without sending it.")
    branch.add_argument("series", metavar="SERIES", help="release-X.Y, or just X.Y")
    branch.add_argument("--forge", dest="sb_forge", metavar="NAME", help="forge to ask (pagure, forgejo, git, ...)")
    branch.add_argument("--dist-git", dest="sb_dist_git", metavar="URL", help="base URL of the dist-git repositories")
    branch.add_argument("--forge-url", dest="sb_forge_url", metavar="URL", help="the forge's web/API URL")
    branch.add_argument("--forges-config", dest="sb_forges_config", metavar="FILE", help="stream-build's forges config")
    branch.add_argument("--upstream", dest="sb_upstream", metavar="URL", help="upstream git repository")
    branch.add_argument("--from", dest="sb_from", metavar="REF", help="create the branch from this ref")
    branch.add_argument("--json", dest="sb_json", action="store_true", default=False, help="machine-readable output")
    branch.set_defaults(command=_command(client, _request_stream_branch))


def _stream_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", dest="sb_manifest", metavar="FILE",
                        help="the stream set (default: stream-build.yaml in the repository)")
    parser.add_argument("--workdir", dest="sb_workdir", metavar="DIR",
                        help="work directory (default: .stream-build beside the manifest)")
    parser.add_argument("--json", dest="sb_json", action="store_true", default=False,
                        help="machine-readable output")


def _checkout(client: Any) -> str:
    return client.args.path or pyrpkg.utils.getcwd()


def _say(text: str) -> None:
    print(text, flush=True)


# -- the subcommands ----------------------------------------------------------------


def _stream_build(client: Any) -> Optional[int]:
    args, cmd = client.args, client.cmd
    if args.jobs < 1:
        raise InputError("--jobs must be at least 1")
    backend, options = packager.backend_for(args.target, args.backend)
    manifest = packager.find_manifest(_checkout(client), args.sb_manifest)
    name, commit, branch = cmd.repo_name, cmd.commithash, cmd.branch_merge
    stream = Stream(manifest, args.sb_workdir, make_plugins(extra=[Progress.for_terminal(args.sb_json)]), args.jobs)
    if not args.sb_json:
        _say(f"building stream set {stream.manifest.name} ({stream.manifest.path}) with {name} at {commit[:12]} ({branch})")
    report, published, detached = packager.build_checkout(
        stream, name, branch, commit, backend, options, args.keep_going, args.nowait)
    if detached is not None:
        if args.sb_json:
            _say(json.dumps({"event": "started", "pid": detached.pid, "log": detached.log}))
        else:
            _say(f"started in the background (pid {detached.pid}, log {detached.log})")
            _say(f"follow it with: {PROG} stream-status --watch" + (f" --manifest {manifest}" if args.sb_manifest else ""))
        return 0
    assert report is not None
    if args.sb_json:
        _say(json.dumps({"event": "summary", "components": [r.to_json() for r in report.results.values()]}))
    else:
        for line in frontend.summary_lines(report):
            _say(line)
    if getattr(report, "pending", False):  # submitted to a backend that builds on (koji --nowait)
        return 0
    require_success(report)
    if published is not None and not args.sb_json:
        _say(f"stream repository: {published.stream_repo}")
    return 0


def _stream_status(client: Any) -> Optional[int]:
    args = client.args
    manifest = load_manifest(packager.find_manifest(_checkout(client), args.sb_manifest))
    workdir = WorkDir(args.sb_workdir or os.path.join(manifest.directory, ".stream-build"))
    if args.watch:
        watch_mod.print_run(workdir.root, args.sb_json, _say)
        return 0
    last = journal_mod.last_run(workdir.journal)
    if last is None:
        raise InputError(f"no run recorded in {workdir.journal}")
    state = "interrupted (continue with --resume)" if last.interrupted else f"finished: {last.ended.get('outcome')}"  # type: ignore[union-attr]
    if args.sb_json:
        _say(json.dumps({"run": last.run, "state": state, "components": last.states}, sort_keys=True))
        return 0
    _say(f"run {last.run}: {state}")
    for name, record in last.states.items():
        _say(f"  {name:30} {record.get('state')}")
    return 0


def _branch_group() -> Any:
    """stream-build's ``branch`` command group, where the branch-request work is installed."""
    from ..cli import cli

    group = cli.commands.get("branch")
    if group is not None:
        return group
    try:
        return importlib.import_module("streambuild.cli_branch").branch
    except (ImportError, AttributeError):
        return None


def _request_stream_branch(client: Any) -> Optional[int]:
    args = client.args
    group = _branch_group()
    if group is None:
        _fail("request-stream-branch: not yet available: this stream-build has no branch requests "
              "(the 'stream-build branch' commands); ask for the branch as your forge documents", EXIT_ENVIRONMENT)
    forwarded = ["request", client.cmd.repo_name, args.series]
    for option, value in (("--forge", args.sb_forge), ("--dist-git", args.sb_dist_git),
                          ("--forge-url", args.sb_forge_url), ("--config", args.sb_forges_config),
                          ("--upstream", args.sb_upstream), ("--from", args.sb_from)):
        if value is not None:
            forwarded += [option, value]
    if args.sb_json:
        forwarded.append("--json")
    if args.dry_run:
        forwarded.append("--dry-run")
    group.main(args=forwarded, prog_name=f"{PROG} request-stream-branch", standalone_mode=True)
    return 0


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
