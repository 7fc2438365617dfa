"""``stream-build install [PACKAGE…]``: packages as positional arguments, as in DNF.

The manifest is ``-m``/``--manifest`` (else ``stream-build.yaml`` in the current directory);
where to install is ``--install-target`` and ``--installroot``. The confirmation is DNF's:
``-y``, ``--assumeno`` (which wins), and without either a question on a terminal, "no" without one.

This path imports neither the Koji nor the forge code, nor the container target unless the
install is into an image (``tests/integration/test_cli.py`` checks).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, List, Optional, Sequence

import click

from . import options
from .cliutil import finish_progress, handle_errors, manifest_path, open_stream, say

Confirm = Optional[Callable[[List[str]], bool]]


def confirmation(assumeyes: bool, assumeno: bool = False) -> Confirm:
    """How an install that changes a host or an installroot is confirmed, as DNF does it.

    ``--assumeno`` wins over ``-y``; with neither, the question is asked on a terminal, and
    without one on standard input the answer is no (DNF's "Operation aborted").
    """
    def show(items: List[str]) -> None:
        click.echo("Installing:\n  " + "\n  ".join(items), err=True)

    if assumeno:
        def refuse(items: List[str]) -> bool:
            show(items)
            click.echo("Operation aborted (--assumeno).", err=True)
            return False

        return refuse
    if assumeyes:
        return None
    if not sys.stdin.isatty():
        def no_terminal(items: List[str]) -> bool:
            show(items)
            click.echo("Is this ok [y/N]: Operation aborted (no terminal to answer on; pass -y to install).", err=True)
            return False

        return no_terminal

    def ask(items: List[str]) -> bool:
        show(items)
        return click.confirm("Is this ok", default=False, err=True)

    return ask


def install_and_say(stream: Any, choice: Any, confirm: Confirm, json_output: bool) -> None:
    from . import frontend

    try:
        outcome = frontend.install(stream, choice, confirm)
    finally:
        finish_progress(stream)
    if json_output:
        click.echo(json.dumps(outcome.to_json()))
    else:
        say(outcome.lines())


@click.command()
@click.argument("packages", nargs=-1, metavar="[PACKAGE]...")
@options.common
@options.installing
@handle_errors
def install(packages: Sequence[str], manifest_option: Optional[str], workdir: Optional[str], json_output: bool,
            verbose: bool, quiet: bool, installroot: Optional[str], install_target: Optional[str], assumeyes: bool,
            assumeno: bool, output: Optional[str]) -> None:
    """Install PACKAGEs built by the stream (default: the manifest's install.packages), asking first as DNF does."""
    from . import frontend

    frontend.check_package_arguments(packages)
    stream = open_stream(manifest_path(None, manifest_option), workdir, json_output, verbose, quiet)
    with stream.workdir:
        choice = frontend.choose_install(stream.manifest, packages, installroot, install_target, output)
        install_and_say(stream, choice, confirmation(assumeyes, assumeno), json_output)


COMMANDS = (install,)
