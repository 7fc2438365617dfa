"""The Python side of ``dnf5 stream-build``: DNF5's options mapped onto the stream-build CLI.

DNF5 command plugins are C++ only. ``plugins/dnf5/stream_build_plugin.cpp`` registers
``stream-build`` and its subcommands with DNF5's argument parser and then execs::

    /usr/bin/python3 -m streambuild.dnf5_shim SUBCOMMAND [ARG ...]

with DNF5's global options in the environment:

==================================  =============================================
``STREAM_BUILD_DNF5_INSTALLROOT``   ``--installroot`` (DNF5's value; ``/`` by default)
``STREAM_BUILD_DNF5_RELEASEVER``    ``--releasever``, only when given on the command line
``STREAM_BUILD_DNF5_ASSUMEYES``     ``1`` for ``-y``/``--assumeyes``
``STREAM_BUILD_DNF5_ASSUMENO``      ``1`` for ``--assumeno``
``STREAM_BUILD_DNF5_QUIET``         ``1`` for ``-q``/``--quiet`` (passed on as ``-q``)
==================================  =============================================

Everything is decided here, where it is tested: the C++ only collects and hands
over. The mapping follows ``dnf stream-build`` (the DNF4 plugin): the installroot
and the confirmation options apply to ``install`` (``--assumeno`` wins over ``-y``, as in DNF); an explicit ``--releasever``
must match the stream's base. The process then is ``stream-build`` itself, so its
messages and exit codes (0, 1, 2, 3, 4) are what ``dnf5 stream-build`` returns.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence

import click

from . import frontend
from .errors import InputError, StreamBuildError
from .manifest import load_manifest

SUBCOMMANDS = ("build", "watch", "install", "plan", "lock", "status")
ENV_PREFIX = "STREAM_BUILD_DNF5_"
_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")


@dataclass(frozen=True)
class Dnf5Options:
    """DNF5's global options as the C++ plugin hands them over."""

    installroot: str = "/"
    releasever: Optional[str] = None
    assumeyes: bool = False
    assumeno: bool = False
    quiet: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Dnf5Options":
        def flag(name: str) -> bool:
            value = env.get(ENV_PREFIX + name, "").strip().lower()
            if value not in _TRUE + _FALSE:
                raise InputError(f"{ENV_PREFIX}{name}={value!r}: expected 1 or 0")
            return value in _TRUE

        installroot = env.get(ENV_PREFIX + "INSTALLROOT") or "/"
        if not os.path.isabs(installroot) or "\x00" in installroot:
            raise InputError(f"--installroot {installroot!r} must be an absolute directory")
        releasever = env.get(ENV_PREFIX + "RELEASEVER") or None
        if releasever is not None and (releasever.startswith("-") or any(ch.isspace() for ch in releasever)):
            raise InputError(f"--releasever {releasever!r} is not a release version")
        return cls(os.path.normpath(installroot), releasever, flag("ASSUMEYES"), flag("ASSUMENO"), flag("QUIET"))


def _manifest_argument(subcommand: str, args: Sequence[str]) -> str:
    """The manifest the stream-build command would use (``-m``, else ``stream-build.yaml`` here),
    parsed by that command's own parser."""
    from .cli import load
    from .cliutil import manifest_path

    try:
        ctx = load(subcommand).make_context(subcommand, list(args), resilient_parsing=True)
    except click.ClickException:
        return manifest_path()
    return manifest_path(ctx.params.get("manifest"), ctx.params.get("manifest_option"))


def translate(argv: Sequence[str], options: Dnf5Options) -> List[str]:
    """The ``stream-build`` arguments for ``dnf5 stream-build ARGV…`` with DNF5's ``options``."""
    if not argv:
        raise InputError(f"dnf5 stream-build needs a subcommand: {', '.join(SUBCOMMANDS)}")
    subcommand, rest = argv[0], list(argv[1:])
    if subcommand not in SUBCOMMANDS:
        raise InputError(f"unknown subcommand {subcommand!r} (choose from {', '.join(SUBCOMMANDS)})")
    if options.quiet:
        rest = ["-q", *rest]
    if subcommand != "install":
        return [subcommand, *rest]
    if options.releasever is not None:
        frontend.releasever_for(load_manifest(_manifest_argument(subcommand, rest)), options.releasever)
    extra: List[str] = []
    if options.installroot != "/":
        extra += ["--installroot", options.installroot]
    if options.assumeno:  # --assumeno wins over -y, as in DNF
        extra.append("--assumeno")
    elif options.assumeyes:
        extra.append("-y")
    return [subcommand, *extra, *rest]


def main(argv: Optional[Sequence[str]] = None, env: Optional[Mapping[str, str]] = None) -> None:
    """Entry point the C++ plugin execs: translate, then run ``stream-build`` in this process."""
    from .cli import main as cli_main

    try:
        args = translate(list(sys.argv[1:] if argv is None else argv), Dnf5Options.from_env(os.environ if env is None else env))
    except StreamBuildError as exc:
        click.echo(f"stream-build: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    cli_main(args)


if __name__ == "__main__":
    main()
