"""``stream-build koji build|watch|status|cancel|list``: the koji backend's own commands.

``stream-build build --target T`` (or ``--backend koji``) builds on Koji too; these commands
add what only Koji has: ``--mode``, a ``watch`` that follows a submitted stream (one
multicall per poll), downloads its results and publishes the stream repository (so
``stream-build install`` works afterwards), ``status``, ``cancel`` and ``list``. The options
are koji's: ``-p``/``--profile``, ``--target``, ``--nowait``; ``--koji-config`` is an extra
Koji configuration file (``--config`` is stream-build's own, as everywhere).

``koji stream-build …`` (the koji CLI plugin) runs these same commands with the CLI's
session, profile and configuration file (:func:`koji_cli_main`).
"""

from __future__ import annotations

import json
from typing import Any, Optional, Sequence

import click

from .. import options, render
from ..cliutil import finish_progress, handle_errors, host_object, manifest_path, open_stream, say

INTERRUPTED = "interrupted; the Koji tasks go on ('stream-build koji watch' follows them)"


def _handle(func: Any) -> Any:
    """The exit codes of every command; first of all, the koji client library must be there (exit 4)."""
    from functools import wraps

    @wraps(func)
    def needs_koji(*args: Any, **kwargs: Any) -> Any:
        from . import foreign

        foreign()
        return func(*args, **kwargs)

    return handle_errors(needs_koji, INTERRUPTED)


def _say(line: str) -> None:
    click.echo(f"koji: {line}", err=True)


def _backend(profile: Optional[str], koji_config: Optional[str], **extra: Any) -> Any:
    from .client import KojiBackend

    return KojiBackend(profile=profile or host_object("profile"), config=koji_config or host_object("koji_config"),
                       say=_say, session=host_object("session"), **extra)


koji_options = options.apply(options.profile, options.koji_config)


@click.group("koji")
def koji_group() -> None:
    """Build the stream on a Koji hub (chained scratch builds), follow it, cancel it."""


@koji_group.command("build")
@options.manifest_argument
@options.common
@koji_options
@options.target
@click.option("--mode", type=click.Choice(["auto", "plugin", "sidetag"]), default="auto", show_default=True,
              help="plugin: the streambuild hub plugin; sidetag: side tag + draft builds; auto: what the hub has.")
@options.apply(options.nowait, options.locked, options.keep_going, options.no_check, options.config)
@_handle
def build_cmd(manifest: Optional[str], manifest_option: Optional[str], mode: str, **params: Any) -> None:
    """Build the stream on Koji and publish its repository here."""
    from ..cli_build import do_build

    stream = open_stream(manifest_path(manifest, manifest_option), params["workdir"], params["json_output"],
                         params["verbose"], params["quiet"], config=params["config_path"])
    params.update(backend="koji", resume=False, jobs=1, profile=params["profile"] or host_object("profile"),
                  koji_config=params["koji_config"] or host_object("koji_config"))
    do_build(stream, params, {"mode": mode, "say": _say, "session": host_object("session")})


@koji_group.command("watch")
@options.manifest_argument
@options.common
@koji_options
@_handle
def watch_cmd(manifest: Optional[str], manifest_option: Optional[str], workdir: Optional[str], json_output: bool,
              verbose: bool, quiet: bool, profile: Optional[str], koji_config: Optional[str]) -> None:
    """Follow the submitted stream task; bring its results home and publish them."""
    from .. import render
    from ..build import StreamJob
    from ..errors import BuildFailed
    from ..stream import require_success

    stream = open_stream(manifest_path(manifest, manifest_option), workdir, json_output, verbose, quiet)
    with stream.workdir:
        backend = _backend(profile, koji_config)
        record = backend.recorded(stream.workdir)
        if record["mode"] != "plugin" or not record.get("task_id"):
            raise BuildFailed("nothing to watch: only streams submitted through the hub plugin have a stream task "
                              "(a side-tag build is driven by 'stream-build koji build' itself)")
        backend.profile_name = profile or host_object("profile") or record.get("profile") or backend.profile_name
        backend.target_override = record.get("target")
        planned = stream.plan("locked")
        job = StreamJob(stream.manifest, planned.lock, planned.plan, planned.sources, planned.macros, stream.workdir,
                        stream.emit)
        try:
            report = backend.watch_plugin(job, int(record["task_id"]))
        except BuildFailed:
            if backend.regenerations and not json_output:
                say([render.regeneration_line(backend.regenerations)])
            raise
        published = stream.publish(planned.plan, report) if report.ok else None
    finish_progress(stream)
    say(render.build_end(report, published.stream_repo if published else None, json_output, backend.regenerations))
    require_success(report)


def _manifest_command(name: str, doc: str, show: Any) -> click.Command:
    @koji_group.command(name, help=doc)
    @options.manifest_argument
    @options.manifest
    @options.workdir
    @options.json_output
    @koji_options
    @_handle
    def command(manifest: Optional[str], manifest_option: Optional[str], workdir: Optional[str], json_output: bool,
                profile: Optional[str], koji_config: Optional[str]) -> None:
        from ..manifest import load_manifest
        from ..workdir import WorkDir, default_root

        path = load_manifest(manifest_path(manifest, manifest_option)).path
        backend = _backend(profile, koji_config)
        result = show(backend, WorkDir(default_root(path, workdir)))
        if json_output:
            click.echo(json.dumps(result, indent=2, sort_keys=True))
        else:
            say(render.koji_lines(name, result, backend.profile.task_url))

    return command


status_cmd = _manifest_command("status", "Show the submitted stream's tasks and their states.",
                               lambda backend, workdir: backend.status(workdir))
cancel_cmd = _manifest_command("cancel", "Cancel the submitted stream (the owner or a Koji admin).",
                               lambda backend, workdir: backend.cancel(workdir))


@koji_group.command("list")
@click.option("--user", help="Whose streams (default: yours).")
@options.json_output
@koji_options
@_handle
def list_cmd(user: Optional[str], json_output: bool, profile: Optional[str], koji_config: Optional[str]) -> None:
    """List stream tasks on the hub (needs the hub plugin)."""
    backend = _backend(profile, koji_config)
    streams = backend.list(user)
    if json_output:
        click.echo(json.dumps(streams, indent=2, sort_keys=True))
        return
    say(render.koji_lines("list", {"streams": streams}, backend.profile.task_url))


def koji_cli_main(args: Sequence[str], goptions: Any, session: Any) -> int:
    """``koji stream-build ARGS…``: these commands on the koji CLI's logged-in session, its ``-p`` and ``-c``."""
    from . import foreign
    from ..cliutil import host_args, run_for_host

    args = host_args(koji_group, args, verbose=bool(getattr(goptions, "debug", False)),
                     quiet=bool(getattr(goptions, "quiet", False)))
    return run_for_host(koji_group, args, "koji stream-build", {
        "host": "koji", "session": foreign().HubSession(session), "profile": getattr(goptions, "profile", None),
        "koji_config": getattr(goptions, "configFile", None)}, INTERRUPTED)


COMMANDS = (koji_group,)
