"""The command-line options every front-end shares, each defined once (as pip-tools' ``scripts/options.py``).

``stream-build``'s commands are made of these; ``dnf stream-build``, ``dnf5 stream-build``,
``fedpkg-stream`` and ``koji stream-build`` hand a subcommand's arguments to the same
click commands, so an option has one name, one meaning and one help text everywhere.
The names follow the host tools: ``-y``/``--assumeno`` as DNF, ``--target`` (a Koji build
target), ``-p``/``--profile`` and ``--nowait`` as koji and fedpkg, ``-v``/``-q`` as all of them.
``--config`` always names stream-build's own configuration file (forges, policy, commit
rights); a Koji configuration file is ``--koji-config``.

Importing this module costs click and :mod:`streambuild.cliutil` (a few small modules): value
completion (``--backend``, ``--install-target``, ``--forge``) loads the plugins only when asked.
"""

from __future__ import annotations

from typing import Any, Callable, List, Tuple, TypeVar

import click

from .cliutil import path_option

F = TypeVar("F", bound=Callable[..., Any])


# -- value completion ------------------------------------------------------------------


def _registered(table: str, extra: Tuple[str, ...] = ()) -> Callable[[click.Context, click.Parameter, str], List[str]]:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> List[str]:
        from .plugins import make_plugins

        names = sorted(set(extra) | set(getattr(make_plugins().registry, table)))
        return [name for name in names if name.startswith(incomplete)]

    return complete


def _forges(ctx: click.Context, param: click.Parameter, incomplete: str) -> List[str]:
    from . import forgeconfig
    from .errors import StreamBuildError

    try:
        names = sorted(forgeconfig.load(ctx.params.get("config_path")).forges)
    except StreamBuildError:
        names = sorted(forgeconfig.FORGE_TYPES)
    return [name for name in names if name.startswith(incomplete)]


# -- the options -------------------------------------------------------------------------

manifest = click.option("-m", "--manifest", "manifest_option", metavar="FILE", type=click.Path(dir_okay=False),
                        help="The stream manifest (default: stream-build.yaml in the current directory).")
manifest_argument = click.argument("manifest", required=False, type=click.Path(dir_okay=False))
workdir = click.option("--workdir", type=click.Path(file_okay=False), callback=path_option,
                       help="Work directory (default: .stream-build beside the manifest).")
json_output = click.option("--json", "json_output", is_flag=True,
                           help="Machine-readable output: JSON event lines while working, a JSON summary at the end, "
                                "errors as a JSON object with their exit code.")
verbose = click.option("-v", "--verbose", is_flag=True,
                       help="Show every step, also when standard error is not a terminal.")
quiet = click.option("-q", "--quiet", is_flag=True, help="No progress; only the result, warnings and errors.")
config = click.option("--config", "config_path", metavar="FILE", type=click.Path(dir_okay=False),
                      help="stream-build's configuration file: forges, policy, commit rights (default: "
                           "$STREAM_BUILD_CONFIG, else /etc/stream-build/forges.toml and "
                           "~/.config/stream-build/forges.toml).")
locked = click.option("--locked", is_flag=True, help="Use the lock file as it is; refuse to resolve refs.")
jobs = click.option("-j", "--jobs", type=click.IntRange(1, 256), default=2, show_default=True,
                    help="Components built side by side.")
backend = click.option("--backend", default=None, metavar="NAME", shell_complete=_registered("backend_names", ("auto",)),
                       help="Build backend: auto (mock where installed, else local), local, mock, koji, or a "
                            "plugin's. Default: auto, or koji with --target.")
keep_going = click.option("--keep-going", is_flag=True,
                          help="After a failure, build everything that does not depend on it.")
resume = click.option("--resume", is_flag=True,
                      help="Continue an interrupted run from its lock without rebuilding what finished.")
no_check = click.option("--no-check", is_flag=True, help="Skip the stream policy checks that run before building (logged).")
nowait = click.option("--nowait", is_flag=True,
                      help="Don't wait for the build: start it and return (follow it with 'watch'; Koji: the stream "
                           "task goes on, 'stream-build koji watch' brings its results home).")
target = click.option("--target", metavar="KOJI_TARGET",
                      help="Koji build target to build in (means --backend koji; default: the profile's "
                           "streambuild_target, else one named after the base).")
profile = click.option("-p", "--profile", metavar="PROFILE",
                       help="Koji profile (default: $STREAM_BUILD_KOJI_PROFILE, else 'koji').")
koji_config = click.option("--koji-config", metavar="FILE", type=click.Path(dir_okay=False),
                           help="An extra Koji configuration file to read the profile from (default: "
                                "$STREAM_BUILD_KOJI_CONFIG).")
install_target = click.option("--install-target", metavar="TARGET",
                              shell_complete=_registered("install_targets"),
                              help="Where to install: host, installroot, container, or a plugin's target "
                                   "(default: the manifest's install.type).")
installroot = click.option("--installroot", type=click.Path(file_okay=False), callback=path_option,
                           help="Install into this directory (the installroot target; overrides install.path).")
assumeyes = click.option("-y", "--assumeyes", is_flag=True,
                         help="Answer yes to the confirmation (without it and without a terminal, the answer is no).")
assumeno = click.option("--assumeno", is_flag=True,
                        help="Answer no: show what would be installed, install nothing (wins over -y).")
output = click.option("--output", metavar="oci-archive:PATH",
                      help="Container target: write the image to an archive instead of pushing it.")
forge = click.option("--forge", "forge_name", metavar="NAME", shell_complete=_forges,
                     help="Forge to ask (pagure, forgejo, git, or one from the config; default: its default_forge).")
dist_git = click.option("--dist-git", "dist_git", metavar="URL",
                        help="Base URL of the dist-git repositories ('<URL><name>.git'); moves every dist-git URL "
                             "of the forge (for Pagure also its API, where the branches are read).")
forge_url = click.option("--forge-url", "forge_url", metavar="URL",
                         help="The forge's web/API URL (where requests are filed), overriding the config.")
dry_run = click.option("--dry-run", is_flag=True, help="Check everything and print the request; send nothing.")


def apply(*options: Callable[[F], F]) -> Callable[[F], F]:
    """Decorate a command with ``options`` in the order given (the order ``--help`` lists them)."""

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


#: What every command that reads a manifest takes.
common = apply(manifest, workdir, json_output, verbose, quiet)
#: What every command that builds takes.
building = apply(locked, jobs, backend, target, profile, koji_config, nowait, keep_going, resume, no_check, config)
#: What every command that installs takes.
installing = apply(installroot, install_target, assumeyes, assumeno, output)
#: What every branch-request command takes.
forging = apply(forge, dist_git, forge_url, config, json_output)
