"""``stream-build status|watch|completion``: the last run, from the journal; shell completion."""

from __future__ import annotations

from typing import Optional

import click

from . import options
from .cliutil import handle_errors, manifest_path, say


def journal_dir(manifest: Optional[str], manifest_option: Optional[str], workdir: Optional[str]) -> str:
    """The work directory of the manifest the command means (the manifest is read, so a bad one is said)."""
    from .manifest import load_manifest
    from .workdir import default_root

    return default_root(load_manifest(manifest_path(manifest, manifest_option)).path, workdir)


@click.command()
@options.manifest_argument
@options.common
@handle_errors
def status(manifest: Optional[str], manifest_option: Optional[str], workdir: Optional[str], json_output: bool,
           verbose: bool, quiet: bool) -> None:
    """Show the state of the last run (from the journal)."""
    import os

    from . import render

    say(render.status(os.path.join(journal_dir(manifest, manifest_option, workdir), "journal.jsonl"), json_output))


@click.command()
@options.manifest_argument
@options.common
@handle_errors
def watch(manifest: Optional[str], manifest_option: Optional[str], workdir: Optional[str], json_output: bool,
          verbose: bool, quiet: bool) -> None:
    """Follow the running (or last) build until it ends; exit 1 if it failed or was interrupted."""
    from . import watch as watch_mod

    watch_mod.print_run(journal_dir(manifest, manifest_option, workdir), json_output, click.echo)


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script: eval "$(stream-build completion bash)"."""
    from click.shell_completion import get_completion_class

    from .cli import cli

    completer = get_completion_class(shell)
    assert completer is not None  # the three choices are click's own
    click.echo(completer(cli, {}, "stream-build", "_STREAM_BUILD_COMPLETE").source())


COMMANDS = (status, watch, completion)
