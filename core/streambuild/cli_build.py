"""``stream-build validate|schema|lock|plan|build|run``: thin commands over :class:`streambuild.stream.Stream`.

Each imports what it uses when it runs, so ``--help`` costs click and this file.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Sequence

import click

from . import options
from .cliutil import finish_progress, handle_errors, manifest_path, open_stream, say


@click.command()
@options.manifest_argument
@options.common
@handle_errors
def validate(manifest: Optional[str], manifest_option: Optional[str], workdir: Optional[str], json_output: bool,
             verbose: bool, quiet: bool) -> None:
    """Check a manifest without touching the network."""
    from .manifest import load_manifest

    path = manifest_path(manifest, manifest_option)
    m = load_manifest(path)
    if json_output:
        click.echo(json.dumps({"valid": True, "name": m.name, "base": m.base.name,
                               "components": [c.name for c in m.components]}, indent=2, sort_keys=True))
    else:
        click.echo(f"{path}: valid ({len(m.components)} components on {m.base.name})")


@click.command()
def schema() -> None:
    """Print the manifest's JSON Schema."""
    from .schema import MANIFEST_SCHEMA

    click.echo(json.dumps(MANIFEST_SCHEMA, indent=2, sort_keys=True))


@click.command()
@options.manifest_argument
@options.common
@handle_errors
def lock(manifest: Optional[str], manifest_option: Optional[str], workdir: Optional[str], json_output: bool,
         verbose: bool, quiet: bool) -> None:
    """Resolve every ref to a commit and write the lock file."""
    stream = open_stream(manifest_path(manifest, manifest_option), workdir, False, verbose, quiet)
    with stream.workdir:
        result = stream.lock("update")
    if json_output:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return
    say(f"{comp.name:30} {comp.ref:24} {comp.commit}" for comp in result.components)
    say(f"changed: {change}" for change in stream.lock_changes)
    click.echo(f"wrote {stream.lock_path}" if stream.lock_changes else f"{stream.lock_path} is up to date")


@click.command()
@options.manifest_argument
@options.common
@options.locked
@click.option("--dot", is_flag=True, help="Print the graph in Graphviz DOT.")
@handle_errors
def plan(manifest: Optional[str], manifest_option: Optional[str], workdir: Optional[str], json_output: bool,
         verbose: bool, quiet: bool, locked: bool, dot: bool) -> None:
    """Show the build order: batches, critical path, broken cycles."""
    from .errors import InputError

    if json_output and dot:
        raise InputError("--json and --dot cannot be used together")
    stream = open_stream(manifest_path(manifest, manifest_option), workdir, False, verbose, quiet)
    with stream.workdir:
        planned = stream.plan("locked" if locked else "auto")
    if json_output:
        click.echo(json.dumps(planned.plan.to_json(), indent=2, sort_keys=True))
    elif dot:
        click.echo(planned.plan.to_dot(), nl=False)
    else:
        click.echo(planned.plan.describe())


def do_build(stream: Any, params: Any, backend_extra: Optional[Dict[str, Any]] = None) -> Any:
    """The build of ``build`` and ``run`` (and of the hosts that run them): the backend ``--target``,
    ``--backend``, ``-p`` and ``--koji-config`` mean, ``--nowait``, the result printed. Returns the
    report of a build that ended here (None when it goes on elsewhere)."""
    from . import frontend, render
    from .stream import require_success

    backend, backend_options = frontend.backend_for(params["target"], params["backend"])
    backend_options.update(frontend.koji_options(backend, params["profile"], params["koji_config"]))
    backend_options.update(backend_extra or {})
    if params["no_check"]:
        stream.warn("--no-check: the stream policies are not checked for this build", kind="policy")
    report, published, detached = frontend.run_build(
        stream, backend, backend_options, "locked" if params["locked"] else "auto", params["keep_going"],
        params["resume"], check=not params["no_check"], nowait=params["nowait"])
    finish_progress(stream)
    if detached is not None:
        say(render.detached_lines(detached.pid, detached.log, f"stream-build watch {stream.manifest.path}",
                                  params["json_output"]))
        return None
    assert report is not None  # built here: run_build reports it
    say(render.build_end(report, published.stream_repo if published else None, params["json_output"]))
    if report.pending:
        click.echo(f"submitted; follow it with: stream-build koji watch {stream.manifest.path}", err=True)
        return None
    require_success(report)
    return report


@click.command()
@options.manifest_argument
@options.common
@options.building
@handle_errors
def build(manifest: Optional[str], manifest_option: Optional[str], **params: Any) -> None:
    """Build the stream in dependency order and publish its repository."""
    stream = open_stream(manifest_path(manifest, manifest_option), params["workdir"], params["json_output"],
                         params["verbose"], params["quiet"], params["jobs"], params["config_path"])
    do_build(stream, params)


@click.command()
@options.manifest_argument
@options.common
@options.building
@options.installing
@handle_errors
def run(manifest: Optional[str], manifest_option: Optional[str], **params: Any) -> None:
    """Lock, plan, build and install, following the manifest's install: section."""
    from . import frontend
    from .cli_install import confirmation, install_and_say
    from .errors import InputError

    if params["nowait"]:
        raise InputError("run installs what it builds: --nowait applies to build")
    stream = open_stream(manifest_path(manifest, manifest_option), params["workdir"], params["json_output"],
                         params["verbose"], params["quiet"], params["jobs"], params["config_path"])
    choice = None
    with stream.workdir:
        if stream.manifest.install is not None or params["installroot"] or params["install_target"]:
            # the install's choices and tools are checked before anything is built
            choice = frontend.choose_install(stream.manifest, (), params["installroot"], params["install_target"],
                                             params["output"])
            frontend.check_install_tools(choice)
    if do_build(stream, params) is None:
        return
    if choice is None:
        click.echo("no install: section in the manifest; nothing to install")
        return
    with stream.workdir:
        install_and_say(stream, choice, confirmation(params["assumeyes"], params["assumeno"]), params["json_output"])


COMMANDS: Sequence[click.Command] = (validate, schema, lock, plan, build, run)
