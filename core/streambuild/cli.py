"""The ``stream-build`` command line: a thin layer over :class:`streambuild.stream.Stream`.

Subcommands live in modules of their own and are imported only when used (``COMMANDS``
names each with its one-line help, so ``stream-build --help`` imports none of them;
``tests/unit/test_docs.py`` checks the table against the commands). The shared options are
:mod:`streambuild.options`, the shared printing :mod:`streambuild.render`.

Exit codes: 0 success, 1 a build or install failed, 2 bad input (manifest, lock,
arguments, sources), 3 policy denial, 4 environment (missing tool, work directory
in use), 130 interrupted. With ``--json``, an error is also a JSON object on standard output.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, List, Optional, Sequence, Tuple

import click

from . import __version__

#: name -> (module:attribute, its one-line help as ``--help`` lists it; checked by tests/unit/test_docs.py).
COMMANDS = {
    'validate': ('streambuild.cli_build:validate', 'Check a manifest without touching the network.'),
    'schema': ('streambuild.cli_build:schema', "Print the manifest's JSON Schema."),
    'lock': ('streambuild.cli_build:lock', 'Resolve every ref to a commit and write the lock file.'),
    'plan': ('streambuild.cli_build:plan', 'Show the build order: batches, critical path, broken cycles.'),
    'build': ('streambuild.cli_build:build', 'Build the stream in dependency order and publish its repository.'),
    'run': ('streambuild.cli_build:run', "Lock, plan, build and install, following the manifest's install: section."),
    'install': ('streambuild.cli_install:install',
               "Install PACKAGEs built by the stream (default: the manifest's install.packages), asking first as DNF does."),
    'status': ('streambuild.cli_status:status', 'Show the state of the last run (from the journal).'),
    'watch': ('streambuild.cli_status:watch',
             'Follow the running (or last) build until it ends; exit 1 if it failed or was interrupted.'),
    'check': ('streambuild.cli_check:check',
             'Check the stream set against every stream policy before anything is built (exit 3 on a denial).'),
    'branch': ('streambuild.cli_branch:branch',
              'Release-series branches of dist-git repositories: request, list, follow.'),
    'koji': ('streambuild.koji.commands:koji_group',
            'Build the stream on a Koji hub (chained scratch builds), follow it, cancel it.'),
    'completion': ('streambuild.cli_status:completion',
                  'Print the shell completion script: eval "$(stream-build completion bash)".'),
}


def load(name: str) -> click.Command:
    """The click command ``name`` (one of :data:`COMMANDS`), imported now."""
    module, _, attribute = COMMANDS[name][0].partition(":")
    command: click.Command = getattr(importlib.import_module(module), attribute)
    return command


class LazyGroup(click.Group):
    """A group whose subcommands are imported when one runs; ``--help`` lists them from :data:`COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> List[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        return load(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: List[Tuple[str, str]] = [(name, short) for name, (_path, short) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, args: Optional[Sequence[str]] = None, prog_name: Optional[str] = None,  # type: ignore[override]
             **extra: Any) -> Any:
        """click's ``main``; with ``--json`` a usage error is also a JSON object on standard output."""
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(args=argv, prog_name=prog_name, standalone_mode=False, **extra)
        except click.ClickException as exc:
            if "--json" in argv:
                from . import render

                click.echo(render.error_json(exc, exc.exit_code))
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stream-build")
def cli() -> None:
    """Build sets of Fedora packages from upstream release-series branches, in dependency order."""


def main(argv: Optional[Sequence[str]] = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="stream-build")


if __name__ == "__main__":
    main()
