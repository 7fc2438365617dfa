"""``stream-build branch request|list|status`` and ``stream-build check``: thin commands over the library.

The branch commands ask a forge (:mod:`streambuild.forges`) through
:mod:`streambuild.branches`; ``check`` runs :func:`streambuild.policy.check.run_check`.
Defaults come from the forges config file (:mod:`streambuild.forgeconfig`): a Fedora
packager types ``stream-build branch request python3.11 release-3.11``. Tokens are
read from the config file or the environment, never from options.

This module is imported by :mod:`streambuild.cli` (which registers its commands), so
it does not import that module: it has its own small error handler with the same
contract (message on stderr, the error's documented exit code, no traceback).

Exit codes: 0 done (the branch exists, was created or requested, or a request is
already open; ``check``: no rule denies), 1 ``branch status`` ended without the
branch (the request was closed, or the wait timed out), 2 bad input (names, series,
config, a package the forge does not have, a refused token), 3 ``check``: a rule
denies, 4 the forge cannot be reached or answers errors (5xx, rate limits, not JSON).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable, Optional, TypeVar

import click

from . import branches as branches_mod
from . import forgeconfig, values
from .policy.check import CheckOptions, run_check
from .cliutil import emit_json as _emit_json
from .cliutil import handle_errors
from .errors import BranchNotCreated, InputError, PolicyDenied
from .forges import DRY_RUN, ForgeBackend, RequestResult, make_forge
from .plugins import make_plugins
from .policy import ALLOW, DENY, WARN, denials
from .stream import Stream

F = TypeVar("F", bound=Callable[..., Any])


config_opt = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                          help="Forges config file (default: $STREAM_BUILD_CONFIG, ~/.config/stream-build/forges.toml, "
                               "/etc/stream-build/forges.toml).")
json_opt = click.option("--json", "json_output", is_flag=True, help="Machine-readable output.")


def _forge_options(func: F) -> F:
    for option in reversed([
        click.option("--forge", "forge_name", metavar="NAME",
                     help="Forge to ask (pagure, forgejo, git, or one from the config; default: the config's default_forge)."),
        click.option("--dist-git", "dist_git", metavar="URL",
                     help="Base URL of the dist-git repositories ('<URL><name>.git'), overriding the config."),
        click.option("--forge-url", "forge_url", metavar="URL", help="The forge's web/API URL, overriding the config."),
        config_opt,
        json_opt,
    ]):
        func = option(func)
    return func


def _forge(config_path: Optional[str], forge_name: Optional[str], dist_git: Optional[str],
           forge_url: Optional[str]) -> "tuple[forgeconfig.Config, ForgeBackend]":
    config = forgeconfig.load(config_path)
    settings = config.forge(forge_name)
    changes = {}
    if dist_git:
        changes["dist_git"] = values.as_base_url(values.check_url(dist_git, "--dist-git"))
    if forge_url:
        changes["url"] = values.check_url(forge_url, "--forge-url", schemes=("https", "http")).rstrip("/")
    if changes:
        settings = dataclasses.replace(settings, **changes)
    return config, make_forge(make_plugins(), settings, config.http)


def _show(result: RequestResult, json_output: bool) -> None:
    if json_output:
        _emit_json(result.to_json())
        return
    click.echo(result.message)
    if result.state == DRY_RUN and result.request is not None:
        request = result.request
        click.echo(f"would send: {request.get('method')} {request.get('url')}")
        for key, value in (request.get("headers") or {}).items():
            click.echo(f"  {key}: {value}")
        if request.get("body") is not None:
            click.echo(json.dumps(request["body"], indent=2, sort_keys=True))
        if request.get("command"):
            click.echo("  " + " ".join(request["command"]))


@click.group()
def branch() -> None:
    """Release-series branches of dist-git repositories: request, list, follow."""


@branch.command()
@click.argument("name")
@click.argument("series")
@_forge_options
@click.option("--upstream", metavar="URL", help="Upstream git repository (default: from the spec's URL:/Source0:).")
@click.option("--from", "start_point", metavar="REF", help="git and forgejo: create the branch from this ref "
              "(default: the repository's default branch).")
@click.option("--dry-run", is_flag=True, help="Check everything and print the request; send nothing.")
@handle_errors
def request(name: str, series: str, forge_name: Optional[str], dist_git: Optional[str], forge_url: Optional[str],
            config_path: Optional[str], json_output: bool, upstream: Optional[str], start_point: Optional[str],
            dry_run: bool) -> None:
    """Ask for branch SERIES (release-X.Y, or just X.Y) of package NAME, once upstream has that series."""
    config, forge = _forge(config_path, forge_name, dist_git, forge_url)
    if start_point and forge.settings.type == "pagure":
        raise InputError("--from does not apply to Pagure requests: release engineering creates the branch "
                         "from the default branch (use the forgejo or git forge to choose a start point)")
    result = branches_mod.request_branch(
        forge, name, series, branches_mod.SeriesConvention.from_policy(config.policy), upstream, start_point, dry_run,
    )
    _show(result, json_output)


@branch.command("list")
@click.argument("name")
@_forge_options
@handle_errors
def list_(name: str, forge_name: Optional[str], dist_git: Optional[str], forge_url: Optional[str],
          config_path: Optional[str], json_output: bool) -> None:
    """List the branches of package NAME, release series first."""
    config, forge = _forge(config_path, forge_name, dist_git, forge_url)
    found = forge.branches(values.check_name(name))
    rows = branches_mod.describe_branches(list(found), branches_mod.SeriesConvention.from_policy(config.policy))
    for row in rows:
        row["commit"] = found[str(row["branch"])]
    if json_output:
        _emit_json({"package": name, "forge": forge.settings.name, "branches": rows})
        return
    for row in rows:
        mark = f"series {row['series']}" if row["series"] else ""
        commit = (row["commit"] or "")[:12]
        click.echo(f"{row['branch']:30} {commit:12} {mark}".rstrip())


@branch.command()
@click.argument("name")
@click.argument("series")
@_forge_options
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the request until the branch exists.")
@click.option("--interval", type=click.FloatRange(0.05, 3600), default=30.0, show_default=True,
              help="Seconds between polls.")
@click.option("--timeout", type=click.FloatRange(0, None), default=3600.0, show_default=True,
              help="Give up after this many seconds (exit code 1).")
@handle_errors
def status(name: str, series: str, forge_name: Optional[str], dist_git: Optional[str], forge_url: Optional[str],
           config_path: Optional[str], json_output: bool, wait: bool, interval: float, timeout: float) -> None:
    """Show whether branch SERIES of NAME exists or is requested; with --wait (default), follow it until it exists."""
    config, forge = _forge(config_path, forge_name, dist_git, forge_url)
    convention = branches_mod.SeriesConvention.from_policy(config.policy)
    if not wait:
        result, _ = branches_mod.branch_status(forge, name, series, convention)
        _show(result, json_output)
        if result.state == branches_mod.MISSING:
            raise BranchNotCreated(result.message)
        return
    seen = []

    def progress(step: RequestResult) -> None:
        if not json_output and (not seen or seen[-1] != step.state):
            click.echo(step.message, err=True)
        seen.append(step.state)

    result = branches_mod.follow(forge, name, series, convention, interval, timeout, on_poll=progress)
    _show(result, json_output)


_VERDICT_MARK = {DENY: "DENY ", WARN: "warn ", ALLOW: "allow"}


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False), default="stream-build.yaml")
@click.option("--workdir", type=click.Path(file_okay=False), help="Work directory (default: .stream-build beside the manifest).")
@json_opt
@click.option("--locked", is_flag=True, help="Use the lock file as it is; refuse to resolve refs.")
@click.option("--user", metavar="NAME", help="Whose commit rights to check (default: the config's user).")
@click.option("--acl-file", type=click.Path(dir_okay=False), help="Commit rights from this file instead of the config's source.")
@config_opt
@handle_errors
def check(manifest: str, workdir: Optional[str], json_output: bool, locked: bool, user: Optional[str],
          acl_file: Optional[str], config_path: Optional[str]) -> None:
    """Check the stream set against every stream policy before anything is built (exit 3 on a denial)."""
    if user is not None:
        values.check_name(user, "--user")
    config = forgeconfig.load(config_path)
    stream = Stream(manifest, workdir, make_plugins())
    options = CheckOptions.from_config(config, stream.plugins, user, acl_file)
    with stream.workdir:
        findings = run_check(stream, options, "locked" if locked else "auto")
    if json_output:
        _emit_json({"findings": [f.to_json() for f in findings]})
    else:
        for finding in findings:
            click.echo(f"{_VERDICT_MARK.get(finding.verdict, finding.verdict)}  {finding.component:24} "
                       f"{finding.rule:22} {finding.reason}")
            if finding.hint and finding.verdict != ALLOW:
                click.echo(f"{'':32}hint: {finding.hint}")
        counts = {v: sum(f.verdict == v for f in findings) for v in (DENY, WARN, ALLOW)}
        click.echo(f"{counts[DENY]} denied, {counts[WARN]} warnings, {counts[ALLOW]} allowed")
    denied = denials(findings)
    if denied:
        rules = sorted({f.rule for f in denied})
        raise PolicyDenied(f"{len(denied)} finding(s) deny this stream set ({', '.join(rules)})")
