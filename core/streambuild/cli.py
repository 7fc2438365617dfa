"""The ``stream-build`` command line: a thin layer over :class:`streambuild.stream.Stream`.

Exit codes: 0 success, 1 a build or install failed, 2 bad input (manifest, lock,
arguments, sources), 3 policy denial, 4 environment (missing tool, work directory
in use), 130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, List, Optional, Sequence, TypeVar

import click

from . import __version__
from . import frontend
from . import journal as journal_mod
from . import watch as watch_mod
from .cliutil import emit_json as _emit_json
from .cliutil import handle_errors, path_option
from .audit import ComponentAudit
from .errors import InputError
from .manifest import load_manifest
from .plugins import make_plugins
from .progress import Progress
from .schema import MANIFEST_SCHEMA
from .stream import Stream, require_success

F = TypeVar("F", bound=Callable[..., Any])


# -- shared options ------------------------------------------------------------

manifest_arg = click.argument("manifest", type=click.Path(dir_okay=False), default="stream-build.yaml")
workdir_opt = click.option("--workdir", type=click.Path(file_okay=False), callback=path_option, help="Work directory (default: .stream-build beside the manifest).")
json_opt = click.option("--json", "json_output", is_flag=True, help="Machine-readable output (JSON event lines while working).")
locked_opt = click.option("--locked", is_flag=True, help="Use the lock file as it is; refuse to resolve refs.")
jobs_opt = click.option("-j", "--jobs", type=click.IntRange(1, 256), default=2, show_default=True, help="Components built side by side.")
backend_opt = click.option("--backend", default="auto", show_default=True,
                           help="Build backend: auto (mock where installed, else local), local, mock, koji, or a plugin's.")
keep_going_opt = click.option("--keep-going", is_flag=True, help="After a failure, build everything that does not depend on it.")
resume_opt = click.option("--resume", is_flag=True, help="Continue an interrupted run from its lock without rebuilding what finished.")
installroot_opt = click.option("--installroot", type=click.Path(file_okay=False), callback=path_option, help="Install into this directory (overrides install.path).")
yes_opt = click.option("-y", "--assumeyes", is_flag=True, help="Answer yes to the confirmation (without it and without a terminal, the answer is no).")
no_check_opt = click.option("--no-check", is_flag=True, help="Skip the stream policy checks that run before building (logged).")
no_opt = click.option("--assumeno", is_flag=True, help="Answer no to the confirmation: show what would be installed, install nothing (wins over -y).")
output_opt = click.option("--output", metavar="oci-archive:PATH", help="Container target: write the image to an archive instead of pushing it.")


def _stream(manifest: str, workdir: Optional[str], json_output: bool, jobs: int = 2) -> Stream:
    plugins = make_plugins(extra=[Progress.for_terminal(json_output)])
    return Stream(manifest, workdir, plugins, jobs)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stream-build")
def cli() -> None:
    """Build sets of Fedora packages from upstream release-series branches, in dependency order."""


@cli.command()
@manifest_arg
@json_opt
@handle_errors
def validate(manifest: str, json_output: bool) -> None:
    """Check a manifest without touching the network."""
    m = load_manifest(manifest)
    if json_output:
        _emit_json({"valid": True, "name": m.name, "base": m.base.name, "components": [c.name for c in m.components]})
    else:
        click.echo(f"{manifest}: valid ({len(m.components)} components on {m.base.name})")


@cli.command()
def schema() -> None:
    """Print the manifest's JSON Schema."""
    _emit_json(MANIFEST_SCHEMA)


@cli.command()
@manifest_arg
@workdir_opt
@json_opt
@handle_errors
def lock(manifest: str, workdir: Optional[str], json_output: bool) -> None:
    """Resolve every ref to a commit and write the lock file."""
    stream = _stream(manifest, workdir, json_output)
    with stream.workdir:
        result = stream.lock("update")
    if json_output:
        _emit_json(result.to_json())
    else:
        for comp in result.components:
            click.echo(f"{comp.name:30} {comp.ref:24} {comp.commit}")
        for change in stream.lock_changes:
            click.echo(f"changed: {change}")
        click.echo(f"wrote {stream.lock_path}" if stream.lock_changes else f"{stream.lock_path} is up to date")


@cli.command()
@manifest_arg
@workdir_opt
@json_opt
@locked_opt
@click.option("--dot", is_flag=True, help="Print the graph in Graphviz DOT.")
@handle_errors
def plan(manifest: str, workdir: Optional[str], json_output: bool, locked: bool, dot: bool) -> None:
    """Show the build order: batches, critical path, broken cycles."""
    if json_output and dot:
        raise InputError("--json and --dot cannot be used together")
    stream = _stream(manifest, workdir, False)
    with stream.workdir:
        planned = stream.plan("locked" if locked else "auto")
    if json_output:
        _emit_json(planned.plan.to_json())
    elif dot:
        click.echo(planned.plan.to_dot(), nl=False)
    else:
        click.echo(planned.plan.describe())


def _summary(report: Any, json_output: bool) -> None:
    if json_output:
        click.echo(json.dumps(frontend.summary_json(report)))
        return
    for line in frontend.summary_lines(report):
        click.echo(line)


def _do_build(stream: Stream, backend: str, locked: bool, keep_going: bool, resume: bool, json_output: bool,
              no_check: bool = False) -> None:
    if no_check:
        click.echo("stream-build: warning: --no-check: the stream policies are not checked for this build", err=True)
    report, published = stream.build(backend, "locked" if locked else "auto", keep_going, resume, check=not no_check)
    _summary(report, json_output)
    require_success(report)
    if published is not None and not json_output:
        click.echo(f"stream repository: {published.stream_repo}")


@cli.command()
@manifest_arg
@workdir_opt
@json_opt
@locked_opt
@jobs_opt
@backend_opt
@keep_going_opt
@resume_opt
@no_check_opt
@handle_errors
def build(manifest: str, workdir: Optional[str], json_output: bool, locked: bool, jobs: int, backend: str,
          keep_going: bool, resume: bool, no_check: bool) -> None:
    """Build the stream in dependency order and publish its repository."""
    stream = _stream(manifest, workdir, json_output, jobs)
    with stream.workdir:
        _do_build(stream, backend, locked, keep_going, resume, json_output, no_check)


def _confirm(assumeyes: bool, assumeno: bool = False) -> Optional[Callable[[List[str]], bool]]:
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


def _install(stream: Stream, choice: frontend.InstallChoice, assumeyes: bool, json_output: bool,
             assumeno: bool = False) -> None:
    outcome = frontend.install(stream, choice, _confirm(assumeyes, assumeno))
    if json_output:
        click.echo(json.dumps(outcome.to_json()))
    else:
        for line in outcome.lines():
            click.echo(line)


@cli.command()
@manifest_arg
@click.argument("packages", nargs=-1)
@workdir_opt
@json_opt
@installroot_opt
@click.option("--target", help="Install target (host, installroot, container, or a plugin's); default: the manifest's install.type.")
@yes_opt
@no_opt
@output_opt
@handle_errors
def install(manifest: str, packages: Sequence[str], workdir: Optional[str], json_output: bool,
            installroot: Optional[str], target: Optional[str], assumeyes: bool, assumeno: bool,
            output: Optional[str]) -> None:
    """Install built packages (default: the manifest's install.packages)."""
    stream = _stream(manifest, workdir, json_output)
    with stream.workdir:
        choice = frontend.choose_install(stream.manifest, packages, installroot, target, output)
        _install(stream, choice, assumeyes, json_output, assumeno)


@cli.command()
@manifest_arg
@workdir_opt
@json_opt
@locked_opt
@jobs_opt
@backend_opt
@keep_going_opt
@resume_opt
@installroot_opt
@yes_opt
@no_opt
@output_opt
@no_check_opt
@handle_errors
def run(manifest: str, workdir: Optional[str], json_output: bool, locked: bool, jobs: int, backend: str,
        keep_going: bool, resume: bool, installroot: Optional[str], assumeyes: bool, assumeno: bool,
        output: Optional[str], no_check: bool) -> None:
    """Lock, plan, build and install, following the manifest's install: section."""
    stream = _stream(manifest, workdir, json_output, jobs)
    with stream.workdir:
        choice = None
        if stream.manifest.install is not None or installroot:
            # the install's choices and tools are checked before anything is built
            choice = frontend.choose_install(stream.manifest, (), installroot, None, output)
            frontend.check_install_tools(choice)
        _do_build(stream, backend, locked, keep_going, resume, json_output, no_check)
        if choice is None:
            click.echo("no install: section in the manifest; nothing to install")
            return
        _install(stream, choice, assumeyes, json_output, assumeno)


@cli.command()
@manifest_arg
@workdir_opt
@json_opt
@handle_errors
def status(manifest: str, workdir: Optional[str], json_output: bool) -> None:
    """Show the state of the last run (from the journal)."""
    m = load_manifest(manifest)
    path = os.path.join(workdir or os.path.join(m.directory, ".stream-build"), "journal.jsonl")
    last = journal_mod.last_run(path)
    if last is None:
        raise InputError(f"no run recorded in {path}")
    state = "interrupted (continue with --resume)" if last.interrupted else f"finished: {last.ended.get('outcome')}"  # type: ignore[union-attr]
    audits = {name: ComponentAudit.from_json(record) for name, record in last.audits.items()}
    if json_output:
        _emit_json({"run": last.run, "state": state, "components": last.states,
                    "audit": [a.to_json() for a in audits.values()], "added_edges": last.added_edges,
                    "findings": [f for a in audits.values() for f in a.findings]})
        return
    click.echo(f"run {last.run}: {state}")
    for name, record in last.states.items():
        click.echo(f"  {name:30} {record.get('state')}")
    for line in frontend.audit_lines(audits, last.added_edges):
        click.echo(line)


@cli.command()
@manifest_arg
@workdir_opt
@json_opt
@handle_errors
def watch(manifest: str, workdir: Optional[str], json_output: bool) -> None:
    """Follow the running (or last) build until it ends; exit 1 if it failed or was interrupted."""
    m = load_manifest(manifest)
    watch_mod.print_run(workdir or os.path.join(m.directory, ".stream-build"), json_output, click.echo)


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script: eval "$(stream-build completion bash)"."""
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None  # the three choices are click's own
    click.echo(completer(cli, {}, "stream-build", "_STREAM_BUILD_COMPLETE").source())


from .cli_branch import branch, check  # noqa: E402

cli.add_command(branch)
cli.add_command(check)

from .koji.commands import koji_group  # noqa: E402

cli.add_command(koji_group)


def main(argv: Optional[Sequence[str]] = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="stream-build")


if __name__ == "__main__":
    main()
