"""``stream-build koji build|watch|status|cancel|list``: the koji backend's own commands.

``stream-build build --backend koji`` builds with the default profile and target; these
commands add the koji CLI's conventions: ``--profile``, ``--target``, ``--nowait`` and a
``watch`` that follows a submitted stream (one multicall per poll), downloads its results
and publishes the stream repository, so ``stream-build install`` works afterwards.

This module is imported by :mod:`streambuild.cli` (which registers the group), so it does
not import that module back: it has its own small error handler with the same exit codes.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable, Dict, Mapping, Optional, TypeVar

import click

from ..build import BuildReport, StreamJob
from ..cliutil import handle_errors
from ..errors import BuildFailed
from ..plugins import make_plugins
from ..progress import Progress
from ..stream import Stream, require_success
from . import foreign
from .client import KojiBackend

F = TypeVar("F", bound=Callable[..., Any])


def _handle(func: F) -> F:
    """The exit codes of every command; first of all, the koji client library must be there (exit 4)."""

    @functools.wraps(func)
    def needs_koji(*args: Any, **kwargs: Any) -> Any:
        foreign()
        return func(*args, **kwargs)

    return handle_errors(needs_koji, "interrupted; the Koji tasks go on ('stream-build koji watch' follows them)")


def _options(func: F) -> F:
    for option in reversed((
        click.option("--profile", help="Koji profile (default: $STREAM_BUILD_KOJI_PROFILE or 'koji')."),
        click.option("--config", "config", type=click.Path(dir_okay=False), help="An extra koji configuration file."),
        click.option("--workdir", type=click.Path(file_okay=False), help="Work directory (default: .stream-build beside the manifest)."),
        click.option("--json", "json_output", is_flag=True, help="Machine-readable output."),
    )):
        func = option(func)
    return func


def _stream(manifest: str, workdir: Optional[str], json_output: bool) -> Stream:
    return Stream(manifest, workdir, make_plugins(extra=[Progress.for_terminal(json_output)]))


def _given_session() -> Any:
    """The koji CLI plugin's logged-in session, when it runs these commands (else None)."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return obj.get("session") if isinstance(obj, dict) else None


def _say(line: str) -> None:
    click.echo(f"koji: {line}", err=True)


def _backend(profile: Optional[str], config: Optional[str], json_output: bool, **extra: Any) -> KojiBackend:
    return KojiBackend(profile=profile, config=config, say=_say, session=_given_session(), **extra)


def _summary(report: Any, json_output: bool, regenerations: Optional[Mapping[str, Any]] = None) -> None:
    if json_output:
        summary: Dict[str, Any] = {"event": "summary", "components": [r.to_json() for r in report.results.values()]}
        if regenerations:
            summary["regenerations"] = dict(regenerations)
        click.echo(json.dumps(summary))
        return
    for result in report.results.values():
        line = f"  {result.name:30} {result.state:12}"
        if result.message:
            line += f" {result.message}"
        click.echo(line)
    if regenerations:
        click.echo(f"  repo regenerations of the stream tag: {regenerations.get('count')} "
                   f"(at most {regenerations.get('bound')}: plan depth {regenerations.get('depth')} + 1)")


@click.group("koji")
def koji_group() -> None:
    """Build the stream on a Koji hub (chained scratch builds), follow it, cancel it."""


@koji_group.command("build")
@click.argument("manifest", type=click.Path(dir_okay=False), default="stream-build.yaml")
@_options
@click.option("--target", help="Build target (default: the profile's streambuild_target, else from the base).")
@click.option("--mode", type=click.Choice(["auto", "plugin", "sidetag"]), default="auto", show_default=True,
              help="plugin: the streambuild hub plugin; sidetag: side tag + draft builds; auto: what the hub has.")
@click.option("--nowait", is_flag=True, help="Submit and return; follow with 'stream-build koji watch'.")
@click.option("--locked", is_flag=True, help="Use the lock file as it is; refuse to resolve refs.")
@click.option("--keep-going", is_flag=True, help="After a failure, build everything that does not depend on it.")
@_handle
def build_cmd(manifest: str, profile: Optional[str], config: Optional[str], workdir: Optional[str], json_output: bool,
              target: Optional[str], mode: str, nowait: bool, locked: bool, keep_going: bool) -> None:
    """Build the stream on Koji and publish its repository here."""
    stream = _stream(manifest, workdir, json_output)
    options: Dict[str, Any] = {"profile": profile, "config": config, "target": target, "mode": mode, "nowait": nowait,
                               "say": _say, "session": _given_session()}
    with stream.workdir:
        report, published = stream.build("koji", "locked" if locked else "auto", keep_going,
                                         backend_options={k: v for k, v in options.items() if v is not None})
    _summary(report, json_output)
    if report.pending:
        click.echo("submitted; follow it with: stream-build koji watch " + manifest, err=not json_output)
        return
    require_success(report)
    if published is not None and not json_output:
        click.echo(f"stream repository: {published.stream_repo}")


@koji_group.command("watch")
@click.argument("manifest", type=click.Path(dir_okay=False), default="stream-build.yaml")
@_options
@_handle
def watch_cmd(manifest: str, profile: Optional[str], config: Optional[str], workdir: Optional[str], json_output: bool) -> None:
    """Follow the submitted stream task; bring its results home and publish them."""
    stream = _stream(manifest, workdir, json_output)
    with stream.workdir:
        backend = _backend(profile, config, json_output)
        record = backend.recorded(stream.workdir)
        if record["mode"] != "plugin" or not record.get("task_id"):
            raise BuildFailed("nothing to watch: only streams submitted through the hub plugin have a stream task "
                              "(a side-tag build is driven by 'stream-build koji build' itself)")
        backend.profile_name = profile or record.get("profile") or backend.profile_name
        backend.target_override = record.get("target")
        planned = stream.plan("locked")
        job = StreamJob(stream.manifest, planned.lock, planned.plan, planned.sources, planned.macros, stream.workdir,
                        stream.emit)
        try:
            report = backend.watch_plugin(job, int(record["task_id"]))
        except BuildFailed:
            if backend.regenerations and not json_output:
                _summary(BuildReport(), False, backend.regenerations)
            raise
        published = stream.publish(planned.plan, report) if report.ok else None
    _summary(report, json_output, backend.regenerations)
    require_success(report)
    if published is not None and not json_output:
        click.echo(f"stream repository: {published.stream_repo}")


@koji_group.command("status")
@click.argument("manifest", type=click.Path(dir_okay=False), default="stream-build.yaml")
@_options
@_handle
def status_cmd(manifest: str, profile: Optional[str], config: Optional[str], workdir: Optional[str], json_output: bool) -> None:
    """Show the submitted stream's tasks and their states."""
    stream = _stream(manifest, workdir, False)
    backend = _backend(profile, config, json_output)
    status = backend.status(stream.workdir)
    if json_output:
        click.echo(json.dumps(status, indent=2, sort_keys=True))
        return
    if "task_id" in status:
        click.echo(f"stream task {status['task_id']}: {status['state']} {backend.profile.task_url(status['task_id'])}")
    for comp in status.get("components", []):
        url = backend.profile.task_url(comp["task_id"]) if comp.get("task_id") else ""
        click.echo(f"  {comp['name']:30} {comp['state']:12} {url}")


@koji_group.command("cancel")
@click.argument("manifest", type=click.Path(dir_okay=False), default="stream-build.yaml")
@_options
@_handle
def cancel_cmd(manifest: str, profile: Optional[str], config: Optional[str], workdir: Optional[str], json_output: bool) -> None:
    """Cancel the submitted stream (the owner or a Koji admin)."""
    stream = _stream(manifest, workdir, False)
    backend = _backend(profile, config, json_output)
    result = backend.cancel(stream.workdir)
    if json_output:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        click.echo(f"canceled: {result.get('task_id', result.get('canceled'))}")


@koji_group.command("list")
@click.option("--user", help="Whose streams (default: yours).")
@_options
@_handle
def list_cmd(user: Optional[str], profile: Optional[str], config: Optional[str], workdir: Optional[str], json_output: bool) -> None:
    """List stream tasks on the hub (needs the hub plugin)."""
    backend = _backend(profile, config, json_output)
    streams = backend.list(user)
    if json_output:
        click.echo(json.dumps(streams, indent=2, sort_keys=True))
        return
    for entry in streams:
        click.echo(f"{entry['task_id']:>8} {entry['state']:9} {entry.get('stream') or '':20} {backend.profile.task_url(entry['task_id'])}")


def run_for_koji_cli(command: str, manifest: str, opts: Dict[str, Any], profile: str, client_session: Any) -> int:
    """``koji stream-build COMMAND``: the same commands, on the koji CLI's logged-in session."""
    session = foreign().HubSession(client_session)
    args = [command] + ([] if command == "list" else [manifest]) + ["--profile", profile]
    if opts.get("config"):
        args += ["--config", opts["config"]]
    if opts.get("workdir") and command != "list":
        args += ["--workdir", opts["workdir"]]
    if opts.get("json"):
        args.append("--json")
    if command == "build":
        args += ["--mode", opts.get("mode") or "auto"] + (["--target", opts["target"]] if opts.get("target") else [])
        args += ["--nowait"] if opts.get("nowait") else []
    if command == "list" and opts.get("user"):
        args += ["--user", opts["user"]]
    try:
        koji_group.main(args=args, prog_name="koji stream-build", standalone_mode=False, obj={"session": session})
    except SystemExit as exc:
        return int(exc.code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0
