"""``fedpkg-stream stream-build|stream-status|request-stream-branch``: stream-build from a dist-git clone.

These are click commands like ``stream-build``'s, made of the same options
(:mod:`streambuild.options`); rpkg's client hands them the words after the subcommand
(:mod:`streambuild._foreign.rpkg`) and the clone it runs in, as a :class:`Checkout` under the
host object ``checkout``:

``stream-build``
    build the stream set that contains this clone's package, with the checkout's commit for it
    (:mod:`streambuild.packager`); fedpkg's option names: ``--target`` (a Koji build target: the
    koji backend), ``--scratch`` (stream builds always are: accepted), ``--nowait``, ``-p``.
``stream-status``
    the state of the set's last build (what ``stream-build status`` prints); ``--watch`` follows it.
``request-stream-branch SERIES``
    ``stream-build branch request <this package> SERIES``; for a ``git`` forge the dist-git is
    where this clone was cloned from (its remote, else rpkg's ``gitbaseurl``) unless ``--dist-git``
    says otherwise. ``--dry-run`` may stand before or after the subcommand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

import click

from . import options
from .cliutil import finish_progress, handle_errors, host, host_object, open_stream, say


@dataclass(frozen=True)
class Checkout:
    """The dist-git clone a command runs in, as rpkg sees it (rpkg's ``--path``, ``--name``, ``--release``)."""

    path: str
    name: str
    commit: Callable[[], str]
    branch: Callable[[], Optional[str]]
    dist_git: Callable[[], Optional[str]]  # where the package's repositories live: '<dist_git><name>.git'
    dry_run: bool = False


def checkout() -> Checkout:
    found = host_object("checkout")
    if not isinstance(found, Checkout):
        raise click.UsageError(f"this command runs in a dist-git clone under fedpkg-stream, not under {host()}")
    return found


@click.group("fedpkg-stream")
def fedpkg_group() -> None:
    """stream-build's subcommands of fedpkg-stream."""


def _manifest(option: Optional[str]) -> str:
    from .manifest import find_manifest

    return find_manifest(option, checkout().path)


@fedpkg_group.command("stream-build")
@options.common
@options.target
@click.option("--scratch", is_flag=True, help="Perform scratch builds (stream builds always are: accepted, implied).")
@options.apply(options.nowait, options.backend, options.jobs, options.keep_going, options.profile, options.koji_config,
               options.no_check, options.config)
@handle_errors
def stream_build(manifest_option: Optional[str], **params: Any) -> None:
    """Build the stream set (a stream-build manifest) that contains this dist-git repository, in dependency
    order, with the current checkout's commit for this package. The commit must be pushed to its branch."""
    from . import frontend, packager, render
    from .stream import require_success

    here = checkout()
    backend, backend_options = frontend.backend_for(params["target"], params["backend"])
    backend_options.update(frontend.koji_options(backend, params["profile"], params["koji_config"]))
    path = _manifest(manifest_option)
    stream = open_stream(path, params["workdir"], params["json_output"], params["verbose"], params["quiet"],
                         params["jobs"], params["config_path"])
    commit, branch = here.commit(), here.branch()
    if not params["json_output"]:
        click.echo(f"building stream set {stream.manifest.name} ({stream.manifest.path}) with {here.name} at "
                   f"{commit[:12]} ({branch})")
    report, published, detached = packager.build_checkout(stream, here.name, branch, commit, backend, backend_options,
                                                          params["keep_going"], params["nowait"])
    finish_progress(stream)
    if detached is not None:
        follow = "fedpkg-stream stream-status --watch" + (f" --manifest {manifest_option}" if manifest_option else "")
        say(render.detached_lines(detached.pid, detached.log, follow, params["json_output"]))
        return
    assert report is not None  # built here: build_checkout reports it
    say(render.build_end(report, published.stream_repo if published else None, params["json_output"]))
    if not report.pending:  # a backend that builds on (koji --nowait) has nothing to publish yet
        require_success(report)


@fedpkg_group.command("stream-status")
@options.common
@click.option("--watch", is_flag=True, help="Follow the build until it ends.")
@handle_errors
def stream_status(manifest_option: Optional[str], workdir: Optional[str], json_output: bool, verbose: bool,
                  quiet: bool, watch: bool) -> None:
    """Show the state of the stream set's last build; --watch follows it until it ends."""
    from . import render
    from . import watch as watch_mod
    from .manifest import load_manifest
    from .workdir import default_root

    root = default_root(load_manifest(_manifest(manifest_option)).path, workdir)
    if watch:
        watch_mod.print_run(root, json_output, click.echo)
    else:
        say(render.status(os.path.join(root, "journal.jsonl"), json_output))


@fedpkg_group.command("request-stream-branch")
@click.argument("series")
@options.forging
@click.option("--upstream", metavar="URL", help="Upstream git repository (default: from the spec's URL:/Source0:).")
@click.option("--from", "start_point", metavar="REF", help="git and forgejo: create the branch from this ref.")
@options.dry_run
@handle_errors
def request_stream_branch(series: str, forge_name: Optional[str], dist_git: Optional[str], forge_url: Optional[str],
                          config_path: Optional[str], json_output: bool, upstream: Optional[str],
                          start_point: Optional[str], dry_run: bool) -> None:
    """Ask the forge for release-series branch SERIES (release-X.Y, or just X.Y) of this repository, once
    upstream has that series."""
    from . import forgeconfig
    from .cli_branch import request

    here = checkout()
    if dist_git is None and forgeconfig.load(config_path).forge(forge_name).type == "git":
        dist_git = here.dist_git()  # a git forge is where this clone came from
    ctx = click.get_current_context()
    ctx.invoke(request, name=here.name, series=series, forge_name=forge_name, dist_git=dist_git, forge_url=forge_url,
               config_path=config_path, json_output=json_output, upstream=upstream, start_point=start_point,
               dry_run=dry_run or here.dry_run)


COMMANDS = (fedpkg_group,)
